"""The upsert statements: built once per kind of row and reused for every event.

Every upsert is an `INSERT ... ON CONFLICT (identity)`: `DO UPDATE` whose update
keeps, column group by column group, the values of a deterministically chosen event
(the earliest by time and event id, and for attempts a finished outcome before a
`started` one), or `DO NOTHING` for rows one event writes whole (feedback, status
changes). A statement carries no values: it is executed with each event's as
parameters, so the writer runs the same statement objects every time and SQLAlchemy
compiles each once. Building and compiling a statement per event cost the recorder
about 30 ms of CPU per query (docs/performance.md, "Recorder").
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, case, func, or_, tuple_
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.sql.elements import ColumnElement

from services.common.tables import (
    Analysis,
    ConfidenceScore,
    Feedback,
    ProviderAttemptRecord,
    ProviderStatusChange,
    RoutingDecision,
)

Columns = Any
"""`table.c` or an insert's `excluded`: both give columns by name."""
OrderKey = Callable[[Columns], Sequence[ColumnElement[Any]]]


@dataclass(frozen=True, slots=True)
class Upsert:
    """One row write: a shared, reusable `statement` and this event's `params` for it.

    `lock_order` (table, identity) is the order a batch writes its rows in, so that
    transactions touching the same rows take their locks in the same order.
    """

    statement: Insert
    params: dict[str, Any]
    lock_order: tuple[str, str]

    def as_statement(self) -> Insert:
        """The statement with the values bound in (to read or print; the writer uses params)."""
        return self.statement.values(**self.params)


def _earliest_wins(
    table: Table,
    key: str,
    columns: Sequence[str],
    order: OrderKey,
    *,
    present: str,
    merged: Mapping[str, Callable[[Columns, Columns], ColumnElement[Any]]] | None = None,
) -> Insert:
    """Upsert `columns`; on conflict, take them only where `order` ranks them before the row's.

    `present` is a column that is null while the row has no values of this group yet (a
    row created by another topic's half). `merged` columns combine both sides instead.
    The statement has no values: it is executed with each event's as parameters.
    """
    stmt = insert(table)
    new, old = stmt.excluded, table.c
    wins = or_(old[present].is_(None), tuple_(*order(new)) < tuple_(*order(old)))
    combine = dict(merged or {})
    update: dict[str, ColumnElement[Any]] = {
        name: combine[name](new, old) if name in combine else case((wins, new[name]),
                                                                    else_=old[name])
        for name in columns
        if name != key
    }
    return stmt.on_conflict_do_update(index_elements=[key], set_=update)


def _insert_once(table: Table, key: str, columns: Sequence[str]) -> Insert:
    """Insert a row identified by `key`; a copy of it changes nothing."""
    del columns  # every column comes from the one event that has the key
    return insert(table).on_conflict_do_nothing(index_elements=[key])


def _by_time(time_column: str, id_column: str) -> OrderKey:
    return lambda c: (c[time_column], c[id_column])


def _pending(c: Columns) -> ColumnElement[int]:
    """0 for a finished outcome, 1 for `started`: finished records rank first."""
    return case((c["outcome"] == "started", 1), else_=0)


StatementBuilder = Callable[[Sequence[str]], Insert]
_BUILDERS: dict[str, StatementBuilder] = {
    "query": lambda columns: _earliest_wins(
        Analysis.__table__, "analysis_id", columns,  # type: ignore[arg-type]
        _by_time("query_recorded_at", "query_event_id"), present="query_event_id",
        # Every copy of a query carries the same headers; one copied without them (a
        # tool republishing the bytes) must not erase the trace the row already has.
        merged={"trace_id": lambda new, old: func.coalesce(old["trace_id"], new["trace_id"])}),
    "classified": lambda columns: _earliest_wins(
        RoutingDecision.__table__, "analysis_id", columns,  # type: ignore[arg-type]
        _by_time("decided_at", "event_id"), present="event_id"),
    "attempt": lambda columns: _earliest_wins(
        ProviderAttemptRecord.__table__, "attempt_id", columns,  # type: ignore[arg-type]
        lambda c: (_pending(c), c["recorded_at"], c["event_id"]),
        present="event_id",
        # LEAST ignores nulls: the earliest `started` time whichever record came first.
        merged={"started_at": lambda new, old: func.least(old["started_at"], new["started_at"])},
    ),
    "response": lambda columns: _earliest_wins(
        Analysis.__table__, "analysis_id", columns,  # type: ignore[arg-type]
        _by_time("responded_at", "response_event_id"), present="response_event_id",
        # The query's campaign is the record; the response's only fills a row without one
        # (a direct-path answer), so the value does not depend on which topic came first.
        merged={"campaign_id": lambda new, old: func.coalesce(old["campaign_id"],
                                                              new["campaign_id"])},
    ),
    "confidence": lambda columns: _earliest_wins(
        ConfidenceScore.__table__, "analysis_id", columns,  # type: ignore[arg-type]
        _by_time("scored_at", "event_id"), present="event_id"),
    "feedback": lambda columns: _insert_once(
        Feedback.__table__, "event_id", columns),  # type: ignore[arg-type]
    "status": lambda columns: _insert_once(
        ProviderStatusChange.__table__, "event_id", columns),  # type: ignore[arg-type]
}
"""How each kind of row is written, given the columns an event fills."""


@functools.cache
def statement_for(kind: str, columns: tuple[str, ...]) -> Insert:
    """The statement for `kind` rows with `columns`, built on first use and then reused
    (`statement_for.cache_info().misses` counts the statements ever built)."""
    return _BUILDERS[kind](columns)


def upsert(kind: str, key: str, values: dict[str, Any]) -> Upsert:
    """Write `values` as a `kind` row identified by its `key` column."""
    statement = statement_for(kind, tuple(values))
    return Upsert(statement, values, (statement.table.name, str(values[key])))  # type: ignore[attr-defined]
