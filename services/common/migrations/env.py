"""Alembic environment: runs online against the connection or URL the caller provides.

`services.common.database.upgrade` passes an open connection in
`config.attributes["connection"]`; the `alembic` command line passes
`sqlalchemy.url` (`-x url=...`). A transaction-scoped advisory lock makes two
processes migrating at once (recorders, the app making its first key) run the
migrations one after the other.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, text

from services.common.database import sqlalchemy_url
from services.common.tables import Base

MIGRATION_LOCK_ID = 0x5EC0DE0
"""pg_advisory_xact_lock key held while migrating (any constant every migrating process shares)."""


def run(connection: Connection) -> None:
    context.configure(
        connection=connection, target_metadata=Base.metadata, transaction_per_migration=False
    )
    with context.begin_transaction():
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        context.run_migrations()


def main() -> None:
    config = context.config
    given = config.attributes.get("connection")
    if given is not None:
        run(given)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("no database: pass -x url=postgresql://... or set sqlalchemy.url")
    engine = create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as connection:
            run(connection)
            connection.commit()
    finally:
        engine.dispose()


main()
