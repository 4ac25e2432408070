"""Runs upserts in one transaction, on a thread (the engine is synchronous).

`write_records` runs a batch of `Upsert`s (several events' rows) with one executemany
per statement, in a fixed row order, in one transaction; `write` runs statements with
their values bound in (one event's, as the tests and tools build them).

Database errors that pass by themselves (the server restarting, a dropped connection, a
table missing while `audit rebuild` re-creates it) become `TransientHandlerError`, which
the worker's failure policy retries with backoff; any other error is a bug in a
statement and dead-letters the event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from psycopg import errors as pg_errors
from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import Insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from services.common.failures import TransientHandlerError
from services.recorder.statements import Upsert

TRANSIENT_SQLSTATE_ERRORS = (pg_errors.UndefinedTable, pg_errors.SerializationFailure,
                             pg_errors.DeadlockDetected, pg_errors.AdminShutdown)


def is_transient_db_error(error: DBAPIError) -> bool:
    """The database will take the same statement once it is back (or the rebuild is done)."""
    return (
        isinstance(error, OperationalError | InterfaceError)
        or error.connection_invalidated
        or isinstance(error.orig, TRANSIENT_SQLSTATE_ERRORS)
    )


@contextmanager
def _transient_errors_marked() -> Iterator[None]:
    try:
        yield
    except DBAPIError as err:
        if is_transient_db_error(err):
            raise TransientHandlerError(f"database: {err.orig or err}") from err
        raise


def in_lock_order(records: Sequence[Upsert]) -> list[tuple[Insert, list[dict[str, Any]]]]:
    """`records` as (statement, parameter sets): statements in table order, rows by identity.

    Every batch then takes its row locks in the same order, so two transactions over
    the same rows (two recorder instances, a rebuild beside the live recorder) wait for
    each other instead of deadlocking, as far as one statement per kind allows.
    """
    groups: dict[int, list[Upsert]] = {}
    for record in records:
        groups.setdefault(id(record.statement), []).append(record)
    ordered = sorted(groups.values(), key=lambda group: group[0].lock_order[0])
    return [(group[0].statement,
             [r.params for r in sorted(group, key=lambda r: r.lock_order)])
            for group in ordered]


class RecordWriter:
    """Writes rows through `engine`, each batch in one transaction."""

    def __init__(self, *, engine: Engine) -> None:
        self._engine = engine

    def write(self, statements: Sequence[Insert]) -> None:
        """Run `statements` in one transaction (blocking); raises TransientHandlerError."""
        if not statements:
            return
        with _transient_errors_marked(), self._engine.begin() as connection:
            for statement in statements:
                connection.execute(statement)

    def write_records(self, records: Sequence[Upsert]) -> None:
        """Run `records` (any number of events') in one transaction, one executemany per
        statement (blocking); raises TransientHandlerError."""
        if not records:
            return
        with _transient_errors_marked(), self._engine.begin() as connection:
            for statement, params in in_lock_order(records):
                connection.execute(statement, params)

    async def write_async(self, statements: Sequence[Insert]) -> None:
        await asyncio.to_thread(self.write, statements)
