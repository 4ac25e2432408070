"""The graded outcomes per (provider, model, analysis type), from the feedback topic.

The scorer keeps these counts in Redis (`services/scorer/feedback.py`); they are
derived data. `audit accuracy` shows them as read from the topic with each Beta
posterior, and `--rebuild` replaces the Redis counts with them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import redis

from core.confidence import PRIOR_CORRECT, PRIOR_TOTAL
from schemas.feedback import FeedbackGiven
from services.common.redis_keys import RedisKeys
from services.scorer.feedback import UNKNOWN_TYPE, count_args

SCAN_COUNT = 1000


def accuracy_rows(events: Iterable[FeedbackGiven]) -> list[dict[str, Any]]:
    """One row per graded model and analysis type (copies of an event count once)."""
    seen: set[str] = set()
    counts: dict[tuple[str, str, str], dict[str, int]] = {}
    for event in events:
        if event.event_id in seen or event.provider is None or event.model is None:
            continue
        seen.add(event.event_id)
        key = (event.provider, event.model, event.analysis_type or UNKNOWN_TYPE)
        row = counts.setdefault(key, {"correct": 0, "partially_correct": 0, "incorrect": 0})
        row[event.rating] += 1
    rows = []
    for (provider, model, analysis_type), row in sorted(counts.items()):
        total = sum(row.values())
        alpha = PRIOR_CORRECT + row["correct"]
        beta = PRIOR_TOTAL - PRIOR_CORRECT + total - row["correct"]
        rows.append(
            {
                "provider": provider,
                "model": model,
                "analysis_type": analysis_type,
                **row,
                "total": total,
                "posterior": f"Beta({alpha}, {beta})",
                "mean": round(alpha / (alpha + beta), 4),
            }
        )
    return rows


def rebuild_counts(client: redis.Redis, keys: RedisKeys, events: Iterable[FeedbackGiven]) -> int:
    """Replace the scorer's counts with those of `events`; returns the events counted.

    Both this and the scorer count through the same per-key set of event ids, so an
    event the scorer counts while this runs still counts once.
    """
    stale = list(client.scan_iter(match=keys.accuracy_pattern(), count=SCAN_COUNT))
    if stale:
        client.delete(*stale)
    counted = 0
    for event in events:
        args = count_args(keys, event)
        if args is not None:
            counted += int(client.eval(*args))
    return counted
