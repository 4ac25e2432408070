"""API keys against the real PostgreSQL and Redis: the CLI, the shared rate limit, a
revocation seen by two app processes, and keys that outlive a recorder rebuild."""

from __future__ import annotations

import functools
import json
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from flask import Flask
from psycopg import sql
from pydantic import SecretStr

from harness.processes import free_port, gunicorn_app, infra_env, running, unique_namespace
from services.common.database import make_engine, sqlalchemy_url, upgrade
from services.common.redis_client import sync_redis
from services.common.settings import InfraSettings
from services.common.spend import read_usage
from services.recorder.rebuild import drop_all
from strategist import create_app
from strategist.auth.keys import KEY_PREFIX, KeyStore, issue_key, key_hash
from strategist.auth.ratelimit import RedisLimiter
from strategist.settings import StrategistSettings

REVOCATION_CACHE_TTL_S = "1"
REVOCATION_HANG_GUARD_S = 15.0
"""Far above the 1 s cache: only catches a revocation that never takes effect."""
APP_READY_TIMEOUT_S = 60.0


@pytest.fixture
def cli_app(database_url: str, redis_url: str) -> Flask:
    settings = StrategistSettings(
        infra=InfraSettings(
            redis_url=redis_url,
            database_url=SecretStr(database_url),
            topic_namespace=unique_namespace("keys"),
        )
    )
    return create_app(settings)


def _cli(app: Flask, *args: str) -> list[str]:
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()


def test_the_cli_creates_lists_and_revokes_keys(cli_app: Flask, database_url: str) -> None:
    campaign = f"az-{uuid.uuid4().hex[:6]}"
    output = _cli(
        cli_app, "keys", "create", campaign, "--rate-per-minute", "5",
        "--monthly-budget-usd", "12.5", "--expires", "30",
    )
    key = output[-1]
    assert key.startswith(KEY_PREFIX) and " " not in key
    key_id = output[0].split()[1].rstrip(":")

    store = KeyStore(database_url=database_url)
    try:
        found = store.find(key_hash(key))
        assert found is not None and found.key_id == key_id and found.campaign_id == campaign
        assert found.rate_per_minute == 5 and found.expires_at is not None
        with psycopg.connect(database_url.replace("+psycopg", "")) as connection:
            rows = connection.execute("SELECT * FROM api_keys").fetchall()
        assert key not in repr(rows)  # only the hash is stored
    finally:
        store.close()
    namespace = cli_app.extensions["strategist"].settings.infra.topic_namespace
    client = sync_redis(cli_app.extensions["strategist"].settings.infra.redis_url, concurrency=1)
    assert read_usage(client, namespace, campaign).limit_usd == pytest.approx(12.5)

    listed = json.loads("\n".join(_cli(cli_app, "keys", "list", "--format", "json")))
    [mine] = [row for row in listed if row["key_id"] == key_id]
    assert mine["campaign_id"] == campaign and mine["state"] == "active"
    assert mine["rate_per_minute"] == 5 and mine["monthly_budget_usd"] == pytest.approx(12.5)
    text = "\n".join(_cli(cli_app, "keys", "list"))
    assert key_id in text and key not in text and key not in json.dumps(listed)

    assert "revoked" in _cli(cli_app, "keys", "revoke", key_id)[-1]
    listed = json.loads("\n".join(_cli(cli_app, "keys", "list", "--format", "json")))
    assert [row["state"] for row in listed if row["key_id"] == key_id] == ["revoked"]
    unknown = cli_app.test_cli_runner().invoke(args=["keys", "revoke", "key_nosuch"])
    assert unknown.exit_code != 0 and "no key" in unknown.output


def test_the_rate_limit_is_one_bucket_for_every_process_and_atomic(redis_url: str) -> None:
    namespace = unique_namespace("rate")
    clients = [sync_redis(redis_url, concurrency=32) for _ in range(2)]
    limiters = [
        RedisLimiter(client=lambda c=c: c, namespace=namespace, burst_s=10.0)  # type: ignore[misc]
        for c in clients
    ]
    allowed: list[int] = []
    waits: list[int] = []
    lock = threading.Lock()

    def hit(i: int) -> None:
        wait = limiters[i % 2].take("key_shared", 30)  # 30/min, burst 10 s: 5 at once
        with lock:
            (allowed if wait is None else waits).append(wait or 0)

    threads = [threading.Thread(target=hit, args=(i,)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(allowed) == 5
    assert len(waits) == 35 and all(wait >= 1 for wait in waits)
    assert limiters[0].take("key_other", 30) is None  # buckets are per key


def test_a_revoked_key_stops_working_in_two_app_processes_within_seconds(
    database_url: str, redis_url: str
) -> None:
    namespace = unique_namespace("revoke")
    issued = issue_key(database_url, f"az-{uuid.uuid4().hex[:6]}")
    env = infra_env(
        namespace,
        REDIS_URL=redis_url,
        DATABASE_URL=database_url,
        STRATEGIST_AUTH__KEY_CACHE_TTL_S=REVOCATION_CACHE_TTL_S,
    )
    ports = [free_port(), free_port()]
    apps = [gunicorn_app(f"app-revoke-{i}", env, port, workers=1) for i, port in enumerate(ports)]
    urls = [f"http://127.0.0.1:{port}/api/v1/strategist/providers" for port in ports]
    with running(*apps):
        for app, url in zip(apps, urls, strict=True):
            app.wait_until(
                functools.partial(_answers, url, issued.header, 200),
                APP_READY_TIMEOUT_S,
                "a 200 with the key",
            )
        store = KeyStore(database_url=database_url)
        try:
            assert store.revoke(issued.key_id) is not None
        finally:
            store.close()
        revoked_at = time.monotonic()
        statuses = [0, 0]
        while time.monotonic() - revoked_at < REVOCATION_HANG_GUARD_S and statuses != [403, 403]:
            statuses = [httpx.get(u, headers=issued.header, timeout=5).status_code for u in urls]
            time.sleep(0.2)
        assert statuses == [403, 403]


def _answers(url: str, headers: dict[str, str], status: int) -> bool:
    return httpx.get(url, headers=headers, timeout=5).status_code == status


@pytest.fixture
def fresh_db(database_url: str) -> Iterator[str]:
    name = f"test_keys_{uuid.uuid4().hex[:10]}"
    admin = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield f"{admin.rpartition('/')[0]}/{name}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def test_keys_outlive_a_recorder_rebuild(fresh_db: str) -> None:
    issued = issue_key(fresh_db, "az")
    engine = make_engine(sqlalchemy_url(fresh_db))
    try:
        drop_all(engine)  # what `python -m services.recorder.rebuild` does first
        upgrade(engine)
    finally:
        engine.dispose()
    store = KeyStore(database_url=fresh_db)
    try:
        found = store.find(key_hash(issued.key))
    finally:
        store.close()
    assert found is not None and found.key_id == issued.key_id
