"""API keys through the whole stack: the door, campaigns kept apart, the rate limit, usage,
the app refusing real provider keys next to the emulator, and no secret anywhere.

The whole stack of this module runs with recognisable fake provider keys (canaries)
whose real SDK clients are pointed at the emulator (`GEMINI_BASE_URL`,
`PERPLEXITY_BASE_URL`; the emulator accepts any key), so every process holds and sends
them as it would real ones. The last test runs a full analysis (cross-checked, with
feedback), a query while both hosted providers fail (500), a direct call with a key the
provider refuses, and error responses; then it reads every log file of the stack, every
event on every topic of the namespace, every Redis value of the namespace, every
database row and every error body it received: none may hold an API key, the database
or Redis password, or a canary provider key.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
import redis
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from psycopg import sql

from emulator.state import INVALID_KEY_MARKER
from harness.emulator_process import EmulatorControl
from harness.processes import ManagedProcess, free_port, gunicorn_app, infra_env
from services.common.spend import set_monthly_limit
from strategist.auth.keys import KEY_PREFIX, IssuedKey, issue_key
from tests.e2e.stack import API, Stack, StackFactory, poll_until_done

pytestmark = pytest.mark.e2e

UNKNOWN_ID = "0123456789abcdef0123456789abcdef"
QUESTION = "What do the latest polls say about the Arizona Senate race?"
REFUSAL_TIMEOUT_S = 30.0
TOPIC_READ_TIMEOUT_S = 30.0
METADATA_TIMEOUT_S = 10.0
CANARY = f"leak-canary-{uuid.uuid4().hex[:12]}"
"""Recognisable fake secrets of this run: provider keys and an API key nobody issued."""
GEMINI_CANARY = f"{CANARY}-gemini"
PERPLEXITY_CANARY = f"{CANARY}-perplexity"
UNISSUED_KEY = f"{KEY_PREFIX}{CANARY}-unissued-api-key"


REFUSED_KEY_APP = "refused-key"
"""An app on the direct path whose Gemini key the provider refuses (401/400)."""


@pytest.fixture(scope="module")
def stack(stack_factory: StackFactory, emulator: EmulatorControl) -> Iterator[Stack]:
    """Every process of the stack holds the canary provider keys, sent to the emulator."""
    with pytest.MonkeyPatch.context() as env:  # the processes inherit the test's env
        env.setenv("GEMINI_API_KEY", GEMINI_CANARY)
        env.setenv("PERPLEXITY_API_KEY", PERPLEXITY_CANARY)
        env.setenv("GEMINI_BASE_URL", emulator.base_url)
        env.setenv("PERPLEXITY_BASE_URL", emulator.base_url)
        refused = {
            "STRATEGIST_ROUTING__ENABLED": "false",
            "GEMINI_API_KEY": f"{GEMINI_CANARY}-{INVALID_KEY_MARKER}",
        }
        with stack_factory(apps={REFUSED_KEY_APP: refused}) as running:
            yield running


@pytest.fixture(scope="module")
def error_bodies() -> list[str]:
    """Every error response body the tests of this module received (the leak test reads)."""
    return []


def _client(stack: Stack, key: IssuedKey | None) -> httpx.Client:
    return stack.app.client_with(key)


def _note(bodies: list[str], response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        bodies.append(response.text)
    return response


def test_without_a_key_every_api_route_is_401(stack: Stack, error_bodies: list[str]) -> None:
    with _client(stack, None) as anonymous:
        for reply in (
            anonymous.post(f"{API}/analyze", json={"query": QUESTION}),
            anonymous.get(f"{API}/analyses/{UNKNOWN_ID}"),
            anonymous.get(f"{API}/providers"),
            anonymous.get("/api/v1/openapi.json"),
            anonymous.get(f"{API}/providers", headers={"Authorization": f"Bearer {UNISSUED_KEY}"}),
        ):
            _note(error_bodies, reply)
            assert reply.status_code == 401, reply.text
            assert reply.headers["WWW-Authenticate"].startswith("Bearer")
        assert anonymous.get("/healthz").status_code == 200
        assert anonymous.get("/readyz").json()["auth_mode"] == "required"


def test_campaigns_are_kept_apart_and_an_admin_reads_them_all(
    stack: Stack, error_bodies: list[str]
) -> None:
    az_key, nv_key = stack.key_for("az-senate"), stack.key_for("nv-governor")
    with _client(stack, az_key) as az, _client(stack, nv_key) as nv:
        answered = az.post(f"{API}/analyze", json={"query": QUESTION})
        assert answered.status_code == 200, answered.text
        assert answered.json()["campaign_id"] == "az-senate"
        analysis_id = answered.json()["analysis_id"]

        theirs = _note(error_bodies, nv.get(f"{API}/analyses/{analysis_id}"))
        unknown = _note(error_bodies, nv.get(f"{API}/analyses/{UNKNOWN_ID}"))
        assert theirs.status_code == unknown.status_code == 404
        assert theirs.json()["error"]["code"] == unknown.json()["error"]["code"]
        feedback = nv.post(f"{API}/analyses/{analysis_id}/feedback", json={"rating": "correct"})
        assert _note(error_bodies, feedback).status_code == 404
        named = nv.post(f"{API}/analyze", json={"query": QUESTION, "campaign_id": "az-senate"})
        assert _note(error_bodies, named).status_code == 403

        assert az.get(f"{API}/analyses/{analysis_id}").status_code == 200
    assert stack.app.client.get(f"{API}/analyses/{analysis_id}").status_code == 200  # admin


def test_a_key_over_its_rate_gets_429_with_retry_after(
    stack: Stack, error_bodies: list[str]
) -> None:
    slow = issue_key(stack.database_url, "az-senate", rate_per_minute=1)
    with _client(stack, slow) as client:
        assert client.get(f"{API}/providers").status_code == 200
        limited = _note(error_bodies, client.get(f"{API}/providers"))
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1


def test_a_campaign_sees_its_usage_and_limit(stack: Stack) -> None:
    campaign = f"pa-{uuid.uuid4().hex[:6]}"
    client = redis.Redis.from_url(stack.redis_url)
    try:
        set_monthly_limit(client, stack.namespace, campaign, 25.0)
    finally:
        client.close()
    with _client(stack, stack.key_for(campaign)) as pa:
        usage = pa.get(f"{API}/usage")
        other = pa.get(f"{API}/usage", params={"campaign": "az-senate"})
    assert usage.status_code == 200, usage.text
    assert usage.json()["campaign_id"] == campaign and usage.json()["limit_usd"] == 25.0
    assert other.status_code == 403
    admin = stack.app.client.get(f"{API}/usage", params={"campaign": campaign})
    assert admin.json()["limit_usd"] == 25.0


def _refusing_app(stack: Stack) -> ManagedProcess:
    """An app given real-looking provider keys next to the emulator, with nothing saying
    where the keys go but EMULATOR_URL: it must not start."""
    env = infra_env(
        stack.namespace,
        KAFKA_BOOTSTRAP_SERVERS=stack.bootstrap,
        REDIS_URL=stack.redis_url,
        DATABASE_URL=stack.database_url,
        EMULATOR_URL=stack.emulator.base_url,
        GEMINI_API_KEY=GEMINI_CANARY,
        PERPLEXITY_API_KEY=PERPLEXITY_CANARY,
        GEMINI_BASE_URL="",
        PERPLEXITY_BASE_URL="",
    )
    process = gunicorn_app("app-refusing", env, free_port(), workers=1).start()
    deadline = time.monotonic() + REFUSAL_TIMEOUT_S
    while process.alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    alive = process.alive()
    process.stop()
    assert not alive, "the app started with real provider keys next to the emulator"
    return process


def _topic_values(stack: Stack) -> list[bytes]:
    """Every record (key and value) of every topic of the stack's namespace."""
    admin = AdminClient({"bootstrap.servers": stack.bootstrap})
    metadata = admin.list_topics(timeout=METADATA_TIMEOUT_S)
    topics = {n: t for n, t in metadata.topics.items() if n.startswith(f"{stack.namespace}.")}
    assert topics, "the namespace has no topics"
    consumer = Consumer(
        {
            "bootstrap.servers": stack.bootstrap,
            "group.id": f"leak-scan-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        }
    )
    try:
        ends: dict[tuple[str, int], int] = {}
        assignment = []
        for name, topic in topics.items():
            for partition in topic.partitions:
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(name, partition), timeout=METADATA_TIMEOUT_S
                )
                if high > low:
                    ends[(name, partition)] = high
                    assignment.append(TopicPartition(name, partition, low))
        consumer.assign(assignment)
        values: list[bytes] = []
        deadline = time.monotonic() + TOPIC_READ_TIMEOUT_S
        while ends and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error() is not None:
                continue
            values.extend(part for part in (message.key(), message.value()) if part)
            place = (message.topic(), message.partition())
            if place in ends and (message.offset() or 0) + 1 >= ends[place]:
                del ends[place]
        assert not ends, f"topics not read to their end: {ends}"
        return values
    finally:
        consumer.close()


