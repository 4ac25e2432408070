"""Any OpenAI-compatible chat-completions API through the official `openai` SDK.

`complete` streams (`stream=True`, `stream_options.include_usage`) and assembles the
whole answer before returning it: the caller sees a complete `ProviderReply` or a typed
error, never a partial answer (providers/streaming.py holds the limits and the
completeness rule; `create(stream=True)` returns once the response headers are in, which
the header limit bounds). The SDK sends the request (`with_raw_response`); its events
are read as plain JSON (providers/sse.py), not as one SDK model per chunk, which cost
two thirds of the call's CPU. A malformed event in the middle is skipped by that reader
and the rest of the answer kept. `stream=False` keeps the single
non-streamed call; `probe` is always one (a models list, free at OpenAI-compatible APIs).

Declared in the catalogue as a provider of type `openai_compatible` (`base_url`,
`api_key_env`); `PerplexityProvider` is this client plus Perplexity's extras.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx2
import openai
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionMessageParam

from providers.base import CompletionRequest, ProviderReply
from providers.errors import (
    ContentBlocked,
    ContextTooLong,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    error_for_status,
    redact,
)
from providers.settings import SDK_MAX_RETRIES
from providers.sse import json_events
from providers.streaming import STREAM_END_GRACE_S, StreamProgress, read_stream
from providers.transport import HTTP_TIMEOUTS, HTTP_TRANSPORT_ERRORS, SseGuardTransport
from schemas.base import ProviderName

logger = logging.getLogger(__name__)

CLIENT_TIMEOUT_S = 30.0
"""Client-wide ceiling; each call passes its own timeout."""
CONNECT_TIMEOUT_S = 3.0
"""TCP (and TLS) connect: a host that does not accept a connection is down, not slow."""
MAX_CONNECTIONS = 512
MAX_KEEPALIVE_CONNECTIONS = 64
CONTEXT_CODES = frozenset({"context_length_exceeded", "string_above_max_length"})
CONTENT_FILTER_CODES = frozenset({"content_filter", "content_policy_violation", "invalid_prompt"})
CONTENT_FILTER_FINISH = "content_filter"
CHUNK_FIELDS = frozenset(ChatCompletionChunk.model_fields)
USAGE_FIELDS = frozenset(CompletionUsage.model_fields)
"""Fields of the OpenAI shape; anything else in a chunk is a provider's extension."""


def call_timeout(total_s: float) -> httpx2.Timeout:
    """The SDK's per-call timeout: a short connect, the rest bounded by the total."""
    return httpx2.Timeout(total_s, connect=min(CONNECT_TIMEOUT_S, total_s))


class _Assembly:
    """What the chunks carried besides the text: usage and the provider's extras."""

    def __init__(self) -> None:
        self.input_tokens = 0
        self.output_tokens = 0
        self.extra: dict[str, Any] = {}
        self.usage_extra: dict[str, Any] = {}


