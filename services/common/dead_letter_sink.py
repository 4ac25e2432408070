"""Where a message the failure policy gives up on goes: the dead-letter topic, then its
query answered as failed.

The worker (worker.py) decides *that* a message is dead-lettered (failures.py); this
module does it. The letter keeps everything needed to look at the message or send it
back later (`python -m services.common.dead_letters`): its source topic, partition,
offset, key, payload, headers and the error. On a pipeline topic the query of the
message is then answered as failed (`SetAside`, see set_aside.py), so the caller is not
left waiting for an answer that will never come.

Each step is retried with backoff while Kafka or Redis are away, never dropped: the
message's offset stays in flight meanwhile, so a stop redelivers it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from confluent_kafka import Message

from schemas.dead_letter import DeadLetter, Header
from services.common.failures import retry_delay_s
from services.common.producer import EventProducer

logger = logging.getLogger(__name__)

MAX_ERROR_MESSAGE_CHARS = 2000


class SetAside(Protocol):
    """Ends the query of a dead-lettered message (see `services.common.set_aside`)."""

    async def publish(
        self, *, stage: str, where: str, key: bytes | None, value: bytes, error: BaseException
    ) -> None: ...


def _base64_or_none(value: str | bytes | None) -> str | None:
    if value is None:
        return None
    return DeadLetter.encode(value.encode() if isinstance(value, str) else value)


def letter_for(message: Message, *, service: str, topic: str, error: BaseException) -> DeadLetter:
    """The dead letter of `message` (read from `topic` by `service`), failed with `error`."""
    raw = message.value() or b""
    key = message.key()
    _kind, timestamp = message.timestamp()
    headers = message.headers()
    pairs = headers.items() if isinstance(headers, dict) else (headers or [])
    return DeadLetter(
        service=service,
        source_topic=message.topic() or topic,
        partition=message.partition() or 0,
        offset=message.offset() or 0,
        timestamp_ms=timestamp if timestamp and timestamp > 0 else None,
        key_base64=DeadLetter.encode(key) if key is not None else None,
        payload_base64=DeadLetter.encode(raw),
        payload_preview=DeadLetter.preview(raw),
        headers=[Header(name=name, value_base64=_base64_or_none(value)) for name, value in pairs],
        error_type=type(error).__name__,
        error_message=str(error)[:MAX_ERROR_MESSAGE_CHARS],
    )


class DeadLetterSink:
    """Dead-letters one service's poison messages from `topic`; see the module docstring."""

    def __init__(
        self,
        *,
        service: str,
        topic: str,
        producer: EventProducer,
        dead_letter_topic: str,
        set_aside: SetAside | None = None,
    ) -> None:
        self._service = service
        self._topic = topic
        self._producer = producer
        self._dead_letter_topic = dead_letter_topic
        self._set_aside = set_aside

    async def put(self, message: Message, error: BaseException, where: str) -> None:
        """Dead-letter, then answer the query as failed; returns once both are done."""
        letter = letter_for(message, service=self._service, topic=self._topic, error=error)
        await self._until_done(
            f"dead-letter {where}",
            lambda: self._producer.send_async(self._dead_letter_topic, message.key(), letter),
        )
        set_aside = self._set_aside
        if set_aside is not None:
            await self._until_done(
                f"answer the query of {where} as failed",
                lambda: set_aside.publish(
                    stage=self._service,
                    where=where,
                    key=message.key(),
                    value=message.value() or b"",
                    error=error,
                ),
            )

    async def _until_done(self, what: str, step: Callable[[], Awaitable[None]]) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                await step()
                return
            except Exception as err:  # Kafka or Redis away: wait, never drop the offset
                delay = retry_delay_s(attempt)
                logger.warning(
                    "%s could not %s (%s: %s); retrying in %.1fs",
                    self._service,
                    what,
                    type(err).__name__,
                    err,
                    delay,
                )
                await asyncio.sleep(delay)
