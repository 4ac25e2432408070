"""Time to first token through `/v1/chat/completions` with the official SDK, streaming.

`python -m bench.openai_ttft` (what `make bench` runs) starts its own stack, as the other
benchmarks do: the emulator, the classifier, dispatcher, scorer and health service and
one app, in a fresh topic namespace on the broker, Redis and PostgreSQL that `make`
provides (KAFKA_BOOTSTRAP_SERVERS, REDIS_URL, DATABASE_URL; an admin key is made in
DATABASE_URL), warms it up, measures, stops it and deletes the namespace.
`python -m bench.openai_ttft --base-url http://127.0.0.1:8000/v1 --api-key sk-...`
(`STRATEGIST_API_KEY` instead of `--api-key`) measures a running app instead. Per request it
takes the time from the call to the first content chunk and subtracts the provider time
the provider states for the answer (`x_routing.provider_service_ms`, summed over every
attempt, failed ones included; measured where the provider serves the call, so the
dispatcher's own queueing is not hidden in it): what is left is what the pipeline adds
(the app, four Kafka hops, classifier, dispatcher, scorer). Streaming is buffered, so
the first token comes with the whole answer: time to first token = provider time to the
*complete* answer + pipeline time.

The last line is one JSON object with the figures (`pipeline_added_p50_ms`, ...), so a
caller such as `make bench` can collect it; `--format json` prints only that line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

from openai import OpenAI

from bench.stack import measured_stack
from bench.stats import nearest_rank_percentile

DEFAULT_REQUESTS = 20
DEFAULT_WARM_UP = 5
"""Requests sent and not measured: the first ones pay for cold connections and for the
consumers joining their groups."""
DEFAULT_LATENCY_SCALE = 0.0
"""The emulator answers at once: the time to first token is then nearly all ours."""
REQUEST_TIMEOUT_S = 90.0
QUESTIONS = (
    "Summarise in two sentences why early voting matters for turnout.",
    "What do the latest polls say about the Arizona Senate race?",
    "Fix the typos in: 'Vote on Tusday at you're local polling place'",
    "Compare door-knocking and digital ads for persuading undecided suburban voters.",
)


@dataclass(frozen=True)
class Sample:
    model: str
    ttft_ms: float
    total_ms: float
    provider_ms: float
    analysis_id: str = ""

    @property
    def pipeline_added_ms(self) -> float:
        return max(self.ttft_ms - self.provider_ms, 0.0)

    @property
    def first_over_total(self) -> float:
        """Time to the first content chunk over the whole request's (1.0: nothing early)."""
        return self.ttft_ms / self.total_ms if self.total_ms > 0 else 1.0


def stream_once(
    client: OpenAI, question: str, model: str = "auto", stream_mode: str | None = None
) -> Sample:
    """One streamed chat completion, timed; raises when it carries no routing.
    `stream_mode`: the body's `x_stream_mode` (None: the app's default)."""
    started = time.perf_counter()
    first: float | None = None
    routing: dict[str, Any] | None = None
    answered_by = ""
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": question}],
        stream=True,
        extra_body={"x_stream_mode": stream_mode} if stream_mode else None,
    )
    for chunk in stream:
        answered_by = chunk.model
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter()
        extra = chunk.model_extra or {}
        if "x_routing" in extra:
            routing = extra["x_routing"]
    done = time.perf_counter()
    if routing is None or first is None:
        raise RuntimeError(f"stream without text or x_routing: model={answered_by}")
    return Sample(
        model=answered_by,
        ttft_ms=(first - started) * 1000.0,
        total_ms=(done - started) * 1000.0,
        provider_ms=float(routing.get("provider_service_ms") or routing["provider_latency_ms"]),
        analysis_id=str(routing.get("analysis_id") or ""),
    )


def measure(
    client: OpenAI, requests: int, model: str = "auto", stream_mode: str | None = None
) -> list[Sample]:
    return [
        stream_once(client, QUESTIONS[i % len(QUESTIONS)], model, stream_mode)
        for i in range(requests)
    ]


def summary(samples: list[Sample]) -> dict[str, float]:
    added = [s.pipeline_added_ms for s in samples]
    ttft = [s.ttft_ms for s in samples]
    return {
        "requests": len(samples),
        "ttft_p50_ms": round(nearest_rank_percentile(ttft, 50), 1),
        "ttft_p95_ms": round(nearest_rank_percentile(ttft, 95), 1),
        "pipeline_added_p50_ms": round(nearest_rank_percentile(added, 50), 1),
        "pipeline_added_p95_ms": round(nearest_rank_percentile(added, 95), 1),
        "first_over_total_p50": round(
            nearest_rank_percentile([s.first_over_total for s in samples], 50), 3
        ),
    }


def _run(args: argparse.Namespace, base_url: str, api_key: str) -> list[Sample]:
    client = OpenAI(base_url=base_url, api_key=api_key, timeout=REQUEST_TIMEOUT_S, max_retries=0)
    try:
        measure(client, args.warm_up, args.model, args.stream_mode)
        return measure(client, args.requests, args.model, args.stream_mode)
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.openai_ttft",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--base-url", default=None, help="a running app's /v1 (default: start a stack here)"
    )
    parser.add_argument("--api-key", default=os.environ.get("STRATEGIST_API_KEY"))
    parser.add_argument("--requests", type=int, default=DEFAULT_REQUESTS)
    parser.add_argument("--warm-up", type=int, default=DEFAULT_WARM_UP)
    parser.add_argument("--model", default="auto")
    parser.add_argument(
        "--stream-mode",
        choices=("auto", "live", "buffered"),
        default=None,
        help="x_stream_mode of every request (default: the app's STRATEGIST_STREAM_MODE)",
    )
    parser.add_argument(
        "--latency-scale",
        type=float,
        default=DEFAULT_LATENCY_SCALE,
        help="the emulator's latency scale when a stack is started here (0: at once)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    args = parser.parse_args(argv)
    if args.requests < 1:
        parser.error("--requests must be at least 1")
    if args.base_url is not None:
        if not args.api_key:
            parser.error("give --api-key or set STRATEGIST_API_KEY")
        samples = _run(args, args.base_url, args.api_key)
    else:
        database_url = os.environ.get("DATABASE_URL")
        if not database_url:
            parser.error("DATABASE_URL is not set (API keys live in PostgreSQL; make sets it)")
        print("[openai_ttft] starting the stack", file=sys.stderr)
        with measured_stack("ttft", database_url, latency_scale=args.latency_scale) as stack:
            samples = _run(args, f"{stack.app_url}/v1", stack.api_key)
    result = summary(samples)
    if args.format == "json":
        print(json.dumps({**result, "samples": [asdict(s) for s in samples]}))
        return 0
    for s in samples:
        print(
            f"{s.model:<18} first token {s.ttft_ms:7.0f} ms  provider {s.provider_ms:7.0f} ms  "
            f"pipeline added {s.pipeline_added_ms:6.0f} ms"
        )
    print(
        f"time to first token p50 {result['ttft_p50_ms']:.0f} ms, p95 {result['ttft_p95_ms']:.0f}"
        f" ms; added by the pipeline p50 {result['pipeline_added_p50_ms']:.0f} ms, "
        f"p95 {result['pipeline_added_p95_ms']:.0f} ms"
    )
    print(json.dumps({"benchmark": "openai_ttft", **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
