"""Reading a chat-completions stream as JSON events (providers/sse.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx2
import openai
import pytest

from providers.sse import json_events


class Body:
    """An httpx response body delivered in the given pieces; remembers what was read."""

    def __init__(self, *pieces: bytes) -> None:
        self.pieces = list(pieces)
        self.read = 0
        self.closed = False
        self.request = httpx2.Request("POST", "https://api.example/chat/completions")

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            self.read += 1
            yield piece

    async def aclose(self) -> None:
        self.closed = True


def _events(body: Body) -> list[dict]:
    async def read() -> list[dict]:
        return [event async for event in json_events(body)]

    return asyncio.run(read())


def test_events_split_across_pieces_are_whole_and_the_body_is_read_past_done():
    body = Body(
        b'data: {"choices": [{"delta": {"content": "Hel',
        b'lo"}}]}\n\n: a comment line\n\ndata: {"usage": {"prompt_tokens": 3}}\r\n\r\n',
        b"data: [DONE]\n\n",
        b"",  # the end of the chunked body, after [DONE]
    )
    assert _events(body) == [
        {"choices": [{"delta": {"content": "Hello"}}]},
        {"usage": {"prompt_tokens": 3}},
    ]
    assert body.read == len(body.pieces), "read to its end, so the connection is reusable"
    assert body.closed


def test_data_lines_of_one_event_are_joined():
    body = Body(b'data: {"a":\ndata: 1}\n\n')
    assert _events(body) == [{"a": 1}]


def test_a_last_event_without_its_blank_line_is_still_read():
    assert _events(Body(b'data: {"a": 1}')) == [{"a": 1}]


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (b'data: {"error": {"message": "overloaded"}}\n\n', "overloaded"),
        (b'data: {"error": "boom"}\n\n', "An error occurred during streaming"),
        (b"data: [1, 2]\n\n", "An error occurred during streaming"),
    ],
)
def test_an_error_event_raises_the_sdks_error_and_closes_the_body(event: bytes, message: str):
    body = Body(b'data: {"choices": []}\n\n', event, b'data: {"choices": []}\n\n')
    with pytest.raises(openai.APIError, match=message):
        _events(body)
    assert body.closed


def test_a_malformed_event_is_skipped_and_the_rest_of_the_answer_kept(caplog):
    body = Body(
        b'data: {"choices": [{"delta": {"content": "Hel"}}]}\n\n',
        b'data: {"candidates": oops, not JSON\n\n',
        b'data: {"choices": [{"delta": {"content": "lo"}}]}\n\ndata: [DONE]\n\n',
    )
    assert _events(body) == [
        {"choices": [{"delta": {"content": "Hel"}}]},
        {"choices": [{"delta": {"content": "lo"}}]},
    ]
    assert "skipped a malformed stream event" in caplog.text
