"""Group commit: the events in flight at once are written in one transaction.

The worker runs one handler task per event, up to `max_in_flight` per topic. Each
task hands its rows to `GroupCommit.write` and waits; while one batch is being written,
the rows of every task that arrives meanwhile gather into the next, which is written
(one transaction, one executemany per statement) as soon as the first is done. A
handler returns only after the transaction holding its rows committed, so the worker
commits an event's offset only once its rows are in the database (at least once).

At a low rate few events are in flight at once, so each would pay a transaction of its
own; `linger_s` lets the first event of a batch wait that long for others to share it,
or until `enough_events` wait (at a high rate the workers' in-flight limit would
otherwise stall them behind the linger). The recorder writes the audit trail, not the
answer, so the wait delays no caller.

A batch that fails with a transient error fails every event in it (each is retried by
the worker's failure policy); one that fails otherwise is written again one event per
transaction, so an event whose rows the database refuses dead-letters alone, not with
the events that happened to share its batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from opentelemetry.trace import SpanContext

from services.common.failures import TransientHandlerError
from services.common.tracing import current_span_context, linked_span
from services.recorder.statements import Upsert
from services.recorder.writer import RecordWriter

logger = logging.getLogger(__name__)

MAX_BATCH_EVENTS = 500
"""Events in one transaction at most (the rest wait for the next batch)."""


@dataclass
class _Waiting:
    records: Sequence[Upsert]
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())
    span: SpanContext = field(default_factory=current_span_context)
    """The span of the event's consumption, which the batch's span links."""


class GroupCommit:
    """Writes the rows of concurrent callers in shared transactions, one batch at a time.

    Create and use it on one event loop; the writes run on a thread.
    """

    def __init__(
        self,
        *,
        writer: RecordWriter,
        max_batch: int = MAX_BATCH_EVENTS,
        linger_s: float = 0.0,
        enough_events: int = MAX_BATCH_EVENTS,
    ) -> None:
        self._writer = writer
        self._max_batch = max_batch
        self._linger_s = linger_s
        self._enough_events = min(enough_events, max_batch)
        self._enough = asyncio.Event()
        self._queue: list[_Waiting] = []
        self._flusher: asyncio.Task[None] | None = None
        self.batches = 0
        """Transactions committed (a figure for tests and the benchmark)."""

    async def write(self, records: Sequence[Upsert]) -> None:
        """Return once `records` are committed; raises what their transaction raised
        (TransientHandlerError for a database that will take them later)."""
        if not records:
            return
        waiting = _Waiting(records)
        self._queue.append(waiting)
        if len(self._queue) >= self._enough_events:
            self._enough.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="recorder-group-commit")
        await waiting.done

    async def _flush(self) -> None:
        batch: list[_Waiting] = []
        try:
            await self._linger()
            while self._queue:
                batch = self._queue[:self._max_batch]
                del self._queue[:self._max_batch]
                await self._write_batch(batch)
        except BaseException as err:  # cancelled at shutdown, or a bug: no caller waits forever
            for waiting in batch + self._queue:
                if waiting.done.done():
                    continue
                if isinstance(err, Exception):
                    waiting.done.set_exception(err)
                else:
                    waiting.done.cancel()
            self._queue.clear()
            raise

    async def _linger(self) -> None:
        """Wait up to `linger_s` for `enough_events` to gather; no wait when they have."""
        if self._linger_s <= 0 or len(self._queue) >= self._enough_events:
            return
        self._enough.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._enough.wait(), self._linger_s)

    async def _write_batch(self, batch: list[_Waiting]) -> None:
        try:
            with linked_span("recorder write", [waiting.span for waiting in batch]):
                await asyncio.to_thread(self._writer.write_records,
                                        [r for waiting in batch for r in waiting.records])
        except TransientHandlerError as err:
            for waiting in batch:
                _fail(waiting, TransientHandlerError(str(err)), err)
            return
        except Exception as err:  # one event's rows refused: find it by writing one by one
            if len(batch) == 1:
                _fail(batch[0], err, None)
                return
            logger.warning("a batch of %d events failed (%s: %s); writing them one by one",
                           len(batch), type(err).__name__, err)
            for waiting in batch:
                await self._write_batch([waiting])
            return
        self.batches += 1
        for waiting in batch:
            if not waiting.done.done():
                waiting.done.set_result(None)


def _fail(waiting: _Waiting, error: BaseException, cause: BaseException | None) -> None:
    if cause is not None:
        error.__cause__ = cause
    if not waiting.done.done():
        waiting.done.set_exception(error)
