"""The console's reads of the decision records, on the real PostgreSQL: the history's
filters and keyset pages, one analysis's records, and the figures of the operator pages.

Rows of a campaign of this test only, deleted at the end.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, insert

from services.common.database import make_engine, sqlalchemy_url, upgrade
from services.common.tables import Analysis, Feedback, RoutingDecision
from strategist.analysis.ids import new_analysis_id
from strategist.console.figures import accuracy, spend_by_model
from strategist.console.records import HistoryFilter, Records

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
ROWS = (  # (age in days, tier, provider, status, question)
    (0, "simple", "local", "completed", "thank the volunteers"),
    (1, "complex", "gemini", "completed", "turnout model for district 7"),
    (2, "live", "perplexity", "failed", "latest poll in Ohio"),
    (3, "standard", "gemini", None, "draft the 50% match email"),
    (10, "simple", "local", "completed", "thank the donors"),
)


@pytest.fixture(scope="module")
def seeded(database_url: str) -> Iterator[tuple[Records, str, list[str]]]:
    campaign = f"console-records-{uuid.uuid4().hex[:8]}"
    engine = make_engine(sqlalchemy_url(database_url), pool_size=1)
    upgrade(engine)
    ids = []
    with engine.begin() as connection:
        for age, tier, provider, status, question in ROWS:
            at = NOW - timedelta(days=age)
            analysis_id = new_analysis_id(int(at.timestamp() * 1000), keyed=True)
            ids.append(analysis_id)
            connection.execute(insert(Analysis).values(
                analysis_id=analysis_id, campaign_id=campaign, query=question,
                submitted_at=at, status=status, provider=provider if status else None,
                model="m" if status else None, cost_usd=0.01 if status else None,
                baseline_cost_usd=0.04 if status else None, completed_at=at))
            connection.execute(insert(RoutingDecision).values(_decision(analysis_id, tier, at)))
        connection.execute(insert(Feedback).values(
            event_id=f"fb-{ids[1]}", analysis_id=ids[1], rating="correct", provider="gemini",
            model="m", campaign_id=campaign, given_at=NOW))
    try:
        yield Records(database_url=database_url), campaign, ids
    finally:
        with engine.begin() as connection:
            connection.execute(delete(Feedback).where(Feedback.analysis_id.in_(ids)))
            connection.execute(delete(RoutingDecision).where(RoutingDecision.analysis_id.in_(ids)))
            connection.execute(delete(Analysis).where(Analysis.campaign_id == campaign))
        engine.dispose()


def _decision(analysis_id: str, tier: str, at: datetime) -> dict[str, Any]:
    return {"analysis_id": analysis_id, "tier": tier, "tier_probabilities": {tier: 0.9},
            "route": [], "analysis_type": "general", "complexity": 0.5,
            "needs_live_data": False, "cost_sensitive": False, "features": {}, "reasons": [],
            "event_id": analysis_id, "decided_at": at}


def _questions(records: Records, f: HistoryFilter, after: str | None = None,
               limit: int = 10) -> list[str]:
    return [r["query"] for r in records.history(f, after=after, limit=limit).rows]


def test_history_is_newest_first_and_pages_by_keyset(
    seeded: tuple[Records, str, list[str]]
) -> None:
    records, campaign, ids = seeded
    first = records.history(HistoryFilter(campaign_id=campaign), after=None, limit=2)
    assert [r["analysis_id"] for r in first.rows] == [ids[0], ids[1]]
    assert first.next_after == ids[1]
    second = records.history(HistoryFilter(campaign_id=campaign), after=first.next_after,
                             limit=2)
    assert [r["analysis_id"] for r in second.rows] == [ids[2], ids[3]]
    last = records.history(HistoryFilter(campaign_id=campaign), after=second.next_after,
                           limit=2)
    assert [r["analysis_id"] for r in last.rows] == [ids[4]] and last.next_after is None


@pytest.mark.parametrize(
    ("narrowed", "expected"),
    [
        ({"tier": "simple"}, ["thank the volunteers", "thank the donors"]),
        ({"provider": "gemini"}, ["turnout model for district 7"]),
        ({"status": "pending"}, ["draft the 50% match email"]),
        ({"status": "failed"}, ["latest poll in Ohio"]),
        ({"text": "THANK"}, ["thank the volunteers", "thank the donors"]),
        ({"text": "50%"}, ["draft the 50% match email"]),
        ({"text": "5_%"}, []),
        ({"since": NOW - timedelta(days=5), "until": NOW - timedelta(hours=12)},
         ["turnout model for district 7", "latest poll in Ohio", "draft the 50% match email"]),
    ],
)
def test_history_filters(
    seeded: tuple[Records, str, list[str]], narrowed: dict[str, Any], expected: list[str]
) -> None:
    records, campaign, _ = seeded
    assert _questions(records, HistoryFilter(campaign_id=campaign, **narrowed)) == expected


def test_another_campaign_sees_none_of_it(seeded: tuple[Records, str, list[str]]) -> None:
    records, campaign, _ = seeded
    assert _questions(records, HistoryFilter(campaign_id=campaign + "-other")) == []


def test_one_analysis_and_the_operator_figures(
    seeded: tuple[Records, str, list[str]]
) -> None:
    records, _, ids = seeded
    found = records.analysis(ids[1])
    assert found is not None
    assert found["decision"]["tier"] == "complex"
    assert [f["rating"] for f in found["feedback"]] == ["correct"]
    assert records.analysis("0" * 32) is None
    graded = [r for r in accuracy(records, NOW - timedelta(minutes=1))
              if r["model"] == "m" and r["tier"] == "complex"]
    assert graded and graded[0]["graded"] >= 1
    spent = {(r["provider"], r["model"]): r for r in spend_by_model(records, NOW - timedelta(
        days=30))}
    assert spent[("gemini", "m")]["cost_usd"] >= 0.01