class OpenAICompatibleProvider:
    """`Provider` for an OpenAI-compatible API. Raises only `ProviderError` subclasses."""

    def __init__(
        self,
        *,
        name: ProviderName,
        base_url: str,
        api_key: str,
        emulated: bool,
        probe_model: str | None = None,
        stream: bool = True,
    ) -> None:
        self.name: ProviderName = name
        self.base_url = base_url
        self.emulated = emulated
        self.probe_model = probe_model
        self.stream = stream
        self._key = api_key
        self._client: openai.AsyncOpenAI | None = None

    def _sdk(self) -> openai.AsyncOpenAI:
        """The SDK client, made on first use (it opens no connection until a call)."""
        if self._client is None:
            transport = SseGuardTransport(
                check_events=False,  # json_events skips a malformed event itself
                limits=httpx2.Limits(
                    max_connections=MAX_CONNECTIONS,
                    max_keepalive_connections=MAX_KEEPALIVE_CONNECTIONS,
                )
            )
            self._client = openai.AsyncOpenAI(
                base_url=self.base_url,
                api_key=self._key,
                max_retries=SDK_MAX_RETRIES,
                timeout=CLIENT_TIMEOUT_S,
                http_client=openai.DefaultAsyncHttpxClient(transport=transport),
            )
        return self._client

    async def complete(self, request: CompletionRequest) -> ProviderReply:
        """One chat completion within the request's limits (streamed unless `stream` is off)."""
        messages: list[ChatCompletionMessageParam] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages.append({"role": "user", "content": request.prompt})
        if request.prefix:  # a prefill: the answer's shown beginning, to be continued
            messages.append({"role": "assistant", "content": request.prefix})
        if not self.stream:
            started = time.monotonic()
            response = await self._create(
                request.model, messages, request.max_output_tokens, request.timeout_s
            )
            return self._reply(
                response, request.model, time.monotonic() - started, bool(request.prefix)
            )
        return await self._complete_streamed(request, messages)

    async def probe(self, timeout_s: float) -> None:
        """The models list: free at OpenAI-compatible APIs, and through the same front end."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._sdk().models.list(timeout=call_timeout(timeout_s))
        except Exception as err:
            raise self._translate(err, timeout_s) from err

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

    async def _complete_streamed(
        self, request: CompletionRequest, messages: list[ChatCompletionMessageParam]
    ) -> ProviderReply:
        assembly = _Assembly()
        progress = StreamProgress()

        async def open_stream() -> Any:
            raw = await self._sdk().chat.completions.with_raw_response.create(
                model=request.model,
                messages=messages,
                max_tokens=request.max_output_tokens,
                stream=True,
                stream_options={"include_usage": True},
                timeout=call_timeout(request.timeout_s),
            )
            return json_events(raw.http_response)

        def take(chunk: dict[str, Any], progress: StreamProgress) -> bool:
            return self._take(chunk, progress, assembly)

        try:
            await read_stream(
                provider=self.name,
                request=request,
                open_stream=open_stream,
                take=take,
                progress=progress,
                is_transport_error=_is_transport_error,
                end_grace_s=STREAM_END_GRACE_S,
            )
        except Exception as err:
            raise self._translate(err, request.timeout_s) from err
        if progress.finish_reason == CONTENT_FILTER_FINISH:
            raise ContentBlocked(self.name, "answer withheld (finish reason content_filter)")
        if not progress.text and not request.prefix:
            raise ProviderUnavailable(
                self.name, f"empty answer (finish reason {progress.finish_reason})"
            )
        return ProviderReply(
            text=progress.text,
            model=request.model,
            input_tokens=assembly.input_tokens,
            output_tokens=assembly.output_tokens,
            finish_reason=progress.finish_reason,
            first_token_s=progress.first_token_s,
            **self._extras(assembly.extra, assembly.usage_extra),
        )

    def _take(self, chunk: dict[str, Any], progress: StreamProgress, assembly: _Assembly) -> bool:
        """Add one chunk (an event's JSON); True when it carried answer text.

        The usage counts as the end of the answer only on the usage-only chunk (no
        choices) or beside the finish reason: some APIs repeat a running usage in every
        chunk, which says nothing about completeness. Fields of the wrong type are read
        as absent, as the SDK's lenient models would.
        """
        extra = {k: v for k, v in chunk.items() if k not in CHUNK_FIELDS and v}
        if extra:
            assembly.extra.update(extra)
        carried = False
        choices = chunk.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices else None
        if isinstance(choice, dict):
            delta = choice.get("delta")
            content = delta.get("content") if isinstance(delta, dict) else None
            if isinstance(content, str) and content:
                progress.parts.append(content)
                carried = True
            finish = choice.get("finish_reason")
            if isinstance(finish, str) and finish:
                progress.finish_reason = finish
        else:
            choice = None
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            assembly.input_tokens = _count(usage.get("prompt_tokens"))
            assembly.output_tokens = _count(usage.get("completion_tokens"))
            assembly.usage_extra = {k: v for k, v in usage.items() if k not in USAGE_FIELDS}
            if choice is None or progress.finish_reason is not None:
                progress.usage_seen = True
        return carried

    async def _create(
        self,
        model: str,
        messages: list[ChatCompletionMessageParam],
        max_tokens: int,
        timeout_s: float,
    ) -> ChatCompletion:
        """One non-streamed chat completion (the health probe's and `stream=False`'s)."""
        try:
            async with asyncio.timeout(timeout_s):
                return await self._sdk().chat.completions.create(
                    model=model,
                    messages=messages,
                    max_tokens=max_tokens,
                    timeout=call_timeout(timeout_s),
                )
        except Exception as err:
            raise self._translate(err, timeout_s) from err

    def _reply(
        self, response: ChatCompletion, model: str, elapsed_s: float, allow_empty: bool = False
    ) -> ProviderReply:
        if not response.choices:
            raise ProviderUnavailable(self.name, "response without choices")
        choice = response.choices[0]
        if choice.finish_reason == CONTENT_FILTER_FINISH:
            raise ContentBlocked(self.name, "answer withheld (finish reason content_filter)")
        text = choice.message.content or ""
        if not text and not allow_empty:
            finish = choice.finish_reason
            raise ProviderUnavailable(self.name, f"empty answer (finish reason {finish})")
        usage = response.usage
        usage_extra = (usage.model_extra or {}) if usage is not None else {}
        return ProviderReply(
            text=text,
            model=model,
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            finish_reason=choice.finish_reason,
            avg_logprob=None,
            first_token_s=elapsed_s,
            **self._extras(response.model_extra or {}, usage_extra),
        )

    def _extras(self, extra: dict[str, Any], usage_extra: dict[str, Any]) -> dict[str, Any]:
        """ProviderReply fields from a provider's extensions to the OpenAI shape (none here)."""
        return {}

    def _translate(self, err: Exception, timeout_s: float) -> ProviderError:
        """Map an SDK, HTTP or asyncio failure to the error tree; the key never leaks."""
        if isinstance(err, ProviderError):
            return err
        if isinstance(err, (openai.APITimeoutError, *HTTP_TIMEOUTS)):
            return ProviderTimeout(self.name, f"no answer within {timeout_s:.1f}s")
        if isinstance(err, openai.APIStatusError):
            message = self._clean(f"HTTP {err.status_code}: {_error_message(err)}")
            code = str(err.code or "")
            if code in CONTENT_FILTER_CODES:
                return ContentBlocked(self.name, message)
            if code in CONTEXT_CODES or (
                err.status_code == 400 and "context length" in message.lower()
            ):
                return ContextTooLong(self.name, message)
            return error_for_status(
                self.name, err.status_code, message, retry_after_s(err.response.headers)
            )
        if isinstance(err, (openai.APIConnectionError, *HTTP_TRANSPORT_ERRORS)):
            cause = err.__cause__ or err
            return ProviderUnavailable(self.name, self._clean(f"connection failed: {cause!r}"))
        logger.warning("%s call failed unexpectedly: %s", self.name, type(err).__name__)
        return ProviderUnavailable(self.name, self._clean(f"{type(err).__name__}: {err}"))

    def _clean(self, message: str) -> str:
        return redact(message, secrets=(self._key,))


def _is_transport_error(err: BaseException) -> bool:
    """A dropped or broken connection (not a timeout: those are limits, handled apart)."""
    if isinstance(err, HTTP_TIMEOUTS):
        return False
    return isinstance(err, (openai.APIConnectionError, *HTTP_TRANSPORT_ERRORS))


def _error_message(err: openai.APIStatusError) -> str:
    body = err.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return inner["message"]
        if isinstance(inner, str):
            return inner
    return err.message


def retry_after_s(headers: Any) -> float | None:
    """`retry-after-ms` or `retry-after` (seconds), as the openai SDK itself reads them."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name) if headers is not None else None
        if value:
            try:
                return float(value) * scale
            except ValueError:
                continue
    return None


def _count(value: Any) -> int:
    """A token count from JSON; anything but a non-negative integer counts as 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
