"""The local model behind llama-cpp-python's OpenAI-compatible server (its own process).

Inference runs in `python -m providers.local_server`, so the dispatcher only
awaits an HTTP call and never blocks its event loop on the CPU.

The prompt follows the served model (`LOCAL_MODEL_PROMPT_FORMAT`, default `auto`:
read from the served GGUF's metadata):
- "chat" (instruct models with a chat template, such as the default
  SmolLM2-135M-Instruct): /v1/chat/completions with the system and user messages;
  the server renders the model's own template.
- "completion" (base models such as Gemma 3 270M, whose GGUF has no template: through
  /v1/chat/completions llama-cpp would fall back to a Llama-2 format it was never
  trained on, and it rambles): a plain-text "Question:/Answer:" completion with one
  worked example, stop sequences and a repeat penalty.
Certainty: every request asks for the generated tokens' log-probabilities
(`logprobs`), and `avg_logprob` is their mean. Our server
(`providers.local_logprobs`) reads them from the logits sampling already computed, so
asking costs nothing measurable, where llama-cpp's `logits_all` made the model 2-30x
slower (figures in docs/local_model.md). A server that refuses `logprobs` (a stock
llama-cpp server started without `logits_all`) is asked again without them, once per
client, and its answers carry `avg_logprob=None`; `LOCAL_MODEL_LOGPROBS=false` never
asks.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import httpx
import openai
from openai.types import Completion, CompletionUsage
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from openai.types.chat.chat_completion import ChoiceLogprobs
from openai.types.completion_choice import Logprobs

from providers.base import CompletionRequest, ProviderReply
from providers.errors import (
    BadRequest,
    ContextTooLong,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    error_for_status,
    redact,
)
from providers.local_server import SMOLLM2_FILE, PromptFormat, prompt_format_of, smollm2_path
from providers.settings import SDK_MAX_RETRIES, ProviderSettings
from providers.transport import HTTP_TIMEOUTS, HTTP_TRANSPORT_ERRORS
from schemas.base import ProviderName

logger = logging.getLogger(__name__)

DEFAULT_MODEL_FILE = SMOLLM2_FILE
LOCAL_SERVER_KEY = "local-no-key"
"""llama-cpp's server takes no key; the SDK insists on one."""
CLIENT_TIMEOUT_S = 60.0
TEMPERATURE = 0.2
REPEAT_PENALTY = 1.3
"""llama.cpp's repetition penalty for base-model completions (sent as an extra body
field): stops a small base model looping."""
CHAT_REPEAT_PENALTY = 1.1
"""Milder for instruct models: edits must copy most of the given text, which a strong
penalty discourages (measured on the dev split, docs/local_model.md)."""
FALLBACK_PROMPT_FORMAT: PromptFormat = "chat"
"""When the served GGUF cannot be read here (a server on another host): the default
model is an instruct model. Set LOCAL_MODEL_PROMPT_FORMAT=completion for a base model."""
STOP_SEQUENCES = ["\nQuestion:", "\nAnswer:", "\n\n\n"]
EXAMPLE = (
    "Question: Fix the grammar: 'Their going to the rally tomorow.'\n"
    "Answer: They're going to the rally tomorrow.\n\n"
)
NO_TOP_LOGPROBS = 0
"""Only the chosen tokens' log-probabilities are needed, not the alternatives."""
LOGPROBS_REFUSAL = "logprobs"
"""Word in the error of a server that cannot return log-probabilities (llama-cpp without
`logits_all`: "logprobs is not supported for models created with logits_all=False")."""

Reply = tuple[str, str | None, CompletionUsage | None, float | None]
"""Text, finish reason, usage, mean log-probability of the generated tokens."""


