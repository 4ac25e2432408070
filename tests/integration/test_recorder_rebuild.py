"""A rebuild that cannot read the topics leaves the tables as they were."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from schemas.feedback import FeedbackGiven
from services.common.database import make_engine, sqlalchemy_url, upgrade
from services.common.settings import InfraSettings
from services.recorder.handler import upserts
from services.recorder.rebuild import RebuildError, rebuild
from services.recorder.settings import RecorderSettings
from services.recorder.writer import RecordWriter


@pytest.fixture
def recorded_db(database_url: str) -> Iterator[str]:
    """A fresh database holding one feedback row."""
    name = f"test_rebuild_{uuid.uuid4().hex[:10]}"
    admin = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = f"{admin.rpartition('/')[0]}/{name}"
    engine = make_engine(sqlalchemy_url(url))
    upgrade(engine)
    RecordWriter(engine=engine).write(upserts(FeedbackGiven(analysis_id="a1", rating="correct")))
    engine.dispose()
    yield url
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                           .format(sql.Identifier(name)))


def test_a_namespace_without_topics_is_an_error_before_anything_is_dropped(
    kafka_bootstrap: str, recorded_db: str,
) -> None:
    settings = RecorderSettings(
        database_url=recorded_db,  # type: ignore[arg-type]
        infra=InfraSettings(kafka_bootstrap_servers=kafka_bootstrap,
                            topic_namespace=f"missing-{uuid.uuid4().hex[:8]}"))
    with pytest.raises(RebuildError, match="missing-"):
        rebuild(settings)
    with psycopg.connect(recorded_db) as connection:
        assert connection.execute("SELECT analysis_id FROM feedback").fetchall() == [("a1",)]
