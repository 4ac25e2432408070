"""The streaming figures of `python -m bench`: what live streaming adds, and what it costs.

On the bench's running stack, the emulator at realistic latency (scale 1):

1. `rate` streamed analyses a second (the strategist event stream, `options.stream_mode`
   "live") for `duration_s`: the time the pipeline adds to each delta, from the delta
   events' own timestamps to the caller's arrival time (bench/delta_timing.py), the
   dispatcher's delta events per answer, and CPU per streamed query;
2. the same queries at the same rate as JSON callers (`POST /analyze`, the answer
   whole): CPU per buffered query;
3. Gemini 2.5 Pro through `/v1/chat/completions` with the official `openai` SDK,
   `stream: true`, `x_stream_mode` "live", one at a time: time to the first content chunk
   over the request's time at the caller, next to the same ratio at the provider for the
   same answers (from the answer-deltas topic).

CPU per query is the app's and the services' (the processes streaming changes); the
broker, Redis and PostgreSQL are shared with whatever else runs on the machine, so their
share is printed but left out of the ratio.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from openai import OpenAI

from bench import processes
from bench.delta_timing import added_delays, deltas_by_analysis, provider_first_over_total
from bench.load import LoadResult
from bench.openai_ttft import Sample
from bench.openai_ttft import measure as sdk_measure
from bench.runs import Stack, body, drain, load, set_latency
from bench.stats import nearest_rank_percentile
from bench.stream_load import run_stream_load
from harness.event_stream import StreamRead
from harness.kafka import read_to_end
from schemas.delta import AnswerDelta
from services.common.consumer import consumer_config
from services.common.kafka_security import KafkaSecurity

STREAM_RATE_QPS = 10.0
STREAM_LATENCY_SCALE = 1.0
SDK_MODEL = "gemini-2.5-pro"
SDK_REQUESTS = 8
SDK_WARM_UP = 2
SDK_TIMEOUT_S = 90.0
INFRA = frozenset({"broker", "redis", "postgres"})
OWN = "own"
"""The app's and the services' CPU per query (the sum), under this key."""
T = TypeVar("T")


@dataclass(frozen=True)
class Topic:
    """Where the answer-deltas events are read back."""

    bootstrap: str
    security: KafkaSecurity
    answer_deltas: str

    def read(self) -> dict[str, list[AnswerDelta]]:
        config = consumer_config(self.bootstrap, group_id="bench-delta-reader",
                                 client_id="bench-deltas", security=self.security)  # fmt: skip
        return deltas_by_analysis(read_to_end(config, self.answer_deltas))


def live_body(i: int) -> dict[str, Any]:
    """The bench's `i`-th body, asking for live streaming whatever the app's default."""
    return {**body(i), "options": {"stream_mode": "live"}}


def _with_cpu(
    stack: Stack, path: str, run: Callable[[], tuple[T, int]]
) -> tuple[T, dict[str, float]]:
    """`run()` (its result and how many it answered) and the CPU ms per answer of every
    group, with OWN: the sum over `path`'s app and the services."""
    before = processes.cpu_seconds(stack.groups)
    result, answered = run()
    per_query = processes.cpu_ms_per_query(before, processes.cpu_seconds(stack.groups), answered)
    left_out = (
        processes.NOT_STACK
        | INFRA
        | {n for n in per_query if n.startswith("app-") and n != f"app-{path}"}
    )
    per_query[OWN] = sum(v for name, v in per_query.items() if name not in left_out)
    return result, per_query  # fmt: skip


def _p(values: list[float], q: float) -> float | None:
    return round(nearest_rank_percentile(sorted(values), q), 1) if values else None


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None


