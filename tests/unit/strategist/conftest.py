"""Apps for the unit tests: no Kafka, Redis, PostgreSQL or provider is ever contacted.

Every app's key check runs on an in-memory keyring (`keyring_of(app)`) and a fake rate
limiter; the test clients send an admin key by default (admins name the campaign in the
body and read every campaign, as every caller did before keys existed), so the tests
of other behaviour read as before. The key tests make their own keys.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from providers.catalogue import DEFAULT_CATALOGUE
from providers.settings import ProviderSettings
from services.common.settings import InfraSettings
from strategist import create_app
from strategist.auth.gate import EXTENSION as AUTH
from strategist.auth.gate import AuthGate
from strategist.runtime import Components, Runtime
from strategist.service import AnalysisService
from strategist.settings import RoutingSettings, StrategistSettings
from tests.unit.strategist.fakes import (
    FakeArchive,
    FakeDirect,
    FakeKafkaProbe,
    FakeLimiter,
    FakePublisher,
    FakeRecorder,
    FakeStore,
    InlineExecutor,
    MemoryKeyring,
    OfflineDeltaHub,
    ReadyWaiter,
)


def make_settings(**overrides: object) -> StrategistSettings:
    """Settings independent of the environment; infra points at closed ports."""
    values: dict[str, object] = {
        "routing": RoutingSettings(),
        "infra": InfraSettings(
            kafka_bootstrap_servers="127.0.0.1:1", redis_url="redis://127.0.0.1:1/0"
        ),
        "providers": ProviderSettings(
            gemini_api_key=None, perplexity_api_key=None, emulator_url="http://127.0.0.1:1"
        ),
        "sync_timeout_s": 2.0,
    }
    values.update(overrides)
    return StrategistSettings(**values)  # type: ignore[arg-type]


ADMIN_CAMPAIGN = "ops"


def with_keys(app: Flask) -> tuple[MemoryKeyring, FakeLimiter]:
    """Put an in-memory keyring and a fake limiter behind the app's key check."""
    gate: AuthGate = app.extensions[AUTH]
    keyring, limiter = MemoryKeyring(), FakeLimiter()
    gate.keyring, gate.limiter = keyring, limiter
    return keyring, limiter


def keyring_of(app: Flask) -> MemoryKeyring:
    keyring = app.extensions[AUTH].keyring
    assert isinstance(keyring, MemoryKeyring)
    return keyring


def limiter_of(app: Flask) -> FakeLimiter:
    limiter = app.extensions[AUTH].limiter
    assert isinstance(limiter, FakeLimiter)
    return limiter


def client_with_key(app: Flask, key: str | None) -> FlaskClient:
    """A test client sending `key` on every request (none when None)."""
    client = app.test_client()
    if key is not None:
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return client


def admin_client(app: Flask) -> FlaskClient:
    keyring, _ = with_keys(app)
    return client_with_key(app, keyring.add(ADMIN_CAMPAIGN, role="admin", key_id="key_admin"))


def _never_built(_settings: StrategistSettings) -> Components:
    raise AssertionError("this request must not touch Kafka, Redis or a provider")


@pytest.fixture
def untouched_app() -> Flask:
    """An app whose clients raise if anything asks for them (validation paths)."""
    app = create_app(make_settings())
    app.extensions["strategist"].build = _never_built
    app.config["TESTING"] = True
    return app


@pytest.fixture
def untouched(untouched_app: Flask) -> FlaskClient:
    return admin_client(untouched_app)


class Parts:
    """The fakes behind a `faked` app, for tests to steer and inspect."""

    def __init__(self, settings: StrategistSettings) -> None:
        self.settings = settings
        self.publisher = FakePublisher()
        self.recorder = FakeRecorder()
        self.store = FakeStore()
        self.archive = FakeArchive()
        self.waiter = ReadyWaiter(self.store)
        self.direct = FakeDirect()
        self.kafka = FakeKafkaProbe()
        self.deltas = OfflineDeltaHub()

    def components(self, settings: StrategistSettings) -> Components:
        service = AnalysisService(
            routing=settings.routing,
            publisher=self.publisher,
            recorder=self.recorder,
            waiter=self.waiter,
            store=self.store,
            archive=self.archive,
            direct=self.direct,
            background=InlineExecutor(),
            sync_timeout_s=settings.sync_timeout_s,
            pipeline_wait_s=0.05,
            sync_wait_limit=settings.sync_wait_limit,
        )
        return Components(
            settings=settings,
            service=service,
            store=self.store,  # type: ignore[arg-type]
            kafka=self.kafka,  # type: ignore[arg-type]
            catalogue=DEFAULT_CATALOGUE,
            waiter=self.waiter,
            publisher=self.publisher,  # type: ignore[arg-type]
            loop=None,  # type: ignore[arg-type]
            background=None,  # type: ignore[arg-type]
            deltas=self.deltas,
        )


FakedApp = tuple[FlaskClient, Parts]


@pytest.fixture
def faked() -> Callable[..., FakedApp]:
    """`faked(**settings)`: an app on fakes, and the fakes."""

    def build(**overrides: object) -> FakedApp:
        settings = make_settings(**overrides)
        app = create_app(settings)
        parts = Parts(settings)
        runtime: Runtime = app.extensions["strategist"]
        runtime.build = parts.components
        return admin_client(app), parts

    return build
