"""The consume -> decode -> handle -> produce -> commit loop every service runs.

One `EventWorker` per process and input topic. It keeps up to `max_in_flight`
messages in handlers at once (the dispatcher's provider calls take seconds),
produces each message's outputs and waits for the broker's acknowledgement
before marking the message done, and commits only offsets below the lowest
message still in flight. A crash therefore re-delivers, never loses; handlers
are idempotent by event id. Poison messages go to the dead-letter topic.

Each output event's id is derived from its input's (input id, output topic,
position), so a redelivered step publishes the same events again, not new
ones, and downstream consumers can drop the copy by id. What happens when a
message fails is decided in `failures.py` and a dead letter is written by
`dead_letter_sink.py`; a bug in this loop itself stops the worker (the process exits
and is restarted) rather than leaving an offset in flight forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from schemas.base import EventModel
from services.common.dead_letter_sink import DeadLetterSink, SetAside
from services.common.failures import Action, decide_failure
from services.common.follower import fetch_available
from services.common.metrics import WorkerMetrics
from services.common.offsets import OffsetTracker, Ticket
from services.common.producer import EventProducer
from services.common.tracing import bind_analysis, consumed

logger = logging.getLogger(__name__)

POLL_TIMEOUT_S = 0.1
MAX_BATCH = 500
COMMIT_INTERVAL_S = 0.5
DRAIN_TIMEOUT_S = 8.0
"""On SIGTERM, finish in-flight messages for this long; the scripts and docker-compose
wait 15 s before SIGKILL, so the drain and the final commit always fit."""
OUTPUT_ID_NAMESPACE = uuid.UUID("0b5d6f4e-8c1a-4f3e-a2d7-5e9c4b1a7f20")

E = TypeVar("E", bound=EventModel)
_handling: ContextVar[Message | None] = ContextVar("handling", default=None)


def handled_message() -> Message | None:
    """The Kafka message the calling handler is handling (None outside a handler), for
    the rare handler that needs more than its event: the recorder reads the trace id from
    its headers. Each message's task has its own context, so this is never another's."""
    return _handling.get()


@dataclass(frozen=True)
class Outgoing:
    """An event a handler wants published."""

    topic: str
    key: str | None
    event: EventModel


Handler = Callable[[E], Awaitable[Sequence[Outgoing]]]


class WorkerCrashed(RuntimeError):
    """A message task failed outside the failure policy: stop, so the process restarts."""


def derived_outputs(input_event_id: str, outputs: Sequence[Outgoing]) -> list[Outgoing]:
    """The outputs with ids derived from the input's: (input id, topic, n-th on that topic)."""
    seen: dict[str, int] = {}
    stamped = []
    for out in outputs:
        index = seen.get(out.topic, 0)
        seen[out.topic] = index + 1
        event_id = uuid.uuid5(OUTPUT_ID_NAMESPACE, f"{input_event_id}/{out.topic}/{index}").hex
        stamped.append(
            Outgoing(out.topic, out.key, out.event.model_copy(update={"event_id": event_id}))
        )
    return stamped


