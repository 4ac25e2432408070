"""Which offsets are safe to commit when messages finish out of order.

The dispatcher keeps hundreds of provider calls in flight; message 7 may finish
before message 5. Committing 7 would lose 5 on a crash, so we only commit up to
the lowest offset still in flight: at-least-once, never at-most-once.

Every assignment of a partition is a new *generation*. `begin` hands out the
current generation and `done` only counts for that same generation: when a
partition is revoked and handed back while old tasks still run, a stale "done"
from the old assignment must not mark an offset of the new one finished (that
could commit past work that is still running, and a crash would then lose it).
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field

Partition = tuple[str, int]


@dataclass
class _PartitionState:
    generation: int
    in_flight: set[int] = field(default_factory=set)
    highest_done: int = -1
    committed: int = -1  # next offset to read, as Kafka stores it; -1 = nothing yet


@dataclass(frozen=True)
class Ticket:
    """What `begin` returns and `done` takes back: the offset and its assignment generation."""

    partition: Partition
    offset: int
    generation: int


class OffsetTracker:
    """Thread-safe bookkeeping of started and finished offsets per partition."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._partitions: dict[Partition, _PartitionState] = {}
        self._generations = itertools.count(1)

    def begin(self, partition: Partition, offset: int) -> Ticket:
        """Record that `offset` was handed to a handler; keep the ticket for `done`."""
        with self._lock:
            state = self._partitions.get(partition)
            if state is None:  # first message since (re)assignment: a new generation
                state = _PartitionState(generation=next(self._generations))
                self._partitions[partition] = state
            state.in_flight.add(offset)
            return Ticket(partition, offset, state.generation)

    def done(self, ticket: Ticket) -> bool:
        """Record that the ticket's offset is fully processed (its outputs were delivered).

        False (and nothing changes) when the partition was revoked since `begin`: the
        partition's current owner redoes the message.
        """
        with self._lock:
            state = self._partitions.get(ticket.partition)
            if state is None or state.generation != ticket.generation:
                return False
            state.in_flight.discard(ticket.offset)
            state.highest_done = max(state.highest_done, ticket.offset)
            return True

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
        """Drop partitions that were revoked in a rebalance (their tickets go stale)."""
        with self._lock:
            for partition in partitions:
                self._partitions.pop(partition, None)

    def in_flight_count(self) -> int:
        with self._lock:
            return sum(len(s.in_flight) for s in self._partitions.values())
