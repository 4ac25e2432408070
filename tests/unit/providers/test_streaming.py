"""The completeness rule and the limits of `read_stream`, with scripted streams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx2
import pytest

from providers.base import CompletionRequest
from providers.errors import ProviderTimeout, StreamStalled, StreamTruncated
from providers.streaming import StreamProgress, read_stream
from providers.transport import _well_formed

Step = tuple[str, str | None, bool] | float | Exception
"""(text, finish reason, usage) a chunk carries; a float: seconds of silence; an error."""


def _request(**limits: float) -> CompletionRequest:
    return CompletionRequest(
        prompt="q",
        model="m",
        max_output_tokens=10,
        timeout_s=limits.pop("timeout_s", 3.0),
        **limits,  # type: ignore[arg-type]
    )


async def _scripted(steps: list[Step]) -> AsyncIterator[tuple[str, str | None, bool]]:
    for step in steps:
        if isinstance(step, float):
            await asyncio.sleep(step)
        elif isinstance(step, Exception):
            raise step
        else:
            yield step


def _take(chunk: tuple[str, str | None, bool], progress: StreamProgress) -> bool:
    text, finish, usage = chunk
    if text:
        progress.parts.append(text)
    progress.finish_reason = finish or progress.finish_reason
    progress.usage_seen = progress.usage_seen or usage
    return bool(text)


def run(steps: list[Step], **limits: float) -> StreamProgress:
    async def go() -> StreamProgress:
        async def open_stream() -> AsyncIterator[tuple[str, str | None, bool]]:
            return _scripted(steps)

        return await read_stream(
            provider="gemini",
            request=_request(**limits),
            open_stream=open_stream,
            take=_take,
            progress=StreamProgress(),
            is_transport_error=lambda err: isinstance(err, httpx2.TransportError),
        )

    return asyncio.run(go())


DROP = httpx2.RemoteProtocolError("peer closed connection without sending complete message body")


def test_a_drop_after_the_finish_keeps_the_whole_answer() -> None:
    progress = run([("a", None, False), ("b", "stop", False), DROP])
    assert progress.text == "ab" and progress.complete


@pytest.mark.parametrize(
    "steps",
    [
        [("a", None, False), ("b", None, False), DROP],  # dropped mid-answer
        [("a", None, False), ("b", None, False)],  # ended cleanly, but never said it was done
    ],
)
def test_an_answer_without_its_end_is_truncated_never_a_success(steps) -> None:
    with pytest.raises(StreamTruncated):
        run(steps)


def test_a_stall_after_the_finish_reason_keeps_the_answer() -> None:
    """Finish reason in, usage never comes: the answer is complete; do not fail it."""
    progress = run([("a", "stop", False), 5.0], stall_timeout_s=0.2)
    assert progress.text == "a"


def test_a_stall_mid_answer_is_stalled_and_the_total_still_bounds_a_slow_stream() -> None:
    with pytest.raises(StreamStalled):
        run([("a", None, False), 5.0], stall_timeout_s=0.2)
    slow: list[Step] = [("a", None, False)]
    for _ in range(20):
        slow += [0.1, ("b", None, False)]
    with pytest.raises(ProviderTimeout) as caught:
        run(slow, stall_timeout_s=1.0, timeout_s=0.5)
    assert type(caught.value) is ProviderTimeout


@pytest.mark.parametrize(
    ("event", "ok"),
    [
        (b'data: {"a": 1}\n\n', True),
        (b"data: [DONE]\n\n", True),
        (b": keep-alive comment\n\n", True),
        (b'data: {"a": oops\n\n', False),
        (b'event: x\r\ndata: {"a":\r\ndata: 1}\r\n\r\n', True),  # multi-line data
    ],
)
def test_only_events_whose_data_does_not_parse_are_dropped(event: bytes, ok: bool) -> None:
    assert _well_formed(event) is ok