class EventWorker(Generic[E]):
    """Runs `handle` over every event of `topic`, at least once, with bounded concurrency."""

    def __init__(
        self,
        *,
        service: str,
        topic: str,
        event_type: type[E],
        handle: Handler[E],
        consumer_config: dict[str, Any],
        producer: EventProducer,
        dead_letter_topic: str,
        max_in_flight: int,
        on_partitions_changed: Callable[[frozenset[int]], None] | None = None,
        set_aside: SetAside | None = None,
    ) -> None:
        """`on_partitions_changed` is told the full set of this instance's partitions of
        `topic` after every rebalance (on the consumer thread; keep it quick).
        `set_aside` answers the query of a dead-lettered message as failed (pipeline
        topics only)."""
        self.service = service
        self.topic = topic
        self.event_type = event_type
        self._handle = handle
        self._consumer_config = dict(consumer_config)
        self._producer = producer
        self._dead_letters = DeadLetterSink(
            service=service,
            topic=topic,
            producer=producer,
            dead_letter_topic=dead_letter_topic,
            set_aside=set_aside,
        )
        self._max_in_flight = max_in_flight
        self._tracker = OffsetTracker()
        self._tasks: set[asyncio.Task[None]] = set()
        self._slot_freed = asyncio.Event()
        # librdkafka consumer calls all happen on this one thread, in order.
        self._consumer_thread = ThreadPoolExecutor(1, thread_name_prefix=f"{service}-consumer")
        self._consumer: Consumer | None = None
        self._on_partitions_changed = on_partitions_changed
        self._assigned: set[int] = set()
        self._crash: BaseException | None = None
        self.processed = 0
        self.dead_lettered = 0
        self._metrics = WorkerMetrics(service, topic, in_flight=self._tasks.__len__)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set, then drain in-flight work and commit."""
        loop = asyncio.get_running_loop()
        self._consumer = Consumer(self._consumer_config)
        await self._on_consumer_thread(
            self._consumer.subscribe,
            [self.topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_revoke,
        )
        logger.info(
            "%s consuming topic=%s max_in_flight=%d", self.service, self.topic, self._max_in_flight
        )
        last_commit = loop.time()
        try:
            while not stop.is_set():
                if self._crash is not None:
                    raise WorkerCrashed(f"{self.service}: a message task crashed") from self._crash
                free = self._max_in_flight - len(self._tasks)
                if free <= 0:
                    self._slot_freed.clear()
                    await self._wait_for_slot()
                    continue
                messages = await self._on_consumer_thread(
                    fetch_available, self._consumer, min(free, MAX_BATCH), POLL_TIMEOUT_S
                )
                for message in messages:
                    self._start(message)
                if loop.time() - last_commit >= COMMIT_INTERVAL_S:
                    await self._commit()
                    last_commit = loop.time()
        finally:
            await self._drain()
            await self._commit()
            await self._on_consumer_thread(self._consumer.close)
            self._consumer_thread.shutdown(wait=True)
            logger.info("%s stopped after %d messages", self.service, self.processed)

    async def _wait_for_slot(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._slot_freed.wait(), timeout=POLL_TIMEOUT_S * 5)

    async def _on_consumer_thread(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._consumer_thread, lambda: fn(*args, **kwargs))

    def _start(self, message: Message) -> None:
        error = message.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                return
            if error.fatal():
                raise RuntimeError(f"fatal Kafka error: {error.str()}")
            logger.warning("%s consumer error: %s", self.service, error.str())
            return
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        assert topic is not None and partition is not None and offset is not None  # not errors
        self._metrics.consumed(message.timestamp())
        ticket = self._tracker.begin((topic, partition), offset)
        task = asyncio.create_task(consumed(self._process(message, ticket), message, self.service))
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slot_freed.set()
        if not task.cancelled() and task.exception() is not None:
            logger.error("%s task crashed; stopping", self.service, exc_info=task.exception())
            self._crash = task.exception()
            self._slot_freed.set()

    async def _process(self, message: Message, ticket: Ticket) -> None:
        where = f"{ticket.partition[0]}[{ticket.partition[1]}]@{ticket.offset}"
        attempt = 0
        started, outcome = time.monotonic(), "processed"
        _handling.set(message)
        while True:
            attempt += 1
            try:
                event = self.event_type.from_bytes(message.value() or b"")
                bind_analysis(event)
                outputs = derived_outputs(event.event_id, await self._handle(event))
                await asyncio.gather(
                    *(self._producer.send_async(o.topic, o.key, o.event) for o in outputs)
                )
                break
            except Exception as err:  # the failure policy decides; the loop keeps going
                decision = decide_failure(err, attempt)
                if decision.action is Action.RETRY:
                    logger.warning(
                        "%s retrying %s (attempt %d) in %.1fs after %s: %s",
                        self.service,
                        where,
                        attempt,
                        decision.delay_s,
                        type(err).__name__,
                        err,
                    )
                    await asyncio.sleep(decision.delay_s)
                    continue
                logger.warning(
                    "%s dead-lettering %s: %s: %s", self.service, where, type(err).__name__, err
                )
                await self._dead_letters.put(message, err, where)
                self.dead_lettered += 1
                outcome = "dead_lettered"
                break
        self._metrics.handled(outcome, time.monotonic() - started)
        if self._tracker.done(ticket):
            self.processed += 1

    async def _commit(self) -> None:
        offsets = self._tracker.committable()
        if not offsets or self._consumer is None:
            return
        partitions = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
        try:
            await self._on_consumer_thread(
                self._consumer.commit, offsets=partitions, asynchronous=False
            )
            self._tracker.mark_committed(offsets)
        except Exception as err:  # e.g. a rebalance in progress: retried next interval
            logger.warning("%s commit failed: %s", self.service, err)

    async def _drain(self) -> None:
        if not self._tasks:
            return
        logger.info("%s draining %d in-flight messages", self.service, len(self._tasks))
        started = time.monotonic()
        _done, pending = await asyncio.wait(set(self._tasks), timeout=DRAIN_TIMEOUT_S)
        for task in pending:
            task.cancel()
        logger.info(
            "%s drained in %.1fs (%d abandoned, will be redelivered)",
            self.service,
            time.monotonic() - started,
            len(pending),
        )

    # Rebalance callbacks run on the consumer thread, inside consume().
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        logger.info("%s assigned %s", self.service, [p.partition for p in partitions])
        self._assigned.update(p.partition for p in partitions if p.topic == self.topic)
        self._announce_partitions()

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        revoked = [(p.topic, p.partition) for p in partitions]
        offsets = {tp: o for tp, o in self._tracker.committable().items() if tp in revoked}
        if offsets:
            try:
                consumer.commit(
                    offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
                    asynchronous=False,
                )
            except Exception as err:
                logger.warning("%s commit on revoke failed: %s", self.service, err)
        self._tracker.forget(revoked)
        self._assigned.difference_update(p.partition for p in partitions if p.topic == self.topic)
        logger.info("%s revoked %s", self.service, [p.partition for p in partitions])
        self._announce_partitions()

    def _announce_partitions(self) -> None:
        if self._on_partitions_changed is not None:
            self._on_partitions_changed(frozenset(self._assigned))
