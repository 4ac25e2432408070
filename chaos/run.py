"""One chaos run: start the stack, load it, inject the faults in turn, count the damage."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import httpx

from chaos.faults import Stack
from chaos.ledger import read_ledger
from chaos.load import API, OpenLoopLoad
from chaos.streams import (
    STREAM_LIMIT_S,
    ChatTally,
    StreamTally,
    answer_of,
    chat_tally,
    complete_answers,
    tally,
)
from harness.emulator_process import running_emulator
from harness.kafka import delete_namespace
from harness.processes import (
    ManagedProcess,
    free_port,
    gunicorn_app,
    infra_env,
    python_module,
    unique_namespace,
)
from schemas.topics import TopicNames
from services.common.admin import create_topics
from services.common.kafka_security import KafkaSecurity
from strategist.auth.keys import issue_key

logger = logging.getLogger(__name__)

SERVICES = ("classifier", "dispatcher", "scorer", "health")
READY_TIMEOUT_S = 60.0
EMULATOR_LATENCY_SCALE = 0.2
CAMPAIGN = "chaos"
KEY_MIN_RATE_PER_MINUTE = 60_000
KEY_RATE_HEADROOM = 20
"""Each query is a submit and several polls: the key's rate is far above the load's."""
"""Provider answers take a fraction of their real time: realistic, but many per second."""
EXIT_LOG_LINES = 30
STREAM_EVERY = 3
"""Every third query's caller reads its answer live instead of polling (chaos/streams.py):
in turn the strategist event stream and the `/v1` stream."""
FAULT_WINDOW_S = 10.0
"""Queries sent this long after a fault are the ones it can delay."""
FAULT_SCHEDULE = (
    (0.10, "classifier"),
    (0.22, "dispatcher"),
    (0.34, "scorer"),
    (0.46, "health"),
    (0.56, "app worker"),
    (0.66, "kafka"),
    (0.80, "redis"),
)


@dataclass
class FaultRecord:
    at_s: float
    what: str
    outcome: str
    worst_answer_after_s: float | None = None


@dataclass
class ChaosReport:
    duration_s: float
    rate_per_s: float
    sent: int = 0
    answered: int = 0
    answered_failed: int = 0
    lost: int = 0
    answered_twice: int = 0
    paid_twice: int = 0
    forgotten_after_redis_restart: int = 0
    forgotten_by_status: dict[int, int] = field(default_factory=dict)
    p95_time_to_answer_s: float = 0.0
    worst_time_to_answer_s: float = 0.0
    client_errors: dict[str, int] = field(default_factory=dict)
    faults: list[FaultRecord] = field(default_factory=list)
    exited: dict[str, int] = field(default_factory=dict)
    """Processes of the stack that died during the run (name -> exit code): nothing
    restarts them here, so everything they would have handled afterwards is lost."""
    exit_logs: dict[str, str] = field(default_factory=dict)
    """The last log lines of each process in `exited`, for the failure message."""
    streams: StreamTally = field(default_factory=StreamTally)
    chat_streams: ChatTally = field(default_factory=ChatTally)

    @property
    def clean(self) -> bool:
        return (
            self.streams.clean
            and self.chat_streams.clean
            and not (
                self.exited
                or self.lost
                or self.answered_twice
                or self.paid_twice
                or self.forgotten_after_redis_restart
            )
        )

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "clean": self.clean}


def _gunicorn(env: dict[str, str], port: int) -> ManagedProcess:
    return gunicorn_app("chaos-app", env, port, threads=16)


def _start(env: dict[str, str], port: int) -> Stack:
    services = {
        name: python_module(name, f"services.{name}", {**env, "SERVICE_INSTANCE_ID": "chaos-1"})
        for name in SERVICES
    }
    for process in services.values():
        process.start()
    app = _gunicorn(env, port).start()
    for name in ("classifier", "dispatcher", "scorer"):
        services[name].wait_for_log(" assigned ", READY_TIMEOUT_S)
    app.wait_until(
        lambda: httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200,
        READY_TIMEOUT_S,
        "/readyz",
    )
    return Stack(env=env, services=services, app=app)


def _inject(stack: Stack, what: str) -> str:
    if what in SERVICES:
        return stack.kill_and_restart(what)
    if what == "app worker":
        return stack.kill_app_worker()
    return stack.restart_infra(what)


def _nearest_index_percentile(values: list[float], q: float) -> float:
    """The value at the index nearest q % of the way from the smallest to the largest
    (numpy's method="nearest"); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def run_chaos(
    *,
    duration_s: float,
    rate: float,
    bootstrap: str,
    security: KafkaSecurity,
    redis_url: str,
    database_url: str,
    skip: frozenset[str] = frozenset(),
    progress: bool = True,
    stream_every: int = STREAM_EVERY,
) -> ChaosReport:
    """One run; `skip` names faults of FAULT_SCHEDULE to leave out (e.g. "kafka");
    every `stream_every`-th query (0: none) is read live (event stream or `/v1` stream).

    The load sends a strategist API key of the campaign "chaos", made here in
    `database_url`, with a rate far above the load's (the limit is not under test)."""
    namespace = unique_namespace("chaos")
    topics = TopicNames(namespace)
    create_topics(bootstrap, topics.specs(), security=security)
    report = ChaosReport(duration_s=duration_s, rate_per_s=rate)
    port = free_port()

    def say(text: str) -> None:
        if progress:
            print(f"[chaos] {text}", file=sys.stderr, flush=True)

    try:
        with running_emulator(latency_scale=EMULATOR_LATENCY_SCALE) as emulator:
            env = infra_env(
                namespace,
                KAFKA_BOOTSTRAP_SERVERS=bootstrap,
                REDIS_URL=redis_url,
                DATABASE_URL=database_url,
                EMULATOR_URL=emulator.base_url,
                LOCAL_MODEL_URL=f"http://127.0.0.1:{free_port()}/v1",
                LOG_LEVEL="INFO",
            )
            say(f"starting the stack in namespace {namespace}")
            key = issue_key(
                database_url,
                CAMPAIGN,
                rate_per_minute=max(KEY_MIN_RATE_PER_MINUTE, int(rate * 60 * KEY_RATE_HEADROOM)),
            )
            stack = _start(env, port)
            try:
                ids = _drive(
                    stack, report, f"http://127.0.0.1:{port}", key.header, say, skip, stream_every
                )
            finally:
                stack.stop()
        say("reading the responses and provider-attempts topics")
        ledger = read_ledger(bootstrap, security, topics.responses, topics.provider_attempts)
        report.answered_twice = len(ledger.answered_twice(ids))
        report.paid_twice = len(ledger.paid_twice(ids))
    finally:
        if os.environ.get("CHAOS_KEEP_NAMESPACE") != "1":
            delete_namespace(bootstrap, redis_url, namespace)
    return report


