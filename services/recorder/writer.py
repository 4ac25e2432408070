"""Runs a handler's upserts in one transaction, on a thread (the engine is synchronous).

Database errors that pass by themselves (the server restarting, a dropped connection, a
table missing while `audit rebuild` re-creates it) become `TransientHandlerError`, which
the worker's failure policy retries with backoff; any other error is a bug in a
statement and dead-letters the event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from psycopg import errors as pg_errors
from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import Insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from services.common.failures import TransientHandlerError

TRANSIENT_SQLSTATE_ERRORS = (pg_errors.UndefinedTable, pg_errors.SerializationFailure,
                             pg_errors.DeadlockDetected, pg_errors.AdminShutdown)


def is_transient_db_error(error: DBAPIError) -> bool:
    """The database will take the same statement once it is back (or the rebuild is done)."""
    return (
        isinstance(error, OperationalError | InterfaceError)
        or error.connection_invalidated
        or isinstance(error.orig, TRANSIENT_SQLSTATE_ERRORS)
    )


class RecordWriter:
    """Writes statements through `engine`; one transaction per event."""

    def __init__(self, *, engine: Engine) -> None:
        self._engine = engine

    def write(self, statements: Sequence[Insert]) -> None:
        """Run `statements` in one transaction (blocking); raises TransientHandlerError."""
        if not statements:
            return
        try:
            with self._engine.begin() as connection:
                for statement in statements:
                    connection.execute(statement)
        except DBAPIError as err:
            if is_transient_db_error(err):
                raise TransientHandlerError(f"database: {err.orig or err}") from err
            raise

    async def write_async(self, statements: Sequence[Insert]) -> None:
        await asyncio.to_thread(self.write, statements)
