"""The consume -> decode -> handle -> produce -> commit loop every service runs.

One `EventWorker` per process and input topic. It keeps up to `max_in_flight`
messages in handlers at once (the dispatcher's provider calls take seconds),
produces each message's outputs and waits for the broker's acknowledgement
before marking the message done, and commits only offsets below the lowest
message still in flight. A crash therefore re-delivers, never loses; handlers
are idempotent by event id. Poison messages go to the dead-letter topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from schemas.base import EventModel
from schemas.dead_letter import DeadLetter
from services.common.failures import Action, decide
from services.common.offsets import OffsetTracker, Partition
from services.common.producer import EventProducer

logger = logging.getLogger(__name__)

POLL_TIMEOUT_S = 0.1
MAX_BATCH = 500
COMMIT_INTERVAL_S = 0.5
SHUTDOWN_GRACE_S = 20.0
MAX_DEAD_LETTER_PAYLOAD_CHARS = 100_000

E = TypeVar("E", bound=EventModel)


@dataclass(frozen=True)
class Outgoing:
    """An event a handler wants published."""

    topic: str
    key: str | None
    event: EventModel


Handler = Callable[[E], Awaitable[Sequence[Outgoing]]]


def fetch_available(consumer: Consumer, max_messages: int, timeout_s: float) -> list[Message]:
    """Wait up to `timeout_s` for the first message, then take what is already buffered.

    `Consumer.consume(n, timeout)` waits the whole timeout unless n messages arrive,
    which adds that timeout to every hop at low traffic; this returns as soon as one
    message is there.
    """
    first = consumer.poll(timeout_s)
    if first is None:
        return []
    if max_messages <= 1:
        return [first]
    return [first, *consumer.consume(max_messages - 1, 0)]


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
    ) -> None:
        self.service = service
        self.topic = topic
        self.event_type = event_type
        self._handle = handle
        self._consumer_config = dict(consumer_config)
        self._producer = producer
        self._dead_letter_topic = dead_letter_topic
        self._max_in_flight = max_in_flight
        self._tracker = OffsetTracker()
        self._tasks: set[asyncio.Task[None]] = set()
        self._slot_freed = asyncio.Event()
        # librdkafka consumer calls all happen on this one thread, in order.
        self._consumer_thread = ThreadPoolExecutor(1, thread_name_prefix=f"{service}-consumer")
        self._consumer: Consumer | None = None
        self.processed = 0

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
        partition: Partition = (message.topic(), message.partition())
        self._tracker.begin(partition, message.offset())
        task = asyncio.create_task(self._process(message, partition))
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slot_freed.set()
        if not task.cancelled() and task.exception() is not None:
            logger.error("%s task crashed", self.service, exc_info=task.exception())

    async def _process(self, message: Message, partition: Partition) -> None:
        where = f"{partition[0]}[{partition[1]}]@{message.offset()}"
        attempt = 0
        while True:
            attempt += 1
            try:
                event = self.event_type.from_bytes(message.value() or b"")
                outputs = await self._handle(event)
                await asyncio.gather(
                    *(self._producer.send_async(o.topic, o.key, o.event) for o in outputs)
                )
                break
            except Exception as err:  # the failure policy decides; the loop keeps going
                decision = decide(err, attempt)
                if decision.action is Action.RETRY:
                    logger.warning(
                        "%s retrying %s after %s: %s", self.service, where, type(err).__name__, err
                    )
                    await asyncio.sleep(decision.delay_s)
                    continue
                logger.warning("%s dead-lettering %s: %s", self.service, where, type(err).__name__)
                await self._dead_letter(message, err)
                break
        self._tracker.done(partition, message.offset())
        self.processed += 1

    async def _dead_letter(self, message: Message, error: BaseException) -> None:
        raw = message.value() or b""
        key = message.key()
        letter = DeadLetter(
            service=self.service,
            source_topic=message.topic(),
            partition=message.partition(),
            offset=message.offset(),
            key=key.decode("utf-8", "replace") if key else None,
            payload=raw.decode("utf-8", "replace")[:MAX_DEAD_LETTER_PAYLOAD_CHARS],
            error_type=type(error).__name__,
            error_message=str(error)[:2000],
        )
        await self._producer.send_async(self._dead_letter_topic, letter.key, letter)

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
        _done, pending = await asyncio.wait(set(self._tasks), timeout=SHUTDOWN_GRACE_S)
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
        logger.info("%s revoked %s", self.service, [p.partition for p in partitions])
