"""Gemini 2.5 Pro and Flash through the official `google-genai` SDK.

Without `GEMINI_API_KEY` the client talks to the provider emulator (same SDK,
`base_url` pointed at it). `complete` streams (`generate_content_stream`) and assembles
the whole answer before returning it, within the request's header, first-token, stall
and total limits (providers/streaming.py). Gemini sends its first chunk only after the
model has finished thinking, so a thinking model's first-token limit must cover its
thinking; the header limit (the SDK sends the request on the stream's first read, through
`SseGuardTransport`) catches a hung upstream long before that. Gemini's stream has no
final marker: the chunk with `finishReason` is the end. A malformed event is skipped by
the transport (`SseGuardTransport`). `stream=False`
keeps the single generateContent call; `probe` is models.get. Every call is bounded
twice: the SDK's own timeout (`HttpOptions.timeout`, in milliseconds) and an asyncio
deadline, the hard bound. SDK retries are off (`SDK_MAX_RETRIES`): the dispatcher fails
over instead.

Usage: Google bills thinking tokens (`thoughtsTokenCount`, reported by 2.5 Pro)
at the output price, so `ProviderReply.output_tokens` counts them with the answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import re
import time
from typing import Any

import httpx2
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from providers.base import CompletionRequest, ProviderReply
from providers.catalogue import GEMINI_FLASH
from providers.errors import (
    AuthenticationFailed,
    ContentBlocked,
    ContextTooLong,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    error_for_status,
    redact,
)
from providers.settings import SDK_MAX_RETRIES, ProviderSettings
from providers.streaming import STREAM_END_GRACE_S, StreamProgress, read_stream
from providers.transport import HTTP_TIMEOUTS, HTTP_TRANSPORT_ERRORS, SseGuardTransport
from schemas.base import ProviderName

logger = logging.getLogger(__name__)

GEMINI_API_VERSION = "v1beta"
"""Pinned rather than left to the SDK default (v1 in google-genai 1.x-3.x): v1beta is the
version Google documents every generateContent feature against. The emulator serves both."""
MAX_CONNECTIONS = 512
"""The SDK's httpx pool defaults to 100 connections; the dispatcher keeps more calls in flight."""
MAX_KEEPALIVE_CONNECTIONS = 64
BLOCKED_FINISH_REASONS = frozenset(
    {"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION", "IMAGE_SAFETY"}
)
_RETRY_DELAY = re.compile(r"^([0-9.]+)s$")


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


class GeminiProvider:
    """`Provider` for Gemini. Raises only `providers.errors.ProviderError` subclasses."""

    name: ProviderName = "gemini"

    def __init__(
        self, *, settings: ProviderSettings, probe_model: str = GEMINI_FLASH, stream: bool = True
    ) -> None:
        self.emulated = settings.gemini_emulated
        self.base_url = settings.gemini_base_url
        self.probe_model = probe_model
        self.stream = stream
        self._key = settings.gemini_key()
        self._client: genai.Client | None = None

    def _sdk(self) -> genai.Client:
        """The SDK client, made on first use (it opens no connection until a call)."""
        if self._client is None:
            self._client = genai.Client(
                vertexai=False,
                api_key=self._key,
                http_options=types.HttpOptions(
                    base_url=self.base_url,
                    api_version=GEMINI_API_VERSION,
                    retry_options=types.HttpRetryOptions(attempts=SDK_MAX_RETRIES + 1),
                    async_client_args={"transport": SseGuardTransport(limits=_pool_limits())},
                ),
            )
        return self._client

    async def complete(self, request: CompletionRequest) -> ProviderReply:
        """One answer within the request's limits (streamed unless `stream` is off)."""
        config = types.GenerateContentConfig(
            system_instruction=request.system,
            max_output_tokens=request.max_output_tokens,
            http_options=types.HttpOptions(timeout=_ms(request.timeout_s)),
        )
        if self.stream:
            return await self._complete_streamed(request, config)
        started = time.monotonic()
        try:
            async with asyncio.timeout(request.timeout_s):
                response = await self._sdk().aio.models.generate_content(
                    model=request.model, contents=_contents(request), config=config
                )
        except Exception as err:
            raise self._translate(err, request.timeout_s) from err
        reply = self._reply(response, request.model, allow_empty=bool(request.prefix))
        return dataclasses.replace(reply, first_token_s=time.monotonic() - started)

    async def _complete_streamed(
        self, request: CompletionRequest, config: types.GenerateContentConfig
    ) -> ProviderReply:
        chunks: list[types.GenerateContentResponse] = []
        progress = StreamProgress(usage_expected=False)

        async def open_stream() -> Any:
            return await self._sdk().aio.models.generate_content_stream(
                model=request.model, contents=_contents(request), config=config
            )

        def take(chunk: types.GenerateContentResponse, progress: StreamProgress) -> bool:
            chunks.append(chunk)
            candidate = chunk.candidates[0] if chunk.candidates else None
            if candidate is None:
                if chunk.prompt_feedback is not None and chunk.prompt_feedback.block_reason:
                    progress.finish_reason = _enum_name(chunk.prompt_feedback.block_reason)
                return False
            parts = candidate.content.parts if candidate.content and candidate.content.parts else []
            text = "".join(p.text for p in parts if p.text and not p.thought)
            if text:
                progress.parts.append(text)
            if candidate.finish_reason is not None:
                progress.finish_reason = _enum_name(candidate.finish_reason)
            return bool(text)

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
        reply = self._reply(
            _merged(chunks, progress.text), request.model, allow_empty=bool(request.prefix)
        )
        return dataclasses.replace(reply, first_token_s=progress.first_token_s)

    async def probe(self, timeout_s: float) -> None:
        """models.get on the probe model: free, and it goes through the same API front end."""
        config = types.GetModelConfig(http_options=types.HttpOptions(timeout=_ms(timeout_s)))
        try:
            async with asyncio.timeout(timeout_s):
                await self._sdk().aio.models.get(model=self.probe_model, config=config)
        except Exception as err:
            raise self._translate(err, timeout_s) from err

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aio.aclose()
            client.close()

    def _reply(
        self, response: types.GenerateContentResponse, model: str, *, allow_empty: bool = False
    ) -> ProviderReply:
        """The reply; `allow_empty` for a continuation whose prefix was the whole answer."""
        feedback = response.prompt_feedback
        if not response.candidates:
            reason = feedback.block_reason if feedback is not None else None
            raise ContentBlocked(self.name, f"no candidates (block reason: {reason})")
        candidate = response.candidates[0]
        finish = _enum_name(candidate.finish_reason)
        parts = candidate.content.parts if candidate.content and candidate.content.parts else []
        text = "".join(p.text for p in parts if p.text and not p.thought)
        if finish in BLOCKED_FINISH_REASONS:
            # Also when some text came first: the filter stopped it, so it is not the answer.
            raise ContentBlocked(self.name, f"answer withheld (finish reason {finish})")
        if not text and not allow_empty:
            raise ProviderUnavailable(self.name, f"empty answer (finish reason {finish})")
        usage = response.usage_metadata
        input_tokens = (usage.prompt_token_count or 0) if usage else 0
        output_tokens = (
            (usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0) if usage else 0
        )
        return ProviderReply(
            text=text,
            model=model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            finish_reason=finish,
            avg_logprob=candidate.avg_logprobs,
        )

    def _translate(self, err: Exception, timeout_s: float) -> ProviderError:
        """Map an SDK, HTTP or asyncio failure to the error tree; the key never leaks."""
        if isinstance(err, ProviderError):
            return err
        if isinstance(err, genai_errors.APIError):
            return self._from_api_error(err)
        if isinstance(err, HTTP_TIMEOUTS):
            return ProviderTimeout(self.name, f"no answer within {timeout_s:.1f}s")
        if isinstance(err, HTTP_TRANSPORT_ERRORS):
            return ProviderUnavailable(self.name, self._clean(f"{type(err).__name__}: {err}"))
        logger.warning("gemini call failed unexpectedly: %s", type(err).__name__, exc_info=True)
        return ProviderUnavailable(self.name, self._clean(f"{type(err).__name__}: {err}"))

    def _from_api_error(self, err: genai_errors.APIError) -> ProviderError:
        code = int(err.code or 0)
        message = self._clean(f"HTTP {code} {err.status or ''}: {err.message or ''}".strip())
        details = str(err.details)
        if "API_KEY_INVALID" in details or "API key not valid" in (err.message or ""):
            return AuthenticationFailed(self.name, message)
        if "exceeds the maximum number of tokens" in (err.message or ""):
            return ContextTooLong(self.name, message)
        return error_for_status(self.name, code, message, _retry_after_s(err))

    def _clean(self, message: str) -> str:
        return redact(message, secrets=(self._key,))


