"""Engines, migrations and the drop that precedes a rebuild.

Everything is synchronous SQLAlchemy on psycopg 3 (SQLAlchemy's asyncio layer needs
greenlet, which the project does not install); the worker runs its writes on threads.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, text

from services.recorder.models import TABLES

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"
CONNECT_TIMEOUT_S = 5
POOL_PRE_PING = True
"""A pooled connection the server closed (restart) is replaced instead of failing a write."""


def alembic_config(engine_url: str | None = None) -> Config:
    """Alembic's configuration for our migrations folder (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine_url is not None:
        config.set_main_option("sqlalchemy.url", engine_url.replace("%", "%%"))
    return config


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """A pooled engine (nothing connects until first use)."""
    return create_engine(url, pool_size=pool_size, pool_pre_ping=POOL_PRE_PING,
                         connect_args={"connect_timeout": CONNECT_TIMEOUT_S})


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent; safe for concurrent callers)."""
    config = alembic_config()
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        connection.commit()
    logger.info("database schema at the newest migration")


def drop_all(engine: Engine) -> None:
    """Drop the recorder's tables and the migration record (a rebuild re-creates them).

    Dropping here is the rebuild's data reset, not a schema change: the migrations
    that follow create the same tables again.
    """
    with engine.begin() as connection:
        for table in reversed(TABLES):
            connection.execute(text(f'DROP TABLE IF EXISTS "{table.name}"'))
        connection.execute(text(f'DROP TABLE IF EXISTS "{VERSION_TABLE}"'))
    logger.info("dropped %d recorder tables", len(TABLES))
