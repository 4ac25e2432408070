"""Read a provider's stream within three limits and decide whether it ended complete.

Every streaming client (Gemini, OpenAI-compatible, Perplexity) reads through
`read_stream`, which bounds:

- the wait for the response headers (`FirstTokenTimeout`, "no response headers"): a hung
  upstream, found in seconds even for a model that may think for a minute before its first
  token (a working server sends its headers first); `SseGuardTransport` says when they came;
- the wait for the first answer token (`FirstTokenTimeout`): a silent upstream;
- the gap between two chunks once the answer has started (`StreamStalled`);
- the whole call (`ProviderTimeout`): slow but streaming is allowed up to here.

One `asyncio.timeout_at` is rescheduled after each chunk (no task per chunk). The stream
is read to its end, or only until the provider's own finish reason and usage say the
answer is complete (a stream that forgets its final marker is finished promptly). A
stream that ends, or drops, before that raises `StreamTruncated`: a partial answer is
never returned as a success. Each new piece of answer text is handed, as it is read, to
the request's `on_text` listener (the dispatcher's live deltas).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from opentelemetry import trace

from providers.base import CompletionRequest
from providers.errors import (
    FirstTokenTimeout,
    ProviderError,
    ProviderTimeout,
    StreamStalled,
    StreamTruncated,
)
from providers.transport import on_response_headers

logger = logging.getLogger(__name__)

Chunk = TypeVar("Chunk")

FIRST_TOKEN_EVENT = "gen_ai.first_token"
"""The event on the current (attempt) span when the first token arrives; a no-op when
tracing is off (services/common/tracing.py)."""
STREAM_END_GRACE_S = 0.25
"""After the finish reason (and usage), how long a client may wait for the stream's own
end. Providers end it at once. Read to its end, the response leaves its connection in
the pool for the next call (closed mid-way, the connection is dropped and the next call
pays a new TCP and TLS set-up); and the SDK's stream generators close cleanly (closed
mid-way, google-genai's are left to the garbage collector, which logs errors)."""


@dataclass
class StreamProgress:
    """What the chunks read so far have said; a client's chunk handler fills it in."""

    parts: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    usage_seen: bool = False
    usage_expected: bool = True
    """False when the provider sends no usage in its stream: the finish reason suffices."""
    first_token_s: float | None = None

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def started(self) -> bool:
        return self.first_token_s is not None

    @property
    def complete(self) -> bool:
        """The provider said the answer is whole: a finish reason, or the final usage."""
        return self.finish_reason is not None or self.usage_seen

    @property
    def nothing_more_to_read(self) -> bool:
        """Finish reason and usage both in: stop reading, whatever the final marker does."""
        return self.finish_reason is not None and (self.usage_seen or not self.usage_expected)


class _Clock:
    """The deadline in force and the error that its expiry means."""

    def __init__(self, request: CompletionRequest, provider: str) -> None:
        self.provider = provider
        self.request = request
        self.start = time.monotonic()
        loop_now = asyncio.get_running_loop().time()
        self.total_at = loop_now + request.timeout_s
        first = request.first_token_timeout_s
        self.first_at = self.total_at if first is None else min(loop_now + first, self.total_at)
        headers = request.headers_timeout_s
        self.headers_in = False
        self.headers_at = (
            self.first_at if headers is None else min(loop_now + headers, self.first_at)
        )
        self.reason = "headers" if self.headers_at < self.first_at else self._first_reason()

    def _first_reason(self) -> str:
        return "first_token" if self.first_at < self.total_at else "total"

    def after_headers(self) -> float:
        """The deadline once the headers are in: the first token's."""
        self.headers_in = True
        self.reason = self._first_reason()
        return self.first_at

    def next_deadline(self, progress: StreamProgress) -> float:
        if not progress.started:
            self.reason = self._first_reason()
            return self.first_at
        stall = self.request.stall_timeout_s
        if stall is None:
            self.reason = "total"
            return self.total_at
        stall_at = asyncio.get_running_loop().time() + stall
        self.reason = "stall" if stall_at < self.total_at else "total"
        return min(stall_at, self.total_at)

    def expired(self, progress: StreamProgress) -> ProviderError:
        name, req = self.provider, self.request
        if self.reason == "headers":
            return FirstTokenTimeout(
                name, f"no response headers within {req.headers_timeout_s or 0:.1f}s"
            )
        if self.reason == "first_token":
            return FirstTokenTimeout(
                name, f"no first token within {req.first_token_timeout_s or 0:.1f}s"
            )
        if self.reason == "stall":
            return StreamStalled(
                name,
                f"no chunk for {req.stall_timeout_s or 0:.1f}s after "
                f"{len(progress.text)} characters",
            )
        return ProviderTimeout(name, f"no complete answer within {req.timeout_s:.1f}s")


