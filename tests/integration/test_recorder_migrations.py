"""The migrations build exactly the tables the models describe, on a real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from psycopg import sql

from services.common.database import make_engine, sqlalchemy_url, upgrade
from services.common.tables import Base


@pytest.fixture
def empty_db(database_url: str) -> Iterator[str]:
    name = f"test_migrations_{uuid.uuid4().hex[:10]}"
    admin = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield f"{admin.rpartition('/')[0]}/{name}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                           .format(sql.Identifier(name)))


def test_migrations_create_what_the_models_declare_and_run_twice(empty_db: str) -> None:
    engine = make_engine(sqlalchemy_url(empty_db))
    try:
        upgrade(engine)
        upgrade(engine)  # a restarted recorder migrates again: nothing to do
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == [], "models and migrations disagree: add a migration"