def _redis_values(stack: Stack) -> list[bytes]:
    """Every key and value of the namespace in Redis, whatever its type."""
    client = redis.Redis.from_url(stack.redis_url)
    found: list[Any] = []
    try:
        for key in client.scan_iter(match=f"{stack.namespace}:*", count=1000):
            found.append(key)
            raw_kind = client.type(key)
            kind = raw_kind.decode() if isinstance(raw_kind, bytes) else str(raw_kind)
            if kind == "string":
                found.append(client.get(key))
            elif kind == "hash":
                found.append(client.hgetall(key))
            elif kind == "list":
                found.append(client.lrange(key, 0, -1))
            elif kind == "set":
                found.append(client.smembers(key))
            elif kind == "zset":
                found.append(client.zrange(key, 0, -1, withscores=True))
            elif kind == "stream":
                found.append(client.xrange(key))
    finally:
        client.close()
    return [value if isinstance(value, bytes) else repr(value).encode() for value in found]


def _database_rows(database_url: str) -> list[str]:
    """Every row of every table of the database, as text."""
    rows: list[str] = []
    plain = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain) as connection:
        tables = [
            name
            for (name,) in connection.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
            )
        ]
        for table in tables:
            query = sql.SQL("SELECT t::text FROM {} AS t").format(sql.Identifier(table))
            rows.extend(text for (text,) in connection.execute(query))
    return rows


