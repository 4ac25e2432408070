"""Analysis ids: unique, 32 hex digits, valid path segments, and they carry their time."""

from __future__ import annotations

import time
import uuid

from strategist.analysis.ids import ANALYSIS_ID, created_ms, new_analysis_id


def test_new_ids_are_unique_valid_and_time_ordered() -> None:
    ids = [new_analysis_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    for analysis_id in ids[:100]:
        assert ANALYSIS_ID.match(analysis_id)
        assert len(analysis_id) == 32 and int(analysis_id, 16) >= 0
        assert uuid.UUID(hex=analysis_id).version == 7
    earlier, later = new_analysis_id(now_ms=1_000), new_analysis_id(now_ms=2_000)
    assert earlier < later


def test_the_creation_time_is_read_back() -> None:
    before = time.time_ns() // 1_000_000
    analysis_id = new_analysis_id()
    after = time.time_ns() // 1_000_000
    stamp = created_ms(analysis_id)
    assert stamp is not None and before <= stamp <= after
    assert created_ms(new_analysis_id(now_ms=1_700_000_000_123)) == 1_700_000_000_123


def test_ids_without_a_time_say_so() -> None:
    assert created_ms(uuid.uuid4().hex) is None  # the ids issued before
    assert created_ms("failedone") is None
    assert created_ms("z" * 32) is None
