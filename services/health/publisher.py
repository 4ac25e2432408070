"""Where statuses go: the compacted provider-health topic and the Redis status hash.

Kafka is the contract (the dispatcher reads it); Redis holds the latest status per
provider for the app's GET /providers view. Redis writes are coalesced by one
writer task, so the hash always ends on the newest status even when statuses come
from the probe loops and the attempt consumer at once, and a slow or absent Redis
never holds up a probe or an attempt.

With several health instances, each publishes only the providers it owns
(`owns`, see ownership.py): statuses of other providers are dropped here, the
one place every status passes through. The state kept for each owned provider is also
the `strategist_provider_health` gauge (services/common/metrics.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from redis.asyncio import Redis

from schemas.health import ProviderStatus
from services.common.metrics import forget_status, record_status
from services.common.producer import DeliveryError, EventProducer

logger = logging.getLogger(__name__)

REDIS_RETRY_DELAY_S = 1.0


class StatusPublisher:
    """Sends statuses to the health topic (keyed by provider) and mirrors them into Redis."""

    def __init__(self, *, producer: EventProducer, topic: str, redis: Redis,
                 redis_key: str, owns: Callable[[str], bool] | None = None) -> None:
        self._producer = producer
        self._owns = owns or (lambda _provider: True)
        self._topic = topic
        self._redis = redis
        self._redis_key = redis_key
        self._latest: dict[str, ProviderStatus] = {}
        self._unwritten: set[str] = set()
        self._dirty = asyncio.Event()

    def owned(self, statuses: list[ProviderStatus]) -> list[ProviderStatus]:
        """The statuses of providers this instance answers for."""
        return [s for s in statuses if self._owns(s.provider)]

    def forget(self, provider: str) -> None:
        """Drop what is queued for `provider` (another instance answers for it now), so a
        late write here cannot overwrite the new owner's status in the hash."""
        self._latest.pop(provider, None)
        self._unwritten.discard(provider)
        forget_status(provider)

    def remember(self, statuses: list[ProviderStatus]) -> None:
        """Queue owned statuses for the Redis hash (newest per provider wins); never blocks."""
        statuses = self.owned(statuses)
        for status in statuses:
            current = self._latest.get(status.provider)
            if current is None or status.occurred_at >= current.occurred_at:
                self._latest[status.provider] = status
                self._unwritten.add(status.provider)
                record_status(status)
            if not status.heartbeat:
                logger.info("provider=%s state=%s reason=%s", status.provider, status.state,
                            status.reason)
        if statuses:
            self._dirty.set()

    async def publish(self, statuses: list[ProviderStatus]) -> None:
        """Send to Kafka and mirror to Redis; a delivery failure is logged, not raised
        (the next change or heartbeat publishes the state again). Statuses of providers
        this instance does not own are dropped."""
        statuses = self.owned(statuses)
        if not statuses:
            return
        sends = [self._producer.send(self._topic, s.provider, s) for s in statuses]
        self.remember(statuses)
        results = await asyncio.gather(*(asyncio.wrap_future(f) for f in sends),
                                       return_exceptions=True)
        for status, result in zip(statuses, results, strict=True):
            if isinstance(result, DeliveryError):
                logger.warning("provider=%s status not delivered: %s", status.provider, result)
            elif isinstance(result, BaseException):
                raise result

    async def run(self, stop: asyncio.Event) -> None:
        """The one Redis writer: writes whatever changed since its last write, until stop."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), timeout=REDIS_RETRY_DELAY_S)
            await self._write()
        await self._write()

    async def _write(self) -> None:
        self._dirty.clear()
        if not self._unwritten:
            return
        fields = {p: self._latest[p].model_dump_json() for p in sorted(self._unwritten)}
        self._unwritten.clear()
        try:
            await self._redis.hset(self._redis_key, mapping=fields)  # type: ignore[arg-type]
        except Exception as err:  # Redis down: keep the fields, retry on the next round
            self._unwritten.update(fields)
            logger.warning("status hash not written (%s: %s); retrying", type(err).__name__, err)
            await asyncio.sleep(REDIS_RETRY_DELAY_S)
