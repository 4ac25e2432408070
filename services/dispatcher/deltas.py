"""Publish an answer as it is written: the walk's route, each attempt's start, text and end.

Events go to the answer-deltas topic keyed by analysis id (schemas/delta.py), so one
analysis's events are read in the order they happened. A delta is queued on the producer
the moment the provider client reads its text (no wait for the broker on the hot path;
pieces read within a few milliseconds of the last delta are merged into the next one:
services/dispatcher/delta_coalescing.py);
an attempt's end waits until every event queued before it was acknowledged, so when its
completion is published, every delta of its answer is on the topic already.

The deltas of a succeeded attempt add up to its answer: a client that does not stream
(the local model) has its whole text published as one delta at the end, and a text the
client reshaped at the end (stripped) is published as a tail when the deltas so far
are its prefix. Otherwise the readers' rule applies: the final answer replaces what was
shown (the app's streams announce it with `restart`).

Delivery failures of deltas never fail the attempt: the answer on the completions topic
stays the reference, and a reader missing deltas gets the whole text at the end.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from schemas.classified import QueryClassified
from schemas.delta import AnswerDelta, DeltaPart, Release
from schemas.parts import AttemptSummary
from services.common.worker import Outgoing
from services.dispatcher.delivered import Delivered
from services.dispatcher.delta_coalescing import DeltaCoalescer

logger = logging.getLogger(__name__)

FLUSH_TIMEOUT_S = 2.0
"""The longest an attempt's end waits for its deltas' acknowledgements."""

Publish = Callable[[Outgoing], Awaitable[None]]


class DeltaPublisher:
    """Publishes one analysis's live events for a route walk."""

    def __init__(self, *, publish: Publish, topic: str, classified: QueryClassified) -> None:
        self._publish = publish
        self._topic = topic
        self._classified = classified
        self._pending: list[asyncio.Future[None]] = []

    @property
    def analysis_id(self) -> str:
        return self._classified.query.analysis_id

    def _send(self, event: AnswerDelta) -> None:
        self._pending.append(
            asyncio.ensure_future(self._publish(Outgoing(self._topic, self.analysis_id, event)))
        )

    def _event(self, part: DeltaPart, **fields: object) -> AnswerDelta:
        return AnswerDelta(
            analysis_id=self.analysis_id,
            query_id=self._classified.query.query_id,
            part=part,
            **fields,  # type: ignore[arg-type]
        )

    def routing(self) -> None:
        escalation = self._classified.query.escalation
        self._send(
            self._event(
                "routing",
                classification=self._classified.classification,
                route=list(self._classified.route),
                escalation_round=escalation.escalations if escalation else 0,
            )
        )

    def skipped(self, summary: AttemptSummary) -> None:
        self._send(
            self._event(
                "skipped",
                provider=summary.provider,
                model=summary.model,
                error_kind=summary.error_kind,
                error_message=summary.error_message,
            )
        )

    def attempt(
        self,
        *,
        attempt_id: str,
        number: int,
        provider: str,
        model: str,
        release: Release = "live",
        continued: Delivered | None = None,
    ) -> AttemptDeltas:
        """The publisher of one attempt's events; publishes its `started` at once, with
        when its text may be shown (`release`) and the shown text it continues, if any
        (its offsets then count from the start of that text)."""
        deltas = AttemptDeltas(self, attempt_id=attempt_id, number=number, provider=provider,
                               model=model, release=release, continued=continued)  # fmt: skip
        deltas.emit(
            "started",
            release=release,
            continues_attempt_id=continued.attempt_id if continued else "",
        )
        return deltas

    async def flush(self) -> None:
        """Wait (bounded) until every event queued so far was acknowledged."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        done, late = await asyncio.wait(pending, timeout=FLUSH_TIMEOUT_S)
        for future in done:
            if future.exception() is not None:
                logger.warning(
                    "analysis=%s delta not delivered: %s", self.analysis_id, future.exception()
                )
        if late:
            logger.warning("analysis=%s %d deltas unacknowledged", self.analysis_id, len(late))


class AttemptDeltas:
    """One attempt's events: `text` is the provider client's `on_text` listener."""

    def __init__(
        self,
        owner: DeltaPublisher,
        *,
        attempt_id: str,
        number: int,
        provider: str,
        model: str,
        release: Release = "live",
        continued: Delivered | None = None,
    ) -> None:
        self._owner = owner
        self._ids = {"attempt_id": attempt_id, "attempt_number": number, "provider": provider,
                     "model": model}  # fmt: skip
        self._started = time.monotonic()
        self.attempt_id = attempt_id
        self.release = release
        self.continued = continued
        self.sequence = 0
        self.shown = continued.text if continued else ""
        """The answer as published so far: the continued text, then this attempt's deltas."""
        self.first_token_ms: float | None = None
        self._coalescer = DeltaCoalescer(self._publish_text)

    def delivered(self) -> Delivered | None:
        """What a caller reading live holds after this attempt: its text when it is live and
        published text of its own, else the text it continued (None for a fresh attempt)."""
        own = len(self.shown) > (len(self.continued.text) if self.continued else 0)
        if self.release == "live" and own:
            return Delivered(self.attempt_id, self.shown)
        return self.continued

    def emit(self, part: DeltaPart, **fields: object) -> None:
        event = self._owner._event(part, sequence=self.sequence, offset=len(self.shown),
                                   **self._ids, **fields)  # fmt: skip
        self._owner._send(event)
        self.sequence += 1

    def text(self, piece: str) -> None:
        """A piece read from the provider: published at once, or merged with the pieces
        that follow within a few milliseconds (services/dispatcher/delta_coalescing.py)."""
        if self.first_token_ms is None:
            self.first_token_ms = round((time.monotonic() - self._started) * 1000.0, 1)
        self._coalescer.add(piece)

    def _publish_text(self, text: str, arrived: datetime) -> None:
        self.emit("text", text=text, occurred_at=arrived)
        self.shown += text

    async def succeeded(self, answer_text: str) -> None:
        """The tail the deltas lack (a non-streamed answer: all of it), then the end."""
        self._coalescer.flush()
        if answer_text.startswith(self.shown) and len(answer_text) > len(self.shown):
            self.text(answer_text[len(self.shown) :])
            self._coalescer.flush()
        self.emit("succeeded", first_token_ms=self.first_token_ms)
        await self._owner.flush()

    async def failed(self, summary: AttemptSummary) -> None:
        self._coalescer.flush()
        self.emit(
            "failed",
            error_kind=summary.error_kind,
            error_message=summary.error_message,
            first_token_ms=self.first_token_ms,
        )
        await self._owner.flush()