def _provider_errors(stack: Stack, client: httpx.Client, bodies: list[str]) -> None:
    """A query while both hosted providers answer 500: the errors travel in attempt events,
    health events (the probes fail too), logs and the response (answered by the local
    model, or failed). A provider the health service already marked down is skipped."""
    try:
        for provider in ("gemini", "perplexity"):
            stack.emulator.set_mode(provider, "error")
        failing = client.post(
            f"{API}/analyze", json={"query": QUESTION, "options": {"prefer": "quality"}}
        )
        _note(bodies, failing)
        routing = failing.json()["routing"]
        hosted = [*routing["failed_attempts"], *routing["skipped"]]
        assert any(a["provider"] in ("gemini", "perplexity") for a in hosted), failing.text
    finally:
        stack.emulator.reset()


def _secrets(stack: Stack, keys: list[IssuedKey]) -> dict[str, str]:
    secrets = {f"API key {key.key_id}": key.key for key in keys}
    secrets.update(
        {
            "unissued API key": UNISSUED_KEY,
            "GEMINI_API_KEY canary": GEMINI_CANARY,
            "PERPLEXITY_API_KEY canary": PERPLEXITY_CANARY,
        }
    )
    for name, url in (("database", stack.database_url), ("redis", stack.redis_url)):
        password = urlsplit(url).password
        if password:
            secrets[f"{name} password"] = password
    return secrets


def test_no_secret_appears_in_logs_events_redis_rows_or_error_bodies(
    stack: Stack, error_bodies: list[str]
) -> None:
    strategist = stack.key_for("leak-campaign")
    with _client(stack, strategist) as client:
        answered = client.post(
            f"{API}/analyze",
            json={"query": QUESTION, "options": {"prefer": "quality", "cross_validate": True}},
        )
        assert answered.status_code == 200, answered.text
        assert answered.json()["routing"]["provider"] in ("gemini", "perplexity")  # keyed
        analysis_id = answered.json()["analysis_id"]
        _provider_errors(stack, client, error_bodies)
        grade = client.post(
            f"{API}/analyses/{analysis_id}/feedback", json={"rating": "correct", "grader": "qa"}
        )
        assert grade.status_code == 202
        accepted = client.post(f"{API}/analyses", json={"query": QUESTION})
        assert poll_until_done(stack.app, accepted.json()["status_url"]).status_code == 200
        for bad in (
            client.post(f"{API}/analyze", json={"query": "q", "options": {"prefer": UNISSUED_KEY}}),
            client.post(f"{API}/analyze", json={"query": QUESTION, "campaign_id": "other"}),
            client.get(f"{API}/analyses/{UNKNOWN_ID}"),
            client.get(f"{API}/providers", headers={"Authorization": f"Bearer {UNISSUED_KEY}"}),
            client.get(f"{API}/providers", headers={"Authorization": f"Basic {UNISSUED_KEY}"}),
        ):
            assert _note(error_bodies, bad).status_code >= 400
    with stack.apps[REFUSED_KEY_APP].client_with(strategist) as direct:
        refused = _note(error_bodies, direct.post(f"{API}/analyze", json={"query": QUESTION}))
    assert refused.status_code >= 400, refused.text
    assert refused.json()["routing"]["path"] == "direct"
    refusing = _refusing_app(stack)
    assert "GEMINI_API_KEY" in refusing.log_path.read_text(errors="replace")

    processes = [*stack.services.values(), *(app.process for app in stack.apps.values()), refusing]
    places: dict[str, list[bytes]] = {
        f"log {p.name}": [p.log_path.read_bytes()] for p in processes if p.log_path.exists()
    }
    if stack.emulator.log_path is not None:
        places["log emulator"] = [stack.emulator.log_path.read_bytes()]
    places["topics"] = _topic_values(stack)
    places["redis"] = _redis_values(stack)
    places["database"] = [row.encode() for row in _database_rows(stack.database_url)]
    places["error bodies"] = [body.encode() for body in error_bodies]
    assert places["topics"] and places["redis"] and places["database"] and error_bodies

    secrets = _secrets(stack, [strategist, stack.app.key])
    found = [
        f"{what} in {where}"
        for where, values in places.items()
        for what, secret in secrets.items()
        if any(secret.encode() in value for value in values)
    ]
    assert found == []
