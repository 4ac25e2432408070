"""The local model behind llama-cpp-python's OpenAI-compatible server (its own process).

Inference runs in `python -m providers.local_server`, so the dispatcher only
awaits an HTTP call and never blocks its event loop on the CPU.

The default model, Gemma 3 270M, is a *base* model: its GGUF has no chat
template (llama-cpp falls back to a Llama-2 format it was never trained on) and
through /v1/chat/completions it rambles. A plain-text "Question:/Answer:"
completion with one worked example, stop sequences and a repeat penalty gives
clearly better short answers, which is the local model's job here (quick edits
such as fixing a tweet's spelling). Certainty: no logprobs (`logits_all` makes
this model ~30x slower), so `avg_logprob` is None.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import openai
from openai.types import Completion

from providers.base import CompletionRequest, ProviderReply
from providers.errors import (
    ContextTooLong,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    error_for_status,
    redact,
)
from providers.settings import SDK_MAX_RETRIES, ProviderSettings
from providers.transport import HTTP_TIMEOUTS, HTTP_TRANSPORT_ERRORS
from schemas.base import ProviderName

logger = logging.getLogger(__name__)

DEFAULT_MODEL_FILE = "gemma-3-270m-q4_k_m.gguf"
LOCAL_SERVER_KEY = "local-no-key"
"""llama-cpp's server takes no key; the SDK insists on one."""
CLIENT_TIMEOUT_S = 60.0
TEMPERATURE = 0.2
REPEAT_PENALTY = 1.3
"""llama.cpp's repetition penalty (sent as an extra body field): stops a small model looping."""
STOP_SEQUENCES = ["\nQuestion:", "\nAnswer:", "\n\n\n"]
EXAMPLE = (
    "Question: Fix the grammar: 'Their going to the rally tomorow.'\n"
    "Answer: They're going to the rally tomorrow.\n\n"
)


def base_model_prompt(question: str, system: str | None) -> str:
    """A completion prompt a base model continues well: instructions, one example, the question."""
    head = f"{system.strip()}\n\n" if system else ""
    return f"{head}{EXAMPLE}Question: {question.strip()}\nAnswer:"


class LocalProvider:
    """`Provider` for the local GGUF model. Raises only `ProviderError` subclasses.

    `model_file` names the GGUF actually served: from `LOCAL_MODEL_PATH`, else the
    default Gemma file, and updated from the server's own /v1/models on each probe.
    """

    name: ProviderName = "local"

    def __init__(self, *, settings: ProviderSettings) -> None:
        self.emulated = False
        self.base_url = settings.local_model_url.rstrip("/")
        self.model_file = (
            Path(settings.local_model_path).name
            if settings.local_model_path
            else DEFAULT_MODEL_FILE
        )
        self._client: openai.AsyncOpenAI | None = None

    def _sdk(self) -> openai.AsyncOpenAI:
        if self._client is None:
            self._client = openai.AsyncOpenAI(
                base_url=self.base_url,
                api_key=LOCAL_SERVER_KEY,
                max_retries=SDK_MAX_RETRIES,
                timeout=CLIENT_TIMEOUT_S,
            )
        return self._client

    async def complete(self, request: CompletionRequest) -> ProviderReply:
        """One text completion within `request.timeout_s`; `max_output_tokens` is kept."""
        try:
            response: Completion = await asyncio.wait_for(
                self._sdk().completions.create(
                    model=request.model,
                    prompt=base_model_prompt(request.prompt, request.system),
                    max_tokens=request.max_output_tokens,
                    temperature=TEMPERATURE,
                    stop=STOP_SEQUENCES,
                    extra_body={"repeat_penalty": REPEAT_PENALTY},
                    timeout=request.timeout_s,
                ),
                request.timeout_s,
            )
        except Exception as err:
            raise self._translate(err, request.timeout_s) from err
        if not response.choices:
            raise ProviderUnavailable(self.name, "response without choices")
        choice = response.choices[0]
        text = choice.text.strip()
        if not text:
            raise ProviderUnavailable(
                self.name, f"empty answer (finish reason {choice.finish_reason})"
            )
        usage = response.usage
        return ProviderReply(
            text=text,
            model=request.model,
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            finish_reason=choice.finish_reason,
            avg_logprob=None,
        )

    async def probe(self, timeout_s: float) -> None:
        """GET /v1/models: answers only once the model is loaded; records the served file."""
        try:
            page = await asyncio.wait_for(self._sdk().models.list(timeout=timeout_s), timeout_s)
        except Exception as err:
            raise self._translate(err, timeout_s) from err
        if page.data:
            self.model_file = Path(page.data[0].id).name

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
