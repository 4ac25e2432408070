"""The whole stack as real processes: a fresh namespace, the four services, the app(s).

`running_stack` starts the classifier, dispatcher, scorer and health service and
one gunicorn app per entry of `apps` (2 workers each), waits until consumers are
assigned, the apps answer and the health service has reported every provider it monitors
(a provider the catalogue declares but HEALTH_MONITORED_PROVIDERS leaves out stays
"unknown" in the providers view).
Every app's client sends the stack's admin API key; `stack.key_for(campaign)` makes
strategist keys for the tests of campaign isolation.
"""

from __future__ import annotations

import contextlib
import functools
import json
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from harness.emulator_process import EmulatorControl
from harness.processes import (
    ManagedProcess,
    free_port,
    gunicorn_app,
    infra_env,
    python_module,
    running,
    unique_namespace,
)
from schemas.topics import TopicNames
from services.common.admin import create_topics
from services.common.settings import InfraSettings
from services.health.settings import HealthSettings
from strategist.auth.keys import IssuedKey, Role
from tests.support.keys import test_key

SERVICES = ("classifier", "dispatcher", "scorer", "health")
CONSUMING_SERVICES = ("classifier", "dispatcher", "scorer")
SERVICE_READY_TIMEOUT_S = 60.0
APP_READY_TIMEOUT_S = 60.0
HEALTH_READY_TIMEOUT_S = 30.0
APP_SYNC_TIMEOUT_S = 60.0
"""The local model runs on this machine's CPU; give sync calls room."""
API = "/api/v1/strategist"


@dataclass
class App:
    name: str
    base_url: str
    process: ManagedProcess
    key: IssuedKey
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = self.client_with(self.key)

    def client_with(self, key: IssuedKey | None) -> httpx.Client:
        """A client of this app sending `key` (none when None); the caller closes it."""
        return httpx.Client(
            base_url=self.base_url,
            timeout=APP_SYNC_TIMEOUT_S + 30,
            headers=key.header if key is not None else None,
        )

    def analyze(self, query: str, **fields: Any) -> httpx.Response:
        return self.client.post(f"{API}/analyze", json={"query": query, **fields})


@dataclass
class Stack:
    namespace: str
    topics: TopicNames
    bootstrap: str
    redis_url: str
    database_url: str
    emulator: EmulatorControl
    apps: dict[str, App]
    services: dict[str, ManagedProcess]

    def key_for(self, campaign: str, *, role: Role = "strategist") -> IssuedKey:
        return test_key(self.database_url, campaign, role=role)

    @property
    def app(self) -> App:
        """The app with intelligent routing on."""
        return self.apps["routed"]


def gunicorn(name: str, env: dict[str, str], port: int, workers: int = 2) -> ManagedProcess:
    return gunicorn_app(name, env, port, workers=workers)


def _ok(url: str) -> bool:
    return httpx.get(url, timeout=5).status_code == 200


@contextlib.contextmanager
def running_stack(
    *,
    bootstrap: str,
    redis_url: str,
    database_url: str,
    emulator: EmulatorControl,
    local_model_url: str,
    apps: dict[str, dict[str, str]] | None = None,
    extra_services: tuple[str, ...] = (),
) -> Iterator[Stack]:
    """The stack in a fresh namespace; `apps` maps extra app names to their extra env;
    `extra_services` adds services beyond the four (the console's tests add "recorder")."""
    namespace = unique_namespace("e2e")
    topics = TopicNames(namespace)
    create_topics(bootstrap, topics.specs(), security=InfraSettings().kafka_security)
    env = infra_env(
        namespace,
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        REDIS_URL=redis_url,
        DATABASE_URL=database_url,
        EMULATOR_URL=emulator.base_url,
        LOCAL_MODEL_URL=local_model_url,
        STRATEGIST_SYNC_TIMEOUT_S=str(APP_SYNC_TIMEOUT_S),
        STRATEGIST_CONSOLE__SECRET_KEY=secrets.token_hex(32),
    )
    services = {
        name: python_module(name, f"services.{name}", env)
        for name in (*SERVICES, *extra_services)
    }
    app_specs: dict[str, dict[str, str]] = {"routed": {}, **(apps or {})}
    ports = {name: free_port() for name in app_specs}
    app_processes = {
        name: gunicorn(f"app-{name}", {**env, **extra}, ports[name])
        for name, extra in app_specs.items()
    }
    admin = test_key(database_url, f"{namespace}-admin")
    with running(*services.values(), *app_processes.values()):
        for name in (*CONSUMING_SERVICES, *extra_services):
            services[name].wait_for_log(" assigned ", SERVICE_READY_TIMEOUT_S)
        apps_up = {}
        for name, process in app_processes.items():
            base_url = f"http://127.0.0.1:{ports[name]}"
            process.wait_until(
                functools.partial(_ok, f"{base_url}/healthz"), APP_READY_TIMEOUT_S, "/healthz"
            )
            apps_up[name] = App(name, base_url, process, admin)
        stack = Stack(
            namespace, topics, bootstrap, redis_url, database_url, emulator, apps_up, services
        )
        try:
            _wait_for_health(stack)
            yield stack
        finally:
            for app in apps_up.values():
                app.client.close()


def monitored_providers(env: Mapping[str, str]) -> list[str]:
    """The providers a health service started with `env` reports on (its setting
    HEALTH_MONITORED_PROVIDERS, a JSON list, else the setting's default)."""
    given = env.get("HEALTH_MONITORED_PROVIDERS")
    if given is not None:
        return [str(name) for name in json.loads(given)]
    field = HealthSettings.model_fields["monitored_providers"]
    return list(field.get_default(call_default_factory=True))


def _wait_for_health(stack: Stack) -> None:
    """Until the health service reported every provider it monitors (so routing sees real
    statuses); the view also lists providers it does not monitor, which stay "unknown"."""
    deadline = time.monotonic() + HEALTH_READY_TIMEOUT_S
    monitored = monitored_providers(stack.services["health"].env)
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        body = stack.app.client.get(f"{API}/providers").json()
        states = {p["provider"]: p["state"] for p in body["providers"]}
        if all(states.get(name, "unknown") != "unknown" for name in monitored):
            return
        time.sleep(0.5)
    raise TimeoutError(
        f"health service did not report every monitored provider ({', '.join(monitored)}): "
        f"{states}\n"
        f"{stack.services['health'].log_tail()}"
    )


StackFactory = Callable[..., contextlib.AbstractContextManager["Stack"]]
"""`with stack_factory(apps={"name": {ENV: value}}) as stack:` (the e2e fixture)."""


def poll_until_done(app: App, status_url: str, timeout_s: float = 60.0) -> httpx.Response:
    """GET the status URL until the analysis is no longer pending (or time runs out)."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = app.client.get(status_url)
        if response.status_code != 202 or time.monotonic() > deadline:
            return response
        time.sleep(0.25)
