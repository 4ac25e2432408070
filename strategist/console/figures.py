"""The operator pages' figures from the decision records: health history, latency, spend,
savings, tier mix, accuracy and calibration. Each returns plain JSON-ready data that the
pages' charts draw on the client.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from core.calibration_metrics import ece, reliability
from services.common.tables import (
    Analysis,
    ConfidenceScore,
    Feedback,
    ProviderAttemptRecord,
    ProviderStatusChange,
    RoutingDecision,
)
from strategist.console.records import Records, id_at, rows_of

RIGHT = "correct"


def _day(column: Any) -> Any:
    return func.date_trunc("day", column)


def status_history(records: Records, since: datetime) -> dict[str, list[dict[str, Any]]]:
    """Each provider's state changes since `since` (and the one in force at `since`)."""
    s = ProviderStatusChange
    statement = (select(s.provider, s.state, s.changed_at, s.reason)
                 .where(s.changed_at >= since).order_by(s.provider, s.changed_at))
    history: dict[str, list[dict[str, Any]]] = {}
    for row in records.run(lambda c: rows_of(c.execute(statement).all())):
        history.setdefault(row["provider"], []).append(
            {"state": row["state"], "at": row["changed_at"].isoformat(), "reason": row["reason"]}
        )
    return history


def latency_by_model(records: Records, since: datetime) -> list[dict[str, Any]]:
    """p50 / p95 of finished calls per provider and model since `since`."""
    a = ProviderAttemptRecord
    statement = (
        select(a.provider, a.model, func.count().label("calls"),
               func.percentile_cont(0.5).within_group(a.latency_ms).label("p50_ms"),
               func.percentile_cont(0.95).within_group(a.latency_ms).label("p95_ms"))
        .where(a.started_at >= since, a.outcome != "started")
        .group_by(a.provider, a.model).order_by(a.provider, a.model)
    )
    return records.run(lambda c: rows_of(c.execute(statement).all()))


def spend_by_model(records: Records, since: datetime) -> list[dict[str, Any]]:
    """Cost and the all-Pro estimate per provider and model, answers since `since`."""
    a = Analysis
    statement = (
        select(a.provider, a.model, func.count().label("answers"),
               func.coalesce(func.sum(a.cost_usd), 0.0).label("cost_usd"),
               func.coalesce(func.sum(a.baseline_cost_usd), 0.0).label("baseline_usd"))
        .where(a.analysis_id >= id_at(since), a.status.is_not(None))
        .group_by(a.provider, a.model).order_by(func.sum(a.cost_usd).desc().nulls_last())
    )
    return records.run(lambda c: rows_of(c.execute(statement).all()))


def spending_campaigns(records: Records, since: datetime, limit: int) -> dict[str, float]:
    """The campaigns with the most recorded cost since `since` (at most `limit`): cost."""
    a = Analysis
    cost = func.coalesce(func.sum(a.cost_usd), 0.0)
    statement = (select(a.campaign_id, cost).where(a.analysis_id >= id_at(since),
                                                   a.campaign_id.is_not(None))
                 .group_by(a.campaign_id).order_by(cost.desc()).limit(limit))
    return records.run(lambda c: {r[0]: r[1] for r in c.execute(statement).all()})


def savings_by_day(records: Records, since: datetime) -> list[dict[str, Any]]:
    a = Analysis
    day = _day(a.completed_at)
    statement = (
        select(day.label("day"), func.coalesce(func.sum(a.cost_usd), 0.0).label("cost_usd"),
               func.coalesce(func.sum(a.baseline_cost_usd), 0.0).label("baseline_usd"))
        .where(a.analysis_id >= id_at(since), a.completed_at.is_not(None))
        .group_by(day).order_by(day)
    )
    return [
        {"day": r["day"].date().isoformat(), "cost_usd": r["cost_usd"],
         "baseline_usd": r["baseline_usd"]}
        for r in records.run(lambda c: rows_of(c.execute(statement).all()))
    ]


def tier_mix_by_day(records: Records, since: datetime) -> list[dict[str, Any]]:
    d = RoutingDecision
    day = _day(d.decided_at)
    statement = (select(day.label("day"), d.tier, func.count().label("n"))
                 .where(d.decided_at >= since).group_by(day, d.tier).order_by(day))
    return [
        {"day": r["day"].date().isoformat(), "tier": r["tier"] or "unclassified", "n": r["n"]}
        for r in records.run(lambda c: rows_of(c.execute(statement).all()))
    ]


def accuracy(records: Records, since: datetime) -> list[dict[str, Any]]:
    """Share of graded answers rated correct, by tier and model."""
    f, d = Feedback, RoutingDecision
    statement = (
        select(d.tier, f.provider, f.model, func.count().label("graded"),
               func.count().filter(f.rating == RIGHT).label("right"))
        .select_from(f).outerjoin(d, d.analysis_id == f.analysis_id)
        .where(f.given_at >= since)
        .group_by(d.tier, f.provider, f.model).order_by(d.tier, f.provider, f.model)
    )
    rows = records.run(lambda c: rows_of(c.execute(statement).all()))
    for r in rows:
        r["accuracy"] = r["right"] / r["graded"] if r["graded"] else None
    return rows


def calibration(records: Records, since: datetime) -> dict[str, Any]:
    """Reliability diagram points (mean score, share right) and ECE over graded answers."""
    s, f = ConfidenceScore, Feedback
    statement = (select(s.score, f.rating).select_from(f)
                 .join(s, s.analysis_id == f.analysis_id).where(f.given_at >= since))
    pairs = records.run(lambda c: [(r[0], r[1]) for r in c.execute(statement).all()])
    if not pairs:
        return {"n": 0, "ece": None, "bins": []}
    scores = [p for p, _ in pairs]
    right = [rating == RIGHT for _, rating in pairs]
    bins = [
        {"mean_score": row.mean_predicted, "share_right": row.share_correct, "n": row.n}
        for row in reliability(scores, right) if row.n
    ]
    return {"n": len(pairs), "ece": ece(scores, right), "bins": bins}


def month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def hour_ago(now: datetime) -> datetime:
    return now - timedelta(hours=1)
