"""A PostgreSQL database of a test's own on the test server, dropped at the end."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import psycopg
from psycopg import sql


def plain_url(database_url: str) -> str:
    """The URL as psycopg takes it (without SQLAlchemy's driver suffix)."""
    return database_url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextlib.contextmanager
def fresh_database(database_url: str, prefix: str = "test") -> Iterator[str]:
    """The URL of a new, empty database beside the one at `database_url`; dropped (even
    with clients still connected) when the block ends."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = plain_url(database_url)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"{admin.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                               .format(sql.Identifier(name)))
