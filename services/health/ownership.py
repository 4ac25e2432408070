"""Which providers this health instance answers for, when several instances run.

The dispatcher keys attempt events by provider name, so librdkafka's default
partitioner (`consistent_random`: CRC32 of the key modulo the partition count,
the same CRC32 as Python's `zlib.crc32`) puts all of a provider's attempts on
one partition. In the health service's consumer group each partition has one
owner, so the instance that owns a provider's partition sees its whole attempt
stream: that instance, and only that one, probes the provider and publishes its
statuses (probe results, attempt-driven changes, heartbeats, the Redis hash).
After a rebalance the new owner starts from a fresh state and publishes on its
first probe; the old owner stops probing and publishing that provider.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from schemas.base import ProviderName
from services.common.partitions import key_partition

logger = logging.getLogger(__name__)


def attempt_partition(provider: str, partitions: int) -> int:
    """The partition librdkafka's default partitioner picks for key `provider`."""
    return key_partition(provider, partitions)


@dataclass(frozen=True)
class OwnershipChange:
    """Providers this instance took over and gave up in one rebalance."""

    gained: frozenset[ProviderName]
    lost: frozenset[ProviderName]


class ProviderOwnership:
    """The providers whose attempt partition this instance currently owns.

    Owns nothing until the first assignment. Used from the event loop only: the
    consumer thread's rebalance callback hands its partitions over with
    `call_soon_threadsafe`.
    """

    def __init__(self, providers: Iterable[ProviderName]) -> None:
        self._providers = tuple(providers)
        self._owned: frozenset[ProviderName] = frozenset()
        self._changed = asyncio.Event()

    @property
    def owned(self) -> frozenset[ProviderName]:
        return self._owned

    def owns(self, provider: str) -> bool:
        return provider in self._owned

    def assign(self, partitions: frozenset[int], partition_count: int) -> OwnershipChange:
        """Take the consumer's full set of attempt partitions after a rebalance."""
        owned = frozenset(p for p in self._providers
                          if attempt_partition(p, partition_count) in partitions)
        change = OwnershipChange(gained=owned - self._owned, lost=self._owned - owned)
        self._owned = owned
        if change.gained or change.lost:
            logger.info("partitions=%s of %d: now answering for %s (gained %s, lost %s)",
                        sorted(partitions), partition_count, sorted(owned) or "no provider",
                        sorted(change.gained) or "none", sorted(change.lost) or "none")
            self._changed.set()
            self._changed = asyncio.Event()
        return change

    async def wait_owned(self, provider: str, stop: asyncio.Event) -> None:
        """Return once `provider` is owned or `stop` is set."""
        while not self.owns(provider) and not stop.is_set():
            changed = asyncio.ensure_future(self._changed.wait())
            stopped = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({changed, stopped}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                changed.cancel()
                stopped.cancel()
