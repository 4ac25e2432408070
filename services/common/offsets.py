"""Which offsets are safe to commit when messages finish out of order.

The dispatcher keeps hundreds of provider calls in flight; message 7 may finish
before message 5. Committing 7 would lose 5 on a crash, so we only commit up to
the lowest offset still in flight: at-least-once, never at-most-once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

Partition = tuple[str, int]


@dataclass
class _PartitionState:
    in_flight: set[int] = field(default_factory=set)
    highest_done: int = -1
    committed: int = -1  # next offset to read, as Kafka stores it; -1 = nothing yet


class OffsetTracker:
    """Thread-safe bookkeeping of started and finished offsets per partition."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._partitions: dict[Partition, _PartitionState] = {}

    def begin(self, partition: Partition, offset: int) -> None:
        """Record that `offset` was handed to a handler."""
        with self._lock:
            self._partitions.setdefault(partition, _PartitionState()).in_flight.add(offset)

    def done(self, partition: Partition, offset: int) -> None:
        """Record that `offset` is fully processed (its outputs were delivered)."""
        with self._lock:
            state = self._partitions.get(partition)
            if state is None:  # partition was revoked meanwhile; its new owner redoes it
                return
            state.in_flight.discard(offset)
            state.highest_done = max(state.highest_done, offset)

    def committable(self) -> dict[Partition, int]:
        """Per partition, the next offset to commit, when it moved since the last commit."""
        result: dict[Partition, int] = {}
        with self._lock:
            for partition, state in self._partitions.items():
                if state.in_flight:
                    next_offset = min(state.in_flight)
                elif state.highest_done >= 0:
                    next_offset = state.highest_done + 1
                else:
                    continue
                if next_offset > state.committed:
                    result[partition] = next_offset
        return result

    def mark_committed(self, offsets: dict[Partition, int]) -> None:
        with self._lock:
            for partition, next_offset in offsets.items():
                state = self._partitions.get(partition)
                if state is not None:
                    state.committed = max(state.committed, next_offset)

    def forget(self, partitions: list[Partition]) -> None:
        """Drop partitions that were revoked in a rebalance."""
        with self._lock:
            for partition in partitions:
                self._partitions.pop(partition, None)

    def in_flight_count(self) -> int:
        with self._lock:
            return sum(len(s.in_flight) for s in self._partitions.values())