def mean_logprob(values: Sequence[float | None]) -> float | None:
    """The mean of the finite per-token log-probabilities; None when there are none."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return sum(finite) / len(finite) if finite else None


def chat_logprobs(logprobs: ChoiceLogprobs | None) -> float | None:
    """`avg_logprob` of a chat choice (`logprobs.content[i].logprob`)."""
    if logprobs is None or not logprobs.content:
        return None
    return mean_logprob([token.logprob for token in logprobs.content])


def completion_logprobs(logprobs: Logprobs | None) -> float | None:
    """`avg_logprob` of a completion choice (`logprobs.token_logprobs`)."""
    if logprobs is None or not logprobs.token_logprobs:
        return None
    return mean_logprob(logprobs.token_logprobs)


def base_model_prompt(question: str, system: str | None) -> str:
    """A completion prompt a base model continues well: instructions, one example, the question."""
    head = f"{system.strip()}\n\n" if system else ""
    return f"{head}{EXAMPLE}Question: {question.strip()}\nAnswer:"


def chat_messages(question: str, system: str | None) -> list[ChatCompletionMessageParam]:
    """System and user messages; without a system message the model's template adds its own."""
    messages: list[ChatCompletionMessageParam] = []
    if system:
        messages.append({"role": "system", "content": system.strip()})
    messages.append({"role": "user", "content": question.strip()})
    return messages


def _continued(prefix: str) -> str:
    """A base model continues raw text: the answer's shown beginning after "Answer:"."""
    return f" {prefix}" if prefix else ""


def detect_prompt_format(gguf: Path | None) -> PromptFormat:
    """The prompt format the GGUF's metadata asks for; `FALLBACK_PROMPT_FORMAT` if unreadable."""
    if gguf is None:
        return FALLBACK_PROMPT_FORMAT
    try:
        return prompt_format_of(gguf)
    except (OSError, ValueError) as err:
        logger.warning(
            "cannot read the local model's GGUF %s (%s): prompting it as a %s model; "
            "set LOCAL_MODEL_PROMPT_FORMAT to choose",
            gguf, err, FALLBACK_PROMPT_FORMAT,
        )  # fmt: skip
        return FALLBACK_PROMPT_FORMAT


def _configured_model_path(settings: ProviderSettings) -> Path | None:
    if settings.local_model_path:
        return Path(settings.local_model_path).expanduser()
    try:
        return smollm2_path(must_exist=False)
    except FileNotFoundError:
        return None