def _drive(
    stack: Stack,
    report: ChaosReport,
    base_url: str,
    headers: dict[str, str],
    say: Callable[[str], None],
    skip: frozenset[str],
    stream_every: int,
) -> set[str]:
    """Load, faults, answers; returns the ids of the analyses accepted."""
    load = OpenLoopLoad(
        base_url,
        report.rate_per_s,
        campaign=CAMPAIGN,
        headers=headers,
        stream_every=stream_every,
    )
    started = time.monotonic()
    load.start()
    say(f"sending {report.rate_per_s:g} queries/s for {report.duration_s:g}s")
    answered_before_redis: dict[str, str] = {}
    for fraction, what in FAULT_SCHEDULE:
        if what in skip:
            continue
        at = started + fraction * report.duration_s
        time.sleep(max(at - time.monotonic(), 0))
        if what == "redis":
            answered_before_redis = {
                a.analysis_id: a.status or ""
                for a in list(load.result.analyses.values())
                if a.answered_at is not None
            }
        outcome = _inject(stack, what)
        report.faults.append(FaultRecord(round(time.monotonic() - started, 1), what, outcome))
        say(f"t={time.monotonic() - started:5.1f}s {outcome}")
    time.sleep(max(started + report.duration_s - time.monotonic(), 0))
    load.stop_sending()
    say(f"sent {len(load.result.analyses)}; waiting up to {load.answer_grace_s:g}s for answers")
    load.wait(max(load.answer_grace_s, STREAM_LIMIT_S) + 30)  # a stream ends by its limit
    _count(report, load, started)
    _note_exits(stack, report)
    forgotten = _forgotten(base_url, headers, answered_before_redis)
    report.forgotten_after_redis_restart = sum(forgotten.values())
    report.forgotten_by_status = forgotten
    return set(load.result.analyses)


def _count(report: ChaosReport, load: OpenLoopLoad, started: float) -> None:
    analyses = list(load.result.analyses.values())
    report.sent = len(analyses) + load.result.rejected
    answered = [a for a in analyses if a.answered_at is not None]
    report.answered = len(answered)
    report.answered_failed = sum(1 for a in answered if a.status == "failed")
    report.lost = report.sent - report.answered
    for analysis in analyses:
        if analysis.answered_at is None:
            logger.warning(
                "lost: %s (sent at t=%.1fs)", analysis.analysis_id, analysis.sent_at - started
            )
    times = [a.answered_at - a.sent_at for a in answered if a.answered_at is not None]
    report.p95_time_to_answer_s = round(_nearest_index_percentile(times, 95), 2)
    report.worst_time_to_answer_s = round(max(times, default=0.0), 2)
    report.client_errors = dict(load.result.errors)
    complete = complete_answers(
        (a.query, *reply) for a in analyses if (reply := answer_of(a.body)) is not None
    )
    report.streams = tally(load.result.streams, complete)
    report.chat_streams = chat_tally(load.result.chats)
    for fault in report.faults:
        window = [
            a.answered_at - a.sent_at
            for a in answered
            if a.answered_at is not None
            and fault.at_s <= a.sent_at - started < fault.at_s + FAULT_WINDOW_S
        ]
        fault.worst_answer_after_s = round(max(window), 2) if window else None


def _note_exits(stack: Stack, report: ChaosReport) -> None:
    for name, process in [*stack.services.items(), ("app", stack.app)]:
        if process.proc is not None and process.proc.poll() is not None:
            report.exited[name] = process.proc.returncode
            report.exit_logs[name] = process.log_tail(EXIT_LOG_LINES)
            logger.warning(
                "%s exited (%s) during the run:\n%s",
                name,
                process.proc.returncode,
                report.exit_logs[name],
            )


def _forgotten(
    base_url: str, headers: dict[str, str], answered: dict[str, str]
) -> dict[int, int]:
    """Answers given before the Redis restart that the API no longer returns, by status."""
    forgotten: dict[int, int] = {}
    with httpx.Client(base_url=base_url, timeout=10, headers=headers) as client:
        for analysis_id in answered:
            response = client.get(f"{API}/analyses/{analysis_id}")
            if response.status_code != 200:
                forgotten[response.status_code] = forgotten.get(response.status_code, 0) + 1
                logger.warning(
                    "forgotten %s: %s %s", analysis_id, response.status_code, response.text[:200]
                )
    return forgotten
