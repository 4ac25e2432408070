"""Analysis ids: unique, 32 hex digits, and ordered by creation time.

New ids are UUIDv7 (RFC 9562) in hex: the first 48 bits are the creation time
in Unix milliseconds, then the version nibble 7, then 74 random bits. So an id
tells when its analysis was created, which lets a read that misses in Redis
start the responses topic at that moment (`offsets_for_times`) instead of
scanning it whole. Ids issued before this change are random UUIDv4: they carry
no time, and `created_ms` says so.

An id also says whether its analysis was created with an API key: the low
`KEYED_MARK_BITS` bits of the random part hold `KEYED_MARK` then (and are random
otherwise, so an older id looks keyed with odds of 1 in 65,536). In the keyless auth
mode (`STRATEGIST_AUTH__MODE=legacy`) a request without a key may read analyses
created without one, never those created with one, even after Redis lost what it knew
of them.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid

ANALYSIS_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
"""What an analysis id may look like at all (a path segment); anything else is a 404."""

_RANDOM_BITS = 74
_RAND_B_BITS = 62
_VERSION = 0x7
_VARIANT = 0b10
_MS_MASK = (1 << 48) - 1
KEYED_MARK_BITS = 16
KEYED_MARK = 0xC5C5
_MARK_MASK = (1 << KEYED_MARK_BITS) - 1


def new_analysis_id(now_ms: int | None = None, *, keyed: bool = False) -> str:
    """A fresh UUIDv7 as 32 lowercase hex digits; `keyed`: created with an API key."""
    ms = (time.time_ns() // 1_000_000 if now_ms is None else now_ms) & _MS_MASK
    rand = secrets.randbits(_RANDOM_BITS)
    if keyed:
        rand = (rand & ~_MARK_MASK) | KEYED_MARK
    elif rand & _MARK_MASK == KEYED_MARK:
        rand ^= 1  # an analysis made without a key never looks keyed
    rand_a = rand >> _RAND_B_BITS  # 12 bits
    rand_b = rand & ((1 << _RAND_B_BITS) - 1)
    value = (ms << 80) | (_VERSION << 76) | (rand_a << 64) | (_VARIANT << 62) | rand_b
    return f"{value:032x}"


def created_ms(analysis_id: str) -> int | None:
    """Creation time (Unix ms) of a time-ordered id; None for any other id."""
    if len(analysis_id) != 32:
        return None
    try:
        parsed = uuid.UUID(hex=analysis_id)
    except ValueError:
        return None
    if parsed.version != _VERSION or parsed.variant != uuid.RFC_4122:
        return None
    return parsed.int >> 80


def created_with_key(analysis_id: str) -> bool:
    """True when the analysis was created by a request with an API key."""
    if created_ms(analysis_id) is None:
        return False
    return int(analysis_id[-4:], 16) & _MARK_MASK == KEYED_MARK
