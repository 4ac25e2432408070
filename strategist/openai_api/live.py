"""`/v1/chat/completions` with `stream: true` in `auto` or `live` mode: chunks as the answer
is shown.

The analysis's event stream (strategist/streams/) is read and turned into OpenAI chunks:
each `delta` a content chunk, `done` the finish chunk with `x_routing` (and the usage
chunk when asked), then `data: [DONE]`. When each attempt's text is shown is the
dispatcher's decision (`release`, docs/streaming.md): as it is written, or once the
attempt succeeded (then it comes as one chunk), and a fallback that continues a cut answer
goes on in the same stream. OpenAI's stream cannot take text back, so a `restart` (text
was sent and no model could continue it) ends the stream with an in-band `{"error": ...}`
event, code `stream_cut`, and no `[DONE]`: the SDK raises it, and a cut answer is never
shown as complete. The caller may retry, or ask `x_stream_mode: "buffered"`.

Nothing is sent before the first text or the end: an analysis that fails before any text
answers with the HTTP error status of buffered mode (the SDK raises its exception).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from strategist.openai_api.format import (
    ROLE_DELTA,
    SSE_DONE,
    chunk_of,
    completion_id,
    final_chunks,
    sse,
)
from strategist.streams.events import ATTEMPT, DELTA, DONE, ERROR, KEEP_ALIVE, RESTART
from strategist.streams.session import AnalysisStream

CUT_MESSAGE = (
    "the model answering failed after part of its answer was sent, and a stream cannot take "
    "text back; retry, or send x_stream_mode \"buffered\" for a failover the caller never sees"
)


class LiveChat:
    """The chunks of one live chat completion, from its analysis's event stream."""

    def __init__(self, stream: AnalysisStream, *, prompt_chars: int, include_usage: bool,
                 model: str) -> None:  # fmt: skip
        self._stream = stream
        self._events = stream.events()
        self._prompt_chars = prompt_chars
        self._usage = include_usage
        self._common: dict[str, Any] = {
            "id": completion_id(stream.analysis_id),
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": None,
        }
        self._first: str | None = None
        self.ended_before_text = False

    def start(self) -> None:
        """Read until the first text or the end (`ended_before_text`): what decides
        between a stream and an HTTP error."""
        for event in self._events:
            if event is None:
                continue
            if event.name == ATTEMPT and event.data.get("status") == "started":
                self._common["model"] = event.data.get("model") or self._common["model"]
            elif event.name == DELTA:
                self._first = event.data["text"]
                answer = self._stream.answer  # the text came with the answer: its model
                if answer is not None and answer.routing.model:
                    self._common["model"] = answer.routing.model
                return
            elif event.name in (DONE, ERROR):
                self.ended_before_text = True
                return
        self.ended_before_text = True

    def _chunk(self, delta: dict[str, Any]) -> str:
        return sse(chunk_of(self._common, delta, include_usage=self._usage))

    def lines(self) -> Iterator[str]:
        """The rest of the stream, from the role chunk on."""
        yield self._chunk(ROLE_DELTA)
        if self._first:
            yield self._chunk({"content": self._first})
        for event in self._events:
            if event is None:
                yield KEEP_ALIVE
            elif event.name == DELTA:
                yield self._chunk({"content": event.data["text"]})
            elif event.name == RESTART:
                yield _error(CUT_MESSAGE, "stream_cut")
                return
            elif event.name == ERROR:
                error = event.data.get("error")
                message = error.get("message") if isinstance(error, dict) else None
                yield _error(str(message or event.data.get("error") or "the analysis failed"),
                             "provider_error")  # fmt: skip
                return
            elif event.name == DONE:
                answer = self._stream.answer
                assert answer is not None
                for chunk in final_chunks(answer, prompt_chars=self._prompt_chars,
                                          include_usage=self._usage):  # fmt: skip
                    yield sse(chunk)
                yield SSE_DONE
                return


def _error(message: str, code: str) -> str:
    body = {"error": {"message": message, "type": "api_error", "param": None, "code": code}}
    return f"data: {json.dumps(body, separators=(',', ':'))}\n\n"
