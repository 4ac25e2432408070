"""The console's reads of the decision records in PostgreSQL (the recorder's tables).

History pages by keyset on the analysis id, never OFFSET: ids are UUIDv7 in hex
(`strategist/analysis/ids.py`), so their order is creation order and the primary-key
index serves `WHERE analysis_id < :last ORDER BY analysis_id DESC LIMIT n` at any depth;
a date range becomes a range of ids too. Ids issued before UUIDv7 (random v4) sort
among them by chance.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, and_, select
from sqlalchemy.exc import SQLAlchemyError

from services.common.database import make_engine, sqlalchemy_url
from services.common.tables import (
    Analysis,
    ConfidenceScore,
    Feedback,
    ProviderAttemptRecord,
    RoutingDecision,
)
from strategist.settings import StrategistSettings

EXTENSION = "strategist.console"
POOL_SIZE = 4
T = TypeVar("T")
STATUSES = ("completed", "failed", "pending")


class RecordsUnavailable(Exception):
    """PostgreSQL is not configured, unreachable, or answered with an error."""


def id_at(moment: datetime) -> str:
    """The smallest UUIDv7 hex id created at `moment` (ids sort by creation time)."""
    ms = int(moment.timestamp() * 1000)
    return f"{ms:012x}" + "0" * 20


@dataclass(frozen=True)
class HistoryFilter:
    """What a history page is narrowed to; every field optional except the campaign rule."""

    campaign_id: str | None = None
    tier: str | None = None
    provider: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None


@dataclass(frozen=True)
class HistoryPage:
    rows: list[dict[str, Any]]
    next_after: str | None


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class Records:
    """Read-only queries; the engine is made on first use in each process (after a fork)."""

    def __init__(self, *, database_url: str | None) -> None:
        self._url = sqlalchemy_url(database_url) if database_url else None
        self._engine: Engine | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    @classmethod
    def of(cls, settings: StrategistSettings) -> Records:
        url = settings.infra.database_url
        return cls(database_url=url.get_secret_value() if url else None)

    @property
    def engine(self) -> Engine:
        if self._url is None:
            raise RecordsUnavailable("no DATABASE_URL: the decision records live in PostgreSQL")
        with self._lock:
            if self._engine is None or self._pid != os.getpid():
                self._engine = make_engine(self._url, pool_size=POOL_SIZE)
                self._pid = os.getpid()
            return self._engine

    def run(self, fn: Callable[[Any], T]) -> T:
        """`fn(connection)`; raises RecordsUnavailable (the URL is never in the text)."""
        try:
            with self.engine.connect() as connection:
                return fn(connection)
        except SQLAlchemyError as err:
            raise RecordsUnavailable(type(err).__name__) from err

    # --- history ------------------------------------------------------------------------

    def history(self, f: HistoryFilter, *, after: str | None, limit: int) -> HistoryPage:
        a, d = Analysis, RoutingDecision
        conditions: list[Any] = []
        if f.campaign_id is not None:
            conditions.append(a.campaign_id == f.campaign_id)
        if f.provider:
            conditions.append(a.provider == f.provider)
        if f.status == "pending":
            conditions.append(a.status.is_(None))
        elif f.status:
            conditions.append(a.status == f.status)
        if f.since is not None:
            conditions.append(a.analysis_id >= id_at(f.since))
        if f.until is not None:
            conditions.append(a.analysis_id < id_at(f.until))
        if f.text:
            conditions.append(a.query.ilike(_like(f.text), escape="\\"))
        if f.tier:
            conditions.append(d.tier == f.tier)
        if after:
            conditions.append(a.analysis_id < after)
        columns = (a.analysis_id, a.campaign_id, a.query, a.status, a.provider, a.model,
                   a.cost_usd, a.baseline_cost_usd, a.latency_ms, a.submitted_at,
                   a.created_at, d.tier)
        statement = (
            select(*columns)
            .select_from(a)
            .outerjoin(d, d.analysis_id == a.analysis_id)
            .where(and_(True, *conditions))
            .order_by(a.analysis_id.desc())
            .limit(limit + 1)
        )
        rows = self.run(lambda c: [dict(r._mapping) for r in c.execute(statement)])
        more = len(rows) > limit
        rows = rows[:limit]
        return HistoryPage(rows, rows[-1]["analysis_id"] if more and rows else None)

    # --- one analysis -------------------------------------------------------------------

    def analysis(self, analysis_id: str) -> dict[str, Any] | None:
        """Every record of one analysis, or None when the recorder has none."""

        def read(c: Any) -> dict[str, Any] | None:
            found = c.execute(select(Analysis).where(Analysis.analysis_id == analysis_id)).first()
            decision = c.execute(
                select(RoutingDecision).where(RoutingDecision.analysis_id == analysis_id)
            ).first()
            attempts = c.execute(
                select(ProviderAttemptRecord)
                .where(ProviderAttemptRecord.analysis_id == analysis_id)
                .order_by(ProviderAttemptRecord.started_at, ProviderAttemptRecord.attempt_number)
            ).all()
            if found is None and decision is None and not attempts:
                return None
            confidence = c.execute(
                select(ConfidenceScore).where(ConfidenceScore.analysis_id == analysis_id)
            ).first()
            feedback = c.execute(
                select(Feedback).where(Feedback.analysis_id == analysis_id)
                .order_by(Feedback.given_at)
            ).all()
            return {
                "analysis": _plain(found),
                "decision": _plain(decision),
                "attempts": [_plain(r) for r in attempts],
                "confidence": _plain(confidence),
                "feedback": [_plain(r) for r in feedback],
            }

        return self.run(read)


def _plain(row: Any) -> dict[str, Any] | None:
    """A fetched row as a dict of its columns."""
    return None if row is None else dict(row._mapping)


def rows_of(result: Sequence[Any]) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in result]
