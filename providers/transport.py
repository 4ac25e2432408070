"""Recognise the HTTP-layer exceptions the SDKs let through, whichever httpx they use.

google-genai and openai now send through `httpx2` (a fork of httpx under its own
import name) and fall back to `httpx`; their timeouts and connection errors
are instances of one or the other, so clients check both.

Both streaming clients send through `SseGuardTransport` (httpx2), which drops a
malformed server-sent event so that the SDK reads the rest of the stream, and which says
when a response's headers have arrived (`on_response_headers`): the moment that a
connect-and-header limit ends, whenever each SDK happens to send its request. It also
keeps the provider's own service time from each response's headers
(`provider_service_time`), so a benchmark can tell the provider's time from ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

import httpx2

from providers.sse import DONE, event_data, event_end

logger = logging.getLogger(__name__)


def _classes(attr: str) -> tuple[type[BaseException], ...]:
    found: list[type[BaseException]] = []
    for module_name in ("httpx", "httpx2"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        cls = getattr(module, attr, None)
        if isinstance(cls, type) and issubclass(cls, BaseException):
            found.append(cls)
    return tuple(found)


HTTP_TIMEOUTS: tuple[type[BaseException], ...] = (TimeoutError, *_classes("TimeoutException"))
"""Connect, read, write and pool timeouts, and asyncio's own."""
HTTP_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,
    *_classes("TransportError"),
)
"""Refused, reset or broken connections and protocol errors (checked after timeouts)."""


_headers_callback: ContextVar[Callable[[], None] | None] = ContextVar(
    "headers_callback", default=None
)


@contextlib.contextmanager
def on_response_headers(callback: Callable[[], None]) -> Iterator[None]:
    """Call `callback` when a response's headers arrive for a request sent in this block.

    A context variable rather than an argument: the SDKs send the request themselves
    (openai when `create` is awaited, google-genai on the first read of its stream), in
    the caller's task and context, through `SseGuardTransport`.
    """
    token = _headers_callback.set(callback)
    try:
        yield
    finally:
        _headers_callback.reset(token)


SERVICE_TIME_HEADERS = ("x-emulator-service-ms", "openai-processing-ms")
"""Headers in which a provider states its own service time in milliseconds, preferred
first: the emulator's (emulator/timing.py), then OpenAI's, which OpenAI-compatible
providers send too."""


class ServiceTimes:
    """The service times that the providers stated for the responses of one block."""

    def __init__(self) -> None:
        self.ms: list[float] = []

    @property
    def total_ms(self) -> float | None:
        """Their sum, or None when no response stated one."""
        return round(sum(self.ms), 3) if self.ms else None


_service_times: ContextVar[ServiceTimes | None] = ContextVar("service_times", default=None)


@contextlib.contextmanager
def provider_service_time() -> Iterator[ServiceTimes]:
    """Collect the stated service time of every response to a request sent in this block.

    A context variable for the reason given at `on_response_headers`; it holds a mutable
    collector, so that the tasks the block starts (asyncio copies the context into each)
    add to the same one.
    """
    times = ServiceTimes()
    token = _service_times.set(times)
    try:
        yield times
    finally:
        _service_times.reset(token)


def record_service_ms(ms: float) -> None:
    """Add one response's stated service time to the block collecting them, if any."""
    times = _service_times.get()
    if times is not None:
        times.ms.append(ms)


def stated_service_ms(headers: Mapping[str, str]) -> float | None:
    """The provider's own service time from response headers, or None (absent or invalid)."""
    for name in SERVICE_TIME_HEADERS:
        value = headers.get(name)
        if value is None:
            continue
        try:
            ms = float(value)
        except ValueError:
            continue
        if ms >= 0.0 and ms != float("inf"):
            return ms
    return None


class SseGuardTransport(httpx2.AsyncBaseTransport):
    """Drops a malformed server-sent event from a stream so the SDK reads the rest.

    Both SDKs stop a stream at the first event whose data is not JSON (the openai SDK
    raises JSONDecodeError, google-genai UnknownApiResponseError), losing an answer that
    the provider is still sending. This transport passes every event through unchanged
    as soon as it is complete, except one whose `data:` is neither JSON nor `[DONE]`,
    which it logs at warning and skips. Responses that are not `text/event-stream` are
    untouched. One inner transport per event loop (an httpx pool belongs to one loop).
    `handle_async_request` returns as soon as the headers are in; it then calls the
    `on_response_headers` callback in force, if any, and hands the provider's stated
    service time to the `provider_service_time` block in force, if any.
    """

    def __init__(self, *, limits: httpx2.Limits | None = None, check_events: bool = True) -> None:
        self._limits = limits or httpx2.Limits()
        self._check_events = check_events
        """False for a client that reads events with `providers.sse.json_events`, which skips
        a malformed one itself: each event is then split and parsed once, not twice."""
        self._inner: dict[asyncio.AbstractEventLoop, httpx2.AsyncHTTPTransport] = {}

    def _transport(self) -> httpx2.AsyncHTTPTransport:
        loop = asyncio.get_running_loop()
        for old in [known for known in self._inner if known.is_closed()]:
            del self._inner[old]
        inner = self._inner.get(loop)
        if inner is None:
            inner = self._inner[loop] = httpx2.AsyncHTTPTransport(limits=self._limits)
        return inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._transport().handle_async_request(request)
        callback = _headers_callback.get()
        if callback is not None:
            callback()
        stated = stated_service_ms(response.headers)
        if stated is not None:
            record_service_ms(stated)
        content_type = response.headers.get("content-type", "")
        if self._check_events and "text/event-stream" in content_type:
            response.stream = _GuardedStream(response.stream, str(request.url.host))
        return response

    async def aclose(self) -> None:
        inner, self._inner = self._inner, {}
        for transport in inner.values():
            await transport.aclose()


class _GuardedStream(httpx2.AsyncByteStream):
    def __init__(self, inner: Any, host: str) -> None:
        self._inner = inner
        self._host = host

    async def __aiter__(self) -> AsyncIterator[bytes]:
        buffer = b""
        async for data in self._inner:
            buffer += data
            while True:
                end = event_end(buffer)
                if end < 0:
                    break
                event, buffer = buffer[:end], buffer[end:]
                if _well_formed(event):
                    yield event
                else:
                    logger.warning(
                        "host=%s skipped a malformed stream event (%d bytes)",
                        self._host,
                        len(event),
                    )
        if buffer:
            yield buffer

    async def aclose(self) -> None:
        await self._inner.aclose()


def _well_formed(event: bytes) -> bool:
    """True unless the event's data is present and neither JSON nor `[DONE]`."""
    payload = event_data(event)
    if payload is None:
        return True
    if payload == DONE:
        return True
    try:
        json.loads(payload)
    except ValueError:
        return False
    return True
