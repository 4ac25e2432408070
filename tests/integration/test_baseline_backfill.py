"""`audit backfill-baseline` on the real PostgreSQL: records written with the old, too-low
all-Pro estimate get today's, the right ones and those without an answering call are
kept, a dry run writes nothing, and a second run changes nothing.

Rows of a campaign of this test only, deleted at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, delete, insert, select

from core.economics import baseline_cost_usd
from providers.catalogue import GEMINI_FLASH, GEMINI_PRO, Catalogue
from schemas.parts import Answer
from services.common.database import make_engine, sqlalchemy_url, upgrade
from services.common.tables import Analysis, ProviderAttemptRecord
from strategist.analysis.ids import new_analysis_id

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
CATALOGUE = Catalogue.load(None)
OLD_FLASH_ESTIMATE = 0.0012
"""What the estimate said before it counted Pro's thinking: too low."""


def _estimate(model: str, tokens: tuple[int, int]) -> float:
    answer = Answer(provider="gemini", model=model, text="", input_tokens=tokens[0],
                    output_tokens=tokens[1], cost_usd=0.0, latency_ms=0.0)
    return baseline_cost_usd(CATALOGUE, answer)


@pytest.fixture
def seeded(database_url: str) -> Iterator[tuple[Engine, str, dict[str, str]]]:
    """Four analyses: Flash with the old estimate (after a failed Pro call), Pro already
    right, a direct-path answer with no call on record, a failed one."""
    campaign = f"backfill-{uuid.uuid4().hex[:8]}"
    engine = make_engine(sqlalchemy_url(database_url), pool_size=1)
    upgrade(engine)
    ids = {name: new_analysis_id(int(NOW.timestamp() * 1000), keyed=True)
           for name in ("flash", "pro", "direct", "failed")}
    rows = [
        (ids["flash"], "completed", GEMINI_FLASH, OLD_FLASH_ESTIMATE),
        (ids["pro"], "completed", GEMINI_PRO, _estimate(GEMINI_PRO, (900, 1500))),
        (ids["direct"], "completed", GEMINI_PRO, 0.0005),
        (ids["failed"], "failed", None, 0.0),
    ]
    with engine.begin() as connection:
        for analysis_id, status, model, baseline in rows:
            connection.execute(insert(Analysis).values(
                analysis_id=analysis_id, campaign_id=campaign, status=status,
                provider="gemini" if model else None, model=model, cost_usd=0.001,
                baseline_cost_usd=baseline, submitted_at=NOW, completed_at=NOW))
        connection.execute(insert(ProviderAttemptRecord), [
            _attempt(ids["flash"], 1, GEMINI_PRO, "error", (800, 0)),
            _attempt(ids["flash"], 2, GEMINI_FLASH, "success", (800, 400)),
            _attempt(ids["pro"], 1, GEMINI_PRO, "success", (900, 1500)),
        ])
    try:
        yield engine, campaign, ids
    finally:
        with engine.begin() as connection:
            connection.execute(delete(ProviderAttemptRecord).where(
                ProviderAttemptRecord.analysis_id.in_(ids.values())))
            connection.execute(delete(Analysis).where(Analysis.campaign_id == campaign))
        engine.dispose()


def _attempt(analysis_id: str, number: int, model: str, outcome: str,
             tokens: tuple[int, int]) -> dict[str, Any]:
    return {"attempt_id": f"{analysis_id}:{number}", "analysis_id": analysis_id,
            "provider": "gemini", "model": model, "attempt_number": number, "outcome": outcome,
            "latency_ms": 100.0, "input_tokens": tokens[0], "output_tokens": tokens[1],
            "cost_usd": 0.001, "started_at": NOW, "finished_at": NOW,
            "event_id": f"ev-{analysis_id}-{number}", "recorded_at": NOW}


def _run(database_url: str, campaign: str, *extra: str) -> dict[str, Any]:
    """`python -m audit backfill-baseline` as an operator runs it; its JSON totals."""
    env = {**os.environ, "DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-m", "audit", "backfill-baseline", "--campaign", campaign,
         "--format", "json", *extra],
        env=env, capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    totals: dict[str, Any] = json.loads(done.stdout)["totals"]
    return totals


def _baselines(engine: Engine, campaign: str) -> dict[str, float | None]:
    with engine.connect() as connection:
        rows = connection.execute(select(Analysis.analysis_id, Analysis.baseline_cost_usd)
                                  .where(Analysis.campaign_id == campaign))
        return {analysis_id: baseline for analysis_id, baseline in rows}


def test_old_estimates_are_recomputed_once_and_the_rest_kept(
    database_url: str, seeded: tuple[Engine, str, dict[str, str]]
) -> None:
    engine, campaign, ids = seeded
    before = _baselines(engine, campaign)
    dry = _run(database_url, campaign, "--dry-run")
    assert dry["estimates changed"] == 1 and _baselines(engine, campaign) == before
    first = _run(database_url, campaign)
    assert (first["analyses checked"], first["estimates changed"], first["already right"],
            first["no answering call on record (kept)"]) == (3, 1, 1, 1)
    after = _baselines(engine, campaign)
    flash = _estimate(GEMINI_FLASH, (800, 400))  # the answering call's tokens, not Pro's
    assert after[ids["flash"]] == pytest.approx(flash) and flash > 2 * OLD_FLASH_ESTIMATE
    assert {k: v for k, v in after.items() if k != ids["flash"]} == {
        k: v for k, v in before.items() if k != ids["flash"]}
    again = _run(database_url, campaign)
    assert again["estimates changed"] == 0 and _baselines(engine, campaign) == after
