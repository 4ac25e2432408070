"""Recompute the all-Gemini-2.5-Pro estimate of decision records written before it was fixed.

Records written before the estimate counted Pro's thinking and answer length
(`core.economics.PRO_BASELINE`) keep a `baseline_cost_usd` that is too low, so the spend
page's saving over a period that includes them is too low too. Each record holds what the
estimate needs: the answering model (`analyses.provider` / `model`) and that call's token
counts (its `provider_attempts` row with outcome `success`). The estimate is recomputed
with today's method and written where it differs; running it again changes nothing.

Records without an answering call on record (a failed analysis, a direct-path answer, a
cache hit) keep their value and are counted as such.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

from pydantic import ValidationError
from sqlalchemy import Engine, Table, and_, bindparam, select, update
from sqlalchemy.engine import Row

from core.economics import baseline_cost_usd
from providers.catalogue import Catalogue
from schemas.parts import Answer
from services.common.tables import Analysis, ProviderAttemptRecord

logger = logging.getLogger(__name__)

BATCH = 1_000
"""Records read and written per transaction (keyset on the analysis id)."""
ANALYSES = cast(Table, Analysis.__table__)
SAME_USD = 1e-8
"""Estimates closer than this are equal (they are rounded to 8 decimals)."""


@dataclass
class BackfillReport:
    """What one run found and did."""

    checked: int = 0
    changed: int = 0
    unchanged: int = 0
    without_answering_call: int = 0
    before_usd: float = 0.0
    after_usd: float = 0.0
    """Sums over the records that have an answering call, before and after."""

    def summary(self) -> dict[str, Any]:
        return {
            "analyses checked": self.checked,
            "estimates changed": self.changed,
            "already right": self.unchanged,
            "no answering call on record (kept)": self.without_answering_call,
            "all-Pro estimate before (USD)": round(self.before_usd, 6),
            "all-Pro estimate after (USD)": round(self.after_usd, 6),
        }


def _rows(engine: Engine, after: str, limit: int, campaign: str | None) -> list[Row[Any]]:
    """Completed analyses after `after` (by id) with their answering call's tokens, if any."""
    a, t = Analysis, ProviderAttemptRecord
    answering = and_(t.analysis_id == a.analysis_id, t.provider == a.provider,
                     t.model == a.model, t.outcome == "success")  # fmt: skip
    query = (
        select(a.analysis_id, a.provider, a.model, a.baseline_cost_usd,
               t.input_tokens, t.output_tokens)  # fmt: skip
        .outerjoin(t, answering)
        .where(a.status == "completed", a.analysis_id > after,
               *([a.campaign_id == campaign] if campaign is not None else []))
        .order_by(a.analysis_id, t.finished_at.desc().nulls_last())
        .limit(limit)
    )
    with engine.connect() as connection:
        return list(connection.execute(query))


def _answers(rows: list[Row[Any]]) -> Iterator[tuple[Row[Any], Answer | None]]:
    """Each analysis once (its latest answering call), with the answer the estimate reads."""
    seen: set[str] = set()
    for row in rows:
        if row.analysis_id in seen:
            continue
        seen.add(row.analysis_id)
        if row.input_tokens is None:
            yield row, None
            continue
        try:
            answer = Answer(provider=row.provider, model=row.model, text="",
                            input_tokens=row.input_tokens, output_tokens=row.output_tokens,
                            cost_usd=0.0, latency_ms=0.0)  # fmt: skip
        except ValidationError:  # a provider this build does not know
            answer = None
        yield row, answer


def backfill_baselines(
    engine: Engine,
    catalogue: Catalogue,
    *,
    campaign: str | None = None,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> BackfillReport:
    """Recompute every completed record's estimate (of one campaign, when given); write
    the ones that differ (unless `dry_run`). Raises sqlalchemy's errors when PostgreSQL
    cannot be read."""
    report = BackfillReport()
    last = ""
    while True:
        rows = _rows(engine, last, BATCH, campaign)
        if not rows:
            return report
        # the last id may have more attempt rows past the limit: read it again next batch
        complete = [r for r in rows if r.analysis_id != rows[-1].analysis_id] or rows
        last = complete[-1].analysis_id
        changes = []
        for row, answer in _answers(complete):
            report.checked += 1
            if answer is None:
                report.without_answering_call += 1
                continue
            try:
                estimate = baseline_cost_usd(catalogue, answer)
            except KeyError:  # a model the catalogue no longer lists
                report.without_answering_call += 1
                continue
            before = row.baseline_cost_usd or 0.0
            report.before_usd += before
            report.after_usd += estimate
            if abs(estimate - before) < SAME_USD and row.baseline_cost_usd is not None:
                report.unchanged += 1
            else:
                report.changed += 1
                changes.append({"id": row.analysis_id, "estimate": estimate})
        if changes and not dry_run:
            with engine.begin() as connection:
                connection.execute(
                    update(ANALYSES)
                    .where(ANALYSES.c.analysis_id == bindparam("id"))
                    .values(baseline_cost_usd=bindparam("estimate")),
                    changes,
                )
        if progress is not None:
            progress(len(complete))
        logger.debug("baseline backfill: up to %s, %d changed", last, report.changed)