def _contents(request: CompletionRequest) -> str | list[types.Content]:
    """The prompt, and after it the answer's shown beginning as the model's own turn: the
    Gemini API continues a final `model` content (a prefill)."""
    if not request.prefix:
        return request.prompt
    return [
        types.Content(role="user", parts=[types.Part(text=request.prompt)]),
        types.Content(role="model", parts=[types.Part(text=request.prefix)]),
    ]


def _enum_name(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", value))


def _retry_after_s(err: genai_errors.APIError) -> float | None:
    """From the google.rpc.RetryInfo detail ("1.5s", Google's own and exact), else from a
    `Retry-After` header (whole seconds)."""
    error = err.details.get("error", err.details) if isinstance(err.details, dict) else {}
    for detail in error.get("details") or [] if isinstance(error, dict) else []:
        if isinstance(detail, dict) and "retryDelay" in detail:
            match = _RETRY_DELAY.match(str(detail["retryDelay"]))
            if match:
                return float(match.group(1))
    headers = getattr(err.response, "headers", None)
    header = headers.get("retry-after") if headers is not None else None
    if header:
        try:
            return float(header)
        except ValueError:
            pass
    return None


def _is_transport_error(err: BaseException) -> bool:
    """A dropped or broken connection (timeouts are limits, handled apart)."""
    return isinstance(err, HTTP_TRANSPORT_ERRORS) and not isinstance(err, HTTP_TIMEOUTS)


def _merged(
    chunks: list[types.GenerateContentResponse], text: str
) -> types.GenerateContentResponse:
    """One response from a stream: the whole text, the last finish reason, avgLogprobs and
    usage seen (Gemini sends the full usage with the final chunk), the prompt feedback."""
    finish = None
    avg_logprob = None
    usage = None
    feedback = None
    for chunk in chunks:
        usage = chunk.usage_metadata or usage
        feedback = chunk.prompt_feedback or feedback
        for candidate in chunk.candidates or []:
            finish = candidate.finish_reason or finish
            if candidate.avg_logprobs is not None:
                avg_logprob = candidate.avg_logprobs
    candidates = None
    if text or finish is not None:
        candidates = [
            types.Candidate(
                content=types.Content(role="model", parts=[types.Part(text=text)] if text else []),
                finish_reason=finish,
                avg_logprobs=avg_logprob,
            )
        ]
    return types.GenerateContentResponse(
        candidates=candidates, usage_metadata=usage, prompt_feedback=feedback
    )


def _pool_limits() -> httpx2.Limits:
    """Connection-pool limits (the SDK's default pool holds 100 connections)."""
    return httpx2.Limits(
        max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_KEEPALIVE_CONNECTIONS
    )
