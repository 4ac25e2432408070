"""The partition librdkafka's default partitioner picks for a key.

`consistent_random` (every producer here): CRC32 of the key modulo the partition count,
the same CRC32 as Python's `zlib.crc32`. A reader that wants one key's records reads only
that partition: the health service its providers' attempts, the dispatcher an analysis's
deltas after a crash (tests/integration/test_health_instances.py checks it on the broker).
"""

from __future__ import annotations

import zlib


def key_partition(key: str, partitions: int) -> int:
    """The partition of `key` in a topic of `partitions` partitions."""
    if partitions < 1:
        raise ValueError(f"a topic has at least one partition, not {partitions}")
    return zlib.crc32(key.encode("utf-8")) % partitions