def measure_streaming(
    stack: Stack,
    headers: dict[str, str],
    topic: Topic,
    *,
    duration_s: float,
    sdk_requests: int = SDK_REQUESTS,
    latency_scale: float = STREAM_LATENCY_SCALE,
    path: str = "routed",
) -> dict[str, Any]:
    """The streaming figures (see the module); prints what it measured."""
    url = stack.apps[path]
    set_latency(stack.emulator, latency_scale)
    drain(url, headers)

    def streamed() -> tuple[list[StreamRead], int]:
        reads = asyncio.run(
            run_stream_load(
                url=url,
                rate_qps=STREAM_RATE_QPS,
                duration_s=duration_s,
                body_for=live_body,
                headers=headers,
            )
        )
        return reads, sum(1 for r in reads if r.final == "done")

    def buffered() -> tuple[LoadResult, int]:
        result = load(url, STREAM_RATE_QPS, duration_s, headers)
        return result, len(result.samples) - result.errors

    reads, cpu_streamed = _with_cpu(stack, path, streamed)
    drain(url, headers)
    json_result, cpu_buffered = _with_cpu(stack, path, buffered)
    sdk = _sdk(url, headers, sdk_requests)
    by_analysis = topic.read()
    delays = added_delays(reads, by_analysis)
    provider = [
        r
        for s in sdk
        if (r := provider_first_over_total(by_analysis.get(s.analysis_id, []))) is not None
    ]
    figures = {
        "stream_ttft_added_p50_ms": _p(delays.first_ms, 50),
        "stream_ttft_added_p99_ms": _p(delays.first_ms, 99),
        "stream_gap_added_p50_ms": _p(delays.later_ms, 50),
        "stream_gap_added_p99_ms": _p(delays.later_ms, 99),
        "stream_live_answers": len(delays.first_ms),
        "stream_held_answers": len(delays.held_first_ms),
        "stream_held_first_p50_ms": _p(delays.held_first_ms, 50),
        "stream_held_first_p99_ms": _p(delays.held_first_ms, 99),
        "stream_first_over_total":
            round(statistics.median(s.first_over_total for s in sdk), 3) if sdk else None,
        "stream_first_over_total_provider":
            round(statistics.median(provider), 3) if provider else None,
        "cpu_ms_per_streamed_query": round(cpu_streamed[OWN], 2),
        "cpu_ms_per_buffered_query": round(cpu_buffered[OWN], 2),
        "cpu_streamed_over_buffered": _ratio(cpu_streamed[OWN], cpu_buffered[OWN]),
        "dispatcher_cpu_ms_per_streamed_query": round(cpu_streamed.get("dispatcher", 0.0), 2),
        "delta_events_per_answer":
            round(statistics.mean(delays.text_events), 1) if delays.text_events else None,
        "stream_runs": {
            "sent": len(reads), "done": sum(1 for r in reads if r.final == "done"),
            "error": sum(1 for r in reads if r.final == "error"),
            "ended_otherwise": sorted(r.failure or "cut" for r in reads if r.final is None),
            "unmatched": delays.unmatched, "restarts": sum(r.restarts for r in reads),
            "buffered_errors": json_result.errors, "sdk_requests": len(sdk),
        },
    }  # fmt: skip
    print(f"[bench] streaming {STREAM_RATE_QPS:g}/s, latency {latency_scale:g}:")
    _print(figures, cpu_streamed, cpu_buffered)
    return figures


def _sdk(url: str, headers: dict[str, str], requests: int) -> list[Sample]:
    key = headers["Authorization"].removeprefix("Bearer ")
    client = OpenAI(base_url=f"{url}/v1", api_key=key, timeout=SDK_TIMEOUT_S, max_retries=0)
    try:
        sdk_measure(client, min(SDK_WARM_UP, requests), SDK_MODEL, "live")
        return sdk_measure(client, requests, SDK_MODEL, "live")
    finally:
        client.close()


def _print(figures: dict[str, Any], streamed: dict[str, float], buffered: dict[str, float]) -> None:
    def line(cpu: dict[str, float]) -> str:
        return ", ".join(f"{k} {v:.2f}" for k, v in cpu.items() if k not in processes.NOT_STACK)

    print(
        f"[bench]        added "
        f"time to first token p50 {figures['stream_ttft_added_p50_ms']} / p99 "
        f"{figures['stream_ttft_added_p99_ms']} ms, later deltas p50 "
        f"{figures['stream_gap_added_p50_ms']} / p99 "
        f"{figures['stream_gap_added_p99_ms']} ms over {figures['stream_live_answers']} live "
        f"answers; {figures['stream_held_answers']} held back (first text after p50 "
        f"{figures['stream_held_first_p50_ms']} / p99 {figures['stream_held_first_p99_ms']} ms); "
        f"{figures['delta_events_per_answer']} "
        f"text delta events per answer; {figures['stream_runs']}"
    )
    print(f"[bench]        CPU ms per streamed query: {line(streamed)}")
    print(f"[bench]        CPU ms per buffered (JSON) query: {line(buffered)}")
    print(f"[bench]        {SDK_MODEL} via /v1 (openai SDK, live): first chunk over total "
          f"{figures['stream_first_over_total']} at the caller, "
          f"{figures['stream_first_over_total_provider']} at the provider", flush=True)  # fmt: skip