async def read_stream(
    *,
    provider: str,
    request: CompletionRequest,
    open_stream: Callable[[], Awaitable[AsyncIterator[Chunk]]],
    take: Callable[[Chunk, StreamProgress], bool],
    progress: StreamProgress,
    is_transport_error: Callable[[BaseException], bool],
    end_grace_s: float | None = None,
) -> StreamProgress:
    """Open the stream and feed each chunk to `take` until the answer is complete.

    `take` adds a chunk to `progress` and returns True when the chunk carried answer
    text. The header limit needs `open_stream` to send through `SseGuardTransport`
    (otherwise the headers are never seen to arrive and the limit fails a working call).
    Raises FirstTokenTimeout (no headers, or no first token), StreamStalled or
    ProviderTimeout when a limit passes, StreamTruncated when the stream ends or drops
    before the provider said it was complete; other errors (HTTP status, connection
    refused before the stream) propagate for the client to translate. A drop after the
    answer was complete is not an error.

    Once the finish reason and usage are in, reading stops at once, or, with
    `end_grace_s`, goes on for at most that long for the stream's own end (for an SDK
    whose stream cannot be closed cleanly mid-way; a real stream ends right away).
    """
    clock = _Clock(request, provider)
    stream: AsyncIterator[Chunk] | None = None
    received = 0
    try:
        async with asyncio.timeout_at(clock.headers_at) as deadline:

            def headers_arrived() -> None:
                if not clock.headers_in and not deadline.expired():
                    deadline.reschedule(clock.after_headers())

            with on_response_headers(headers_arrived):
                stream = await open_stream()
                async for chunk in stream:
                    received += 1
                    known = len(progress.parts)
                    if take(chunk, progress):
                        if progress.first_token_s is None:
                            progress.first_token_s = time.monotonic() - clock.start
                            trace.get_current_span().add_event(FIRST_TOKEN_EVENT)  # attempt span
                        _tell(request, progress.parts[known:])
                    if progress.nothing_more_to_read:
                        if end_grace_s is None:
                            break
                        deadline.reschedule(asyncio.get_running_loop().time() + end_grace_s)
                        continue
                    deadline.reschedule(clock.next_deadline(progress))
    except TimeoutError as err:
        if progress.complete:
            logger.info("provider=%s stream idle after its finish: answer kept", provider)
        elif deadline.expired():
            raise clock.expired(progress) from err
        else:
            raise
    except Exception as err:
        if not received or not is_transport_error(err):
            raise  # nothing streamed yet: a refused or reset connection, for the client
        if not progress.complete:
            raise StreamTruncated(
                provider,
                f"connection dropped after {len(progress.text)} characters, before the end "
                f"({type(err).__name__})",
            ) from err
        logger.info("provider=%s connection dropped after a complete answer", provider)
    finally:
        if stream is not None:
            await _close(stream)
    if not progress.complete:
        raise StreamTruncated(
            provider,
            f"stream ended after {len(progress.text)} characters without a finish reason",
        )
    return progress


def _tell(request: CompletionRequest, pieces: list[str]) -> None:
    """Hand new answer text to the request's listener; a failing listener is logged, never
    the call's failure (the answer still completes)."""
    if request.on_text is None:
        return
    for piece in pieces:
        if piece:
            try:
                request.on_text(piece)
            except Exception:  # noqa: BLE001 - a listener's bug must not fail the call
                logger.exception("answer text listener failed")


async def _close(stream: object) -> None:
    """Release the connection; a stream already broken may fail to close, harmlessly."""
    for name in ("aclose", "close"):
        closer = getattr(stream, name, None)
        if closer is not None:
            try:
                result = closer()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:  # noqa: BLE001 - closing a broken stream
                logger.debug("closing a stream failed", exc_info=True)
            return
