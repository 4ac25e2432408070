"""One caller's event stream of one analysis: deltas as they come, then the answer.

`AnalysisStream.events()` yields numbered `StreamEvent`s (or `None` as a keep-alive tick)
until `done` or `error`. The beginning comes from the process's `DeltaHub` when its
follower saw the whole analysis, else from the answer-deltas topic (an app process that
started after the analysis began: a reconnect to another process, or after a crash); the
rest from the hub's subscription, the answer from the responses stream (`ResponseWaiter`)
or the result store. The answer's own record is the reference: before `done`, the stream
waits briefly for the answering attempt's last deltas, up to its `succeeded` (they are on
the topic before the completion is published), and otherwise makes the text whole
(narrator.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from schemas.delta import AnswerDelta
from schemas.response import AnalysisResponded
from strategist.analysis.archive import ArchiveUnavailable, ResponseArchive
from strategist.analysis.store import StoreUnavailable
from strategist.analysis.waiter import ResponseWaiter
from strategist.streams.events import ErrorData, StreamEvent
from strategist.streams.hub import DeltaHub
from strategist.streams.narrator import Narrator

logger = logging.getLogger(__name__)

TICK_S = 1.0
"""How often a quiet stream wakes to check the result store, its deadline and keep-alive
(a delta, or the answer on the responses stream, wakes it at once)."""
KEEP_ALIVE_S = 15.0
"""A comment line this often keeps proxies and clients from timing the stream out."""
STORE_CHECK_S = 2.0
"""How often the result store is asked, besides the responses stream."""
TAIL_WAIT_S = 1.0
"""After the answer arrived, how long its last deltas may still take to arrive here."""
STREAM_DEADLINE_S = 120.0
"""A stream with no answer by then ends with `error` (`stream_timeout`); the analysis
goes on and `GET /analyses/<id>` answers later."""
READY_WAIT_S = 2.0


@dataclass(frozen=True)
class Finished:
    """What the API answers for the finished analysis (`answers.shown_answer`)."""

    status: int
    body: dict[str, Any]


class AnalysisStream:
    """The events of one analysis for one caller; `skip` = its `Last-Event-ID`."""

    def __init__(
        self,
        *,
        analysis_id: str,
        skip: int,
        hub: DeltaHub,
        waiter: ResponseWaiter,
        result: Callable[[str], AnalysisResponded | None],
        archive: ResponseArchive | None,
        deltas_topic: str,
        finished: Callable[[AnalysisResponded], Finished],
        deadline_s: float = STREAM_DEADLINE_S,
    ) -> None:
        self._id = analysis_id
        self._hub = hub
        self._waiter = waiter
        self._result = result
        self._archive = archive
        self._topic = deltas_topic
        self._finished = finished
        self._deadline = time.monotonic() + deadline_s
        self.narrator = Narrator(skip=skip)
        self.answer: AnalysisResponded | None = None
        """The analysis's answer, once the stream reached it."""

    @property
    def analysis_id(self) -> str:
        return self._id

    def events(self) -> Iterator[StreamEvent | None]:
        """Events until the last; `None` when it is time for a keep-alive comment."""
        self._hub.start()
        self._waiter.start()
        self._hub.wait_ready(READY_WAIT_S)
        subscription = self._hub.subscribe(self._id)
        try:
            with self._waiter.expect(self._id) as slot:
                slot.on_deliver.append(subscription.wake)
                for delta in self._beginning(subscription.history, subscription.covered):
                    yield from self.narrator.feed(delta)
                quiet_since, last_store_check = time.monotonic(), 0.0
                answer: AnalysisResponded | None = None
                answered_at = 0.0
                while not self.narrator.finished:
                    now = time.monotonic()
                    if answer is None:
                        answer = slot.response
                        if answer is None and now - last_store_check >= STORE_CHECK_S:
                            answer, last_store_check = self._stored(), now
                        answered_at = now
                    if answer is not None and self._whole(answer, now - answered_at):
                        yield from self._last(answer)
                        return
                    if now > self._deadline:
                        yield from self.narrator.give_up(_timeout(self._id).model_dump())
                        return
                    arrived = subscription.next(TICK_S)
                    if arrived is not None:
                        events = self.narrator.feed(arrived)
                        if events:
                            quiet_since = time.monotonic()
                        yield from events
                    elif time.monotonic() - quiet_since >= KEEP_ALIVE_S:
                        quiet_since = time.monotonic()
                        yield None
        finally:
            self._hub.unsubscribe(subscription)

    def _beginning(self, history: list[AnswerDelta], covered: bool) -> list[AnswerDelta]:
        """The deltas so far: the hub's when it saw them all, else the topic's, then the
        hub's (the narrator drops the ones read twice, by event id)."""
        if covered or self._archive is None:
            return history
        try:
            raw = self._archive.records(self._topic, self._id)
        except ArchiveUnavailable as err:
            logger.warning("analysis=%s: deltas not read from the topic: %s", self._id, err)
            return history
        read: list[AnswerDelta] = []
        for value in raw:
            try:
                read.append(AnswerDelta.from_bytes(value))
            except ValidationError as err:
                logger.warning("analysis=%s: undecodable delta skipped: %s", self._id, err)
        return read + history

    def _stored(self) -> AnalysisResponded | None:
        try:
            return self._result(self._id)
        except StoreUnavailable:
            return None

    def _whole(self, answer: AnalysisResponded, waited_s: float) -> bool:
        """True when the answering attempt was read to its end, or no more deltas are to be
        expected (the text is then made whole from the answer: narrator.py)."""
        if answer.status != "completed" or answer.routing.path == "direct":
            return True
        return self.narrator.caught_up(answer.result or "") or waited_s >= TAIL_WAIT_S

    def _last(self, answer: AnalysisResponded) -> list[StreamEvent]:
        self.answer = answer
        finished = self._finished(answer)
        completed = answer.status == "completed" and finished.status == 200
        confidence = answer.confidence.model_dump(mode="json") if answer.confidence else None
        return self.narrator.finish(
            completed=completed, result=answer.result or "", confidence=confidence,
            body=finished.body,
        )  # fmt: skip


def _timeout(analysis_id: str) -> ErrorData:
    return ErrorData(
        error={
            "code": "stream_timeout",
            "message": f"no answer within the stream's {STREAM_DEADLINE_S:.0f} s; "
            f"GET /api/v1/strategist/analyses/{analysis_id} answers when it is done",
        }
    )
