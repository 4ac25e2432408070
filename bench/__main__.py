"""Pipeline overhead and capacity benchmark: routed path vs direct path, in one run.

Starts its own emulator, the services (classifier, dispatcher, scorer, health,
recorder) and two apps (routing on / routing off) in a fresh topic namespace on the
broker, Redis and PostgreSQL that `make bench` provides. After a warm-up it sends
`POST /api/v1/strategist/analyze` at fixed arrival rates (open loop: bench/load.py says
why) to the direct app, then to the routed app, at each rate and each emulator latency
scale (0: the provider answers at once, so every millisecond is ours; 1: realistic
model latencies, about a second, so hundreds of queries are in flight).

Overhead is each request's time minus the provider's own service time, which the
provider states per call in a response header (the emulator's `x-emulator-service-ms`,
summed by the pipeline into `routing.provider_service_ms`), so the busy dispatcher's
queueing counts as ours, as it should. Per run it prints overhead p50/p95/p99/max,
errors (anything but a completed 200 answer, including 202 "still running"), the rate
achieved, CPU milliseconds per query of every process and resident memory at the end
(bench/processes.py). `--profile` samples every Python process with py-spy during an
extra routed run (`--profile-rate`, default 100/s), zero latency (bench/profile.py;
files in var/bench/). Before each run the pipeline is left to drain what the previous
one may have left in the topics.

The last line is one JSON object: `routed_overhead_p50_ms`, `routed_overhead_p99_ms`,
`direct_overhead_p50_ms`, `direct_overhead_p99_ms` (the run closest to 100/s at zero
latency; `reference_rate_qps` says which), `max_sustained_qps` (highest routed rate with
p99 overhead under 50 ms and no error at latency scale 1; null when not measured),
`rss_mb_total` (the stack with one app: services, broker, Redis, PostgreSQL; shared pages
counted in every process that maps them), `pss_mb_total` (the same, each shared page
counted once: what the machine holds), `machine`
and every run; then the streaming figures (bench/streaming.py: `stream_ttft_added_p50_ms`,
`stream_ttft_added_p99_ms`, `stream_gap_added_p99_ms`, `stream_first_over_total` and the
provider's, CPU per streamed and per buffered query) and `open_streams_max`
(bench/streams.py, after the stack is stopped: event streams one app held open while
slow sockets trickled their headers). Requests carry an admin key made here in
DATABASE_URL; its rate limit is far above the benchmark's.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import psutil

from bench import processes, streams
from bench.profile import Recording
from bench.runs import Stack, drain, load, measured_run, print_run, set_latency
from bench.stack import KEY_RATE_PER_MINUTE, AppSpec, running_stack, stack_env
from bench.stats import RateRun, summary
from bench.streaming import SDK_REQUESTS, STREAM_LATENCY_SCALE, Topic, measure_streaming
from bench.trace_sink import running_trace_sink
from harness.emulator_process import running_emulator
from harness.kafka import delete_namespace
from harness.processes import (
    REPO_ROOT,
    unique_namespace,
)
from schemas.topics import TopicNames
from services.common.admin import create_topics
from services.common.settings import InfraSettings
from strategist.auth.keys import issue_key

DEFAULT_RATES = (50.0, 100.0, 200.0, 300.0, 400.0)
DEFAULT_DURATION_S = 30.0
DEFAULT_LATENCIES = (0.0, 1.0)
DEFAULT_WARMUP_S = 10.0
DEFAULT_STREAM_DURATION_S = 20.0
DEFAULT_OPEN_STREAMS = 1000
DEFAULT_SLOWLORIS = 300
WARMUP_RATE_QPS = 20.0
PROFILE_RATE_QPS = 100.0
SERVICES = ("classifier", "dispatcher", "scorer", "health", "recorder")
APP_WORKERS = 2
APP_THREADS = 320
"""Per worker: 400/s at about a second each is some 500 requests waiting at once."""
SYNC_WAIT_LIMIT = 300
"""Per worker, below its threads (so /healthz still answers); more would get 202."""
DISPATCHER_MAX_IN_FLIGHT = 2048
PROFILE_DIR = REPO_ROOT / "var" / "bench"


def machine() -> str:
    memory_gib = psutil.virtual_memory().total / 1024**3
    return (
        f"{platform.node()} {platform.machine()} {os.cpu_count()} cores {memory_gib:.1f} GiB, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


@contextlib.contextmanager
def _stack(
    namespace: str, database_url: str, dispatchers: int = 1, trace_export: bool = False
) -> Iterator[Stack]:
    """Emulator, services and both apps, up and ready; stopped when the block ends. With
    `trace_export`, every process exports its spans to a sink (bench/trace_sink.py)."""
    with running_emulator(latency_scale=0.0) as emulator, contextlib.ExitStack() as sink:
        tracing = {"OTEL_EXPORTER_OTLP_ENDPOINT": sink.enter_context(running_trace_sink())}
        env = stack_env(
            namespace,
            emulator.base_url,
            database_url,
            STRATEGIST_SYNC_WAIT_LIMIT=str(SYNC_WAIT_LIMIT),
            DISPATCHER_MAX_IN_FLIGHT=str(DISPATCHER_MAX_IN_FLIGHT),
            **(tracing if trace_export else {"OTEL_EXPORTER_OTLP_ENDPOINT": ""}),
        )
        apps = {
            "routed": AppSpec("app-routed", {}, workers=APP_WORKERS, threads=APP_THREADS),
            "direct": AppSpec(
                "app-direct",
                {"STRATEGIST_ROUTING__ENABLED": "false"},
                workers=APP_WORKERS,
                threads=APP_THREADS,
            ),
        }
        with running_stack(env, apps, services=SERVICES, dispatchers=dispatchers) as running:
            print(f"[bench] stack ready in {running.ready_s:.1f} s", flush=True)
            groups = [
                *(processes.Group(f"app-{path}", processes.pid_of(app))
                  for path, app in running.apps.items()),
                *(processes.Group(s.name, processes.pid_of(s)) for s in running.services),
                *processes.infrastructure(Path(os.environ.get("VAR_DIR", REPO_ROOT / "var"))),
                processes.Group("emulator", processes.listening_pid(emulator.base_url)),
                processes.load_generator(),
            ]  # fmt: skip
            yield Stack(apps=running.urls, groups=groups, emulator=emulator)


def _profile(stack: Stack, headers: dict[str, str], rate: float, duration_s: float) -> None:
    """A routed run at `rate`, zero latency, with every Python process sampled."""
    set_latency(stack.emulator, 0.0)
    drain(stack.apps["routed"], headers)
    python_groups = [
        g for g in stack.groups if g.name.startswith("app-routed") or g.name in SERVICES
    ]
    recording = Recording(python_groups, PROFILE_DIR, duration_s).start()
    result = load(stack.apps["routed"], rate, duration_s, headers)
    answered = len(result.samples) - result.errors
    print(
        f"[bench] profile: routed {rate:g}/s, {answered} answered, {result.errors} errors, "
        f"files in {PROFILE_DIR}"
    )
    for profile in recording.finish():
        text = profile.text(answered)
        print(text)
        (PROFILE_DIR / f"{profile.name}.top.txt").write_text(text + "\n")


def _measure(
    args: argparse.Namespace, namespace: str, database_url: str, topic: Topic
) -> dict[str, object]:
    headers = issue_key(
        database_url, "bench", role="admin", rate_per_minute=KEY_RATE_PER_MINUTE
    ).header
    runs: list[RateRun] = []
    with _stack(namespace, database_url, args.dispatchers, args.trace_export) as stack:
        # Warm-up: consumer group assignment, connections, first-call costs.
        for url in stack.apps.values():
            load(url, WARMUP_RATE_QPS, args.warmup, headers)
        for scale in args.latency:
            set_latency(stack.emulator, scale)
            for rate in args.rates:
                for path in ("direct", "routed"):
                    run, result = measured_run(stack, path, rate, scale, args.duration, headers)
                    print_run(run, result)
                    runs.append(run)
        if args.profile:
            _profile(stack, headers, args.profile_rate, args.duration)
        streaming = (
            measure_streaming(stack, headers, topic, duration_s=args.stream_duration,
                              sdk_requests=args.sdk_requests,
                              latency_scale=args.stream_latency)  # fmt: skip
            if args.stream_duration > 0
            else {}
        )
        stack_rss = {
            k: v for k, v in processes.rss_mb(stack.groups).items() if k != "app-direct"
        }
        stack_pss = {
            k: v for k, v in processes.pss_mb(stack.groups).items() if k != "app-direct"
        }
    print("[bench] PSS MiB at the end: " + ", ".join(f"{k} {v:.0f}" for k, v in stack_pss.items()))
    report = summary(
        runs,
        rss_mb_total=processes.stack_total(stack_rss),
        pss_mb_total=processes.stack_total(stack_pss),
        machine=machine(),
        sustained_latency_scale=max(args.latency),
    )
    return {**report, **streaming, **_open_streams(args.open_streams, args.slowloris)}


def _open_streams(count: int, slowloris: int) -> dict[str, object]:
    """bench/streams.py on an app of its own: how many event streams it held open."""
    if count <= 0:
        return {}
    figures = streams.measure("asgi", count, slowloris)
    print(f"[bench] open streams: {figures}", flush=True)
    return {"open_streams_max": figures["streams_open"], "open_streams": figures}


def _floats(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text}") from err
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"need non-negative numbers: {text}")
    return values


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--rates", type=_floats, default=list(DEFAULT_RATES),
                        help="arrival rates in queries per second (default 50,100,200,300,400)")
    parser.add_argument("--duration", type=float, default=DEFAULT_DURATION_S,
                        help="seconds per rate and path (default 30)")
    parser.add_argument("--latency", type=_floats, default=list(DEFAULT_LATENCIES),
                        help="emulator latency scales (default 0,1)")
    parser.add_argument("--warmup", type=float, default=DEFAULT_WARMUP_S,
                        help=f"seconds of warm-up per path at {WARMUP_RATE_QPS:g}/s")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy every Python process in an extra routed run")
    parser.add_argument("--profile-rate", type=float, default=PROFILE_RATE_QPS,
                        help=f"arrival rate of the profiled run (default {PROFILE_RATE_QPS:g})")
    parser.add_argument("--dispatchers", type=int, default=1,
                        help="dispatcher instances (the scaling measurement in "
                             "docs/performance.md; default 1)")
    parser.add_argument("--trace-export", action="store_true",
                        help="every process exports its spans over OTLP (to a sink here); "
                             "without it tracing is off (docs/tracing.md)")
    parser.add_argument("--stream-duration", type=float, default=DEFAULT_STREAM_DURATION_S,
                        help="seconds of each streaming run (streamed, then buffered; 0 skips "
                             f"the streaming figures; default {DEFAULT_STREAM_DURATION_S:g})")
    parser.add_argument("--stream-latency", type=float, default=STREAM_LATENCY_SCALE,
                        help="emulator latency scale of the streaming runs (default "
                             f"{STREAM_LATENCY_SCALE:g}: realistic)")
    parser.add_argument("--sdk-requests", type=int, default=SDK_REQUESTS,
                        help=f"Gemini 2.5 Pro requests through /v1 with the openai SDK after "
                             f"the streaming runs (default {SDK_REQUESTS})")
    parser.add_argument("--open-streams", type=int, default=DEFAULT_OPEN_STREAMS,
                        help="event streams bench.streams opens on an app of its own (0 "
                             f"skips it; default {DEFAULT_OPEN_STREAMS})")
    parser.add_argument("--slowloris", type=int, default=DEFAULT_SLOWLORIS,
                        help="slow sockets trickling headers meanwhile "
                             f"(default {DEFAULT_SLOWLORIS})")
    args = parser.parse_args(argv)  # fmt: skip
    if any(rate <= 0 for rate in args.rates):
        parser.error("--rates must be positive")
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        parser.error("DATABASE_URL is not set (API keys live in PostgreSQL; make bench sets it)")

    namespace = unique_namespace("bench")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    create_topics(bootstrap, TopicNames(namespace).specs(), security=InfraSettings().kafka_security)
    print(f"[bench] machine: {machine()}; namespace {namespace}")
    print(
        f"[bench] rates {args.rates} q/s, {args.duration:g} s each, latency scales "
        f"{args.latency}; app {APP_WORKERS} workers x {APP_THREADS} threads; "
        f"trace export {'on' if args.trace_export else 'off'}", flush=True
    )
    topic = Topic(bootstrap, InfraSettings().kafka_security, TopicNames(namespace).answer_deltas)
    try:
        report = _measure(args, namespace, database_url, topic)
    finally:
        delete_namespace(bootstrap, os.environ.get("REDIS_URL"), namespace)
    print(json.dumps(report, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