class LocalProvider:
    """`Provider` for the local GGUF model. Raises only `ProviderError` subclasses.

    `model_file` names the GGUF actually served: from `LOCAL_MODEL_PATH`, else the
    default SmolLM2 file, and updated from the server's own /v1/models on each probe
    (which also re-detects the prompt format when the served file differs).
    """

    name: ProviderName = "local"

    def __init__(
        self, *, settings: ProviderSettings, http_client: httpx.AsyncClient | None = None
    ) -> None:
        self.emulated = False
        self._http_client = http_client
        self.base_url = settings.local_model_url.rstrip("/")
        self._model_path = _configured_model_path(settings)
        self.model_file = self._model_path.name if self._model_path else DEFAULT_MODEL_FILE
        self._detect = settings.local_model_prompt_format == "auto"
        self._prompt_format: PromptFormat | None = (
            None if settings.local_model_prompt_format == "auto"
            else settings.local_model_prompt_format
        )  # fmt: skip
        self._client: openai.AsyncOpenAI | None = None
        self._logprobs = settings.local_model_logprobs

    async def prompt_format(self) -> PromptFormat:
        """The configured format, or the served GGUF's (read once, off the event loop)."""
        if self._prompt_format is not None:
            return self._prompt_format
        detected: PromptFormat = await asyncio.to_thread(detect_prompt_format, self._model_path)
        self._prompt_format = detected
        return detected

    def _sdk(self) -> openai.AsyncOpenAI:
        if self._client is None:
            self._client = openai.AsyncOpenAI(
                base_url=self.base_url,
                api_key=LOCAL_SERVER_KEY,
                max_retries=SDK_MAX_RETRIES,
                timeout=CLIENT_TIMEOUT_S,
                http_client=self._http_client,  # type: ignore[arg-type]  # legacy httpx accepted
            )
        return self._client

    async def complete(self, request: CompletionRequest) -> ProviderReply:
        """One answer within `request.timeout_s`, in the served model's prompt format;
        `max_output_tokens` is kept."""
        try:
            text, finish_reason, usage, avg_logprob = await asyncio.wait_for(
                self._ask(request), request.timeout_s
            )
        except Exception as err:
            raise self._translate(err, request.timeout_s) from err
        if not text.strip() and not request.prefix:
            raise ProviderUnavailable(self.name, f"empty answer (finish reason {finish_reason})")
        return ProviderReply(
            text=text.rstrip() if request.prefix else text.strip(),
            model=request.model,
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            finish_reason=finish_reason,
            avg_logprob=avg_logprob,
        )

    async def _ask(self, request: CompletionRequest) -> Reply:
        """One call in the served model's format; with log-probabilities unless the server
        refused them (then asked again without, and never again by this client)."""
        chat = await self.prompt_format() == "chat"
        if chat and request.prefix:
            raise BadRequest(
                self.name,
                "the chat template closes every message and opens a new assistant turn: "
                "a prefix cannot be continued (catalogue: accepts_continuation false)",
            )
        ask = self._chat if chat else self._completion
        if not self._logprobs:
            return await ask(request, logprobs=False)
        try:
            return await ask(request, logprobs=True)
        except openai.APIStatusError as err:
            if LOGPROBS_REFUSAL not in str(err.message).lower():
                raise
            self._logprobs = False
            logger.warning(
                "the local model server at %s refused logprobs (%s): answers carry no "
                "avg_logprob; serve it with `python -m providers.local_server`",
                self.base_url, redact(str(err.message)),
            )  # fmt: skip
            return await ask(request, logprobs=False)

    async def _chat(self, request: CompletionRequest, *, logprobs: bool) -> Reply:
        response: ChatCompletion = await self._sdk().chat.completions.create(
            model=request.model,
            messages=chat_messages(request.prompt, request.system),
            max_tokens=request.max_output_tokens,
            temperature=TEMPERATURE,
            extra_body={"repeat_penalty": CHAT_REPEAT_PENALTY},
            timeout=request.timeout_s,
            logprobs=True if logprobs else openai.omit,
            top_logprobs=NO_TOP_LOGPROBS if logprobs else openai.omit,
        )
        if not response.choices:
            raise ProviderUnavailable(self.name, "response without choices")
        choice = response.choices[0]
        return (
            choice.message.content or "",
            choice.finish_reason,
            response.usage,
            chat_logprobs(choice.logprobs),
        )

    async def _completion(self, request: CompletionRequest, *, logprobs: bool) -> Reply:
        response: Completion = await self._sdk().completions.create(
            model=request.model,
            prompt=base_model_prompt(request.prompt, request.system) + _continued(request.prefix),
            max_tokens=request.max_output_tokens,
            temperature=TEMPERATURE,
            stop=STOP_SEQUENCES,
            extra_body={"repeat_penalty": REPEAT_PENALTY},
            timeout=request.timeout_s,
            logprobs=NO_TOP_LOGPROBS if logprobs else openai.omit,
        )
        if not response.choices:
            raise ProviderUnavailable(self.name, "response without choices")
        choice = response.choices[0]
        return (
            choice.text,
            choice.finish_reason,
            response.usage,
            completion_logprobs(choice.logprobs),
        )

    async def probe(self, timeout_s: float) -> None:
        """GET /v1/models: answers only once the model is loaded; records the served file."""
        try:
            page = await asyncio.wait_for(self._sdk().models.list(timeout=timeout_s), timeout_s)
        except Exception as err:
            raise self._translate(err, timeout_s) from err
        if page.data:
            served = Path(page.data[0].id)
            self.model_file = served.name
            if served != self._model_path and served.is_file():
                self._model_path = served
                if self._detect:
                    self._prompt_format = None

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

    def _translate(self, err: Exception, timeout_s: float) -> ProviderError:
        if isinstance(err, ProviderError):
            return err
        if isinstance(err, (openai.APITimeoutError, *HTTP_TIMEOUTS)):
            return ProviderTimeout(self.name, f"no answer within {timeout_s:.1f}s")
        if isinstance(err, openai.APIStatusError):
            message = redact(f"HTTP {err.status_code}: {err.message}")
            if "context window" in message.lower():
                return ContextTooLong(self.name, message)
            return error_for_status(self.name, err.status_code, message)
        if isinstance(err, (openai.APIConnectionError, httpx.HTTPError, *HTTP_TRANSPORT_ERRORS)):
            return ProviderUnavailable(
                self.name, f"local model server unreachable at {self.base_url}"
            )
        logger.warning(
            "local model call failed unexpectedly: %s", type(err).__name__, exc_info=True
        )
        return ProviderUnavailable(self.name, redact(f"{type(err).__name__}: {err}"))
