"""The PostgreSQL database the recorder and the app share: its URL, engines and migrations.

The recorder writes the decision records there and the app keeps its API keys there
(`services/common/tables.py` holds both sets of tables, one `MetaData`, which the
migrations in `services/common/migrations/` create). Both import this module, so neither
reaches into the other.

Everything is synchronous SQLAlchemy on psycopg 3 (SQLAlchemy's asyncio layer needs
greenlet, which the project does not install); the recorder runs its writes on threads.
"""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"
CONNECT_TIMEOUT_S = 5
POOL_PRE_PING = True
"""A pooled connection the server closed (restart) is replaced instead of failing a write."""
SQLALCHEMY_DRIVER_SCHEME = "postgresql+psycopg://"
PLAIN_SCHEMES = ("postgresql://", "postgres://")
"""URLs as PostgreSQL tools and docker images write them; SQLAlchemy needs the driver named."""
DATABASE_URL_ENV = "DATABASE_URL"
POSTGRES_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "postgres.sh"
"""Prints the URL of the local database `make up` started (`scripts/postgres.sh url`)."""
SCRIPT_TIMEOUT_S = 30.0


class NoDatabaseUrl(RuntimeError):
    """Neither DATABASE_URL nor a local database to name (`scripts/postgres.sh url` failed)."""


def sqlalchemy_url(url: str) -> str:
    """`url` with psycopg 3 named as the driver (a plain `postgresql://` URL is accepted)."""
    for scheme in PLAIN_SCHEMES:
        if url.startswith(scheme):
            return SQLALCHEMY_DRIVER_SCHEME + url[len(scheme):]
    return url


def local_database_url() -> str:
    """`DATABASE_URL`, or the local database's URL: for the repository's own tools (the
    benchmark, the demo's and the evaluation's keys), never for a service, whose settings
    require `DATABASE_URL`. Raises NoDatabaseUrl."""
    url = os.environ.get(DATABASE_URL_ENV, "").strip()
    if url:
        return url
    try:
        done = subprocess.run(
            [str(POSTGRES_SCRIPT), "url"],
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT_S,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as err:
        raise NoDatabaseUrl(f"scripts/postgres.sh url failed: {type(err).__name__}") from err
    return done.stdout.strip()


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """A pooled engine (nothing connects until first use)."""
    return create_engine(url, pool_size=pool_size, pool_pre_ping=POOL_PRE_PING,
                         connect_args={"connect_timeout": CONNECT_TIMEOUT_S})


def alembic_config(engine_url: str | None = None) -> Config:
    """Alembic's configuration for our migrations folder (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine_url is not None:
        config.set_main_option("sqlalchemy.url", engine_url.replace("%", "%%"))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent; safe for concurrent callers)."""
    config = alembic_config()
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        connection.commit()
    logger.info("database schema at the newest migration")
