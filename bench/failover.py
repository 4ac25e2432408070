"""`python -m bench.failover`: every provider fault, injected, and what the caller sees.

Starts its own emulator, the classifier, dispatcher, scorer and health services and one
app in a fresh topic namespace (on the broker, Redis and PostgreSQL that `make failover`
provides, like `make bench`), warms the dispatcher up (its first-token limits narrow to
each model's observed latency after `providers.limits.MIN_SAMPLES` answers), then for
each fault: resets the emulator, waits until traffic is back on the primary (circuits
closed, health recovered), injects the fault and asks one question through the strategist
API (`POST /api/v1/strategist/analyze`) and through the OpenAI-compatible endpoint
(`POST /v1/chat/completions`, plain and `stream: true`). Per fault it prints the attempts
made, the model that answered, the time to the answer, and whether the text is complete
(identical to that model's answer to the same question when healthy). Then, per fault, a
column per stream mode (`auto`, `live`, `buffered`): what a caller reading the strategist
event stream and one reading the `/v1` stream in that mode saw (bench/failover_streams.py:
seamless, restart, a clean error, or what must never happen). Then a provider outage: how
queries during it were answered, and how soon traffic returns to the primary.
The faults, and injecting one, are bench/provider_faults.py.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import httpx

from bench.failover_streams import MODES, chat_outcome, events_outcome, is_bad
from bench.provider_faults import COMPLEX, FAULTS, QUESTIONS, Fault, injected
from bench.stack import measured_stack
from harness.emulator_process import EmulatorControl

ANALYZE = "/api/v1/strategist/analyze"
CHAT = "/v1/chat/completions"
REQUEST_TIMEOUT_S = 60.0
SETTLE_TIMEOUT_S = 30.0
"""Longest wait for traffic to return to the primaries between two faults."""
SETTLE_PAUSE_S = 0.3
WARM_UP_PER_QUESTION = 25
"""Answers per primary before measuring (providers.limits needs 20 to narrow a limit)."""


@dataclass(frozen=True)
class Row:
    fault: str
    via: str
    status: int
    attempts: int
    model: str
    seconds: float
    complete: str
    note: str


@dataclass(frozen=True)
class ModeRow:
    """One fault: per stream mode, "<event stream outcome> / <v1 stream outcome>"."""

    fault: str
    cells: dict[str, str]

    @property
    def bad(self) -> bool:
        return any(is_bad(part) for cell in self.cells.values() for part in cell.split(" / "))


class Client:
    """The two front doors, with the benchmark's key; remembers healthy answers' texts."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=REQUEST_TIMEOUT_S)
        self.healthy_text: dict[tuple[str, str], str] = {}
        self.primary: dict[str, str] = {}
        """question -> the model that answers it when every provider is healthy."""

    def analyze(self, question: str, **options: Any) -> tuple[int, dict[str, Any], float]:
        body: dict[str, Any] = {"query": question, "campaign_id": "failover"}
        if options:
            body["options"] = options
        started = time.perf_counter()
        response = self._http.post(ANALYZE, json=body)
        return response.status_code, response.json(), time.perf_counter() - started

    def chat(self, question: str, *, stream: bool) -> tuple[int, dict[str, Any], float]:
        """One chat completion; a stream is read to its end and folded into one body."""
        body = {
            "model": "auto",
            "messages": [{"role": "user", "content": question}],
            "stream": stream,
        }
        started = time.perf_counter()
        if not stream:
            response = self._http.post(CHAT, json=body)
            return response.status_code, response.json(), time.perf_counter() - started
        text, folded = [], {}
        with self._http.stream("POST", CHAT, json=body) as response:
            if response.status_code != 200:
                response.read()
                return response.status_code, response.json(), time.perf_counter() - started
            for line in response.iter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[len("data: ") :])
                if "error" in chunk:  # in-band: the answer shown so far is withdrawn
                    return 200, {"error": chunk["error"]}, time.perf_counter() - started
                folded.update({k: v for k, v in chunk.items() if k != "choices"})
                for choice in chunk.get("choices", []):
                    text.append(choice.get("delta", {}).get("content") or "")
        folded["choices"] = [{"message": {"content": "".join(text)}}]
        return 200, folded, time.perf_counter() - started

    def complete(self, question: str, model: str) -> str | None:
        return self.healthy_text.get((question, model))

    def stream_modes(self, fault: Fault, emulator: EmulatorControl, modes: list[str]) -> ModeRow:
        """`fault`'s outcome per stream mode, for an event-stream caller and a /v1 one."""
        cells = {}
        for mode in modes:
            outcomes = []
            for outcome_of in (events_outcome, chat_outcome):
                _settle(self)
                with injected(emulator, fault):
                    outcomes.append(
                        outcome_of(self._http, fault.question, mode, self.complete,
                                   REQUEST_TIMEOUT_S)
                    )  # fmt: skip
            cells[mode] = " / ".join(outcomes)
        return ModeRow(fault.name, cells)

    def close(self) -> None:
        self._http.close()


def _row(
    fault: Fault, via: str, status: int, body: dict[str, Any], seconds: float, client: Client
) -> Row:
    """One table row from a strategist or chat-completions answer."""
    if via == "analyze":
        routing = body.get("routing") or {}
        text = body.get("result")
    else:
        routing = body.get("x_routing") or (body.get("error") or {}).get("x_routing") or {}
        choices = body.get("choices") or [{}]
        text = (choices[0].get("message") or {}).get("content")
    failed = routing.get("failed_attempts") or []
    model = routing.get("model") or body.get("model") or "-"
    answered = status == 200 and text
    attempts = len(failed) + (1 if answered else 0)
    kinds = [a.get("error_kind") or a.get("outcome") for a in failed]
    skipped = [f"skip:{a.get('error_kind')}" for a in routing.get("skipped") or []]
    if answered:
        expected = client.healthy_text.get((fault.question, model))
        complete = "?" if expected is None else ("yes" if text == expected else "NO")
        note = " ".join([*kinds, *skipped])
    else:
        complete = "-"
        error = body.get("error")
        message = error.get("message") if isinstance(error, dict) else error
        note = " ".join([*kinds, f"error: {str(message)[:60]}"])
    return Row(fault.name, via, status, attempts, model, seconds, complete, note)


def _settle(client: Client) -> None:
    """Until both primaries answer again (their circuits closed, health recovered)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    for question, model in client.primary.items():
        while time.monotonic() < deadline:
            status, body, _ = client.analyze(question)
            if status == 200 and body["routing"]["model"] == model:
                break
            time.sleep(SETTLE_PAUSE_S)


def _warm_up(client: Client) -> None:
    """Answers per primary (derived limits), and each model's healthy text per question."""
    for question in QUESTIONS:
        answered: dict[str, int] = {}
        for _ in range(WARM_UP_PER_QUESTION):
            status, body, _ = client.analyze(question)
            if status == 200:
                model = body["routing"]["model"]
                answered[model] = answered.get(model, 0) + 1
        client.primary[question] = max(answered, key=lambda m: answered[m])
        for provider in ("gemini", "perplexity"):
            status, body, _ = client.analyze(question, providers=[provider])
            if status == 200:
                client.healthy_text[(question, body["routing"]["model"])] = body["result"]


def _outage(emulator: EmulatorControl, client: Client, outage_s: float) -> list[str]:
    """Gemini down for `outage_s`, then back: who answered during it, when traffic returned."""
    httpx.put(
        f"{emulator.base_url}/_control/providers/gemini", json={"mode": "down"}, timeout=5
    ).raise_for_status()
    ends = time.monotonic() + outage_s
    answered: dict[str, int] = {}
    latencies: list[float] = []
    while time.monotonic() < ends:
        status, body, seconds = client.analyze(COMPLEX)
        model = body["routing"]["model"] if status == 200 else f"HTTP {status}"
        answered[model] = answered.get(model, 0) + 1
        latencies.append(seconds)
    emulator.reset()
    back = time.monotonic()
    returned_s, after = None, 0
    while time.monotonic() - back < SETTLE_TIMEOUT_S:
        status, body, _ = client.analyze(COMPLEX)
        after += 1
        if status == 200 and body["routing"]["model"] == client.primary[COMPLEX]:
            returned_s = time.monotonic() - back
            break
        time.sleep(0.1)
    during = ", ".join(f"{n} by {m}" for m, n in sorted(answered.items()))
    returned = "never" if returned_s is None else f"{returned_s:.1f} s ({after} queries)"
    return [
        f"outage of {outage_s:.0f} s: {sum(answered.values())} queries, {during}; "
        f"slowest {max(latencies, default=0):.2f} s",
        f"traffic back on {client.primary[COMPLEX]} after recovery: {returned}",
    ]


def _print_modes(rows: list[ModeRow], output: str) -> None:
    if not rows:
        return
    if output == "json":
        print(json.dumps([row.__dict__ for row in rows], indent=2))
        return
    modes = list(rows[0].cells)
    print("\nstreaming callers per stream mode (strategist event stream / /v1 stream):")
    width = {m: max(len(m), *(len(r.cells[m]) for r in rows)) + 2 for m in modes}
    header = f"{'fault':<32} " + "".join(f"{m:<{width[m]}}" for m in modes)
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r.fault:<32} " + "".join(f"{r.cells[m]:<{width[m]}}" for m in modes))


def _print(rows: list[Row], output: str) -> None:
    if output == "json":
        print(json.dumps([row.__dict__ for row in rows], indent=2))
        return
    header = (
        f"{'fault':<32} {'via':<12} {'HTTP':>4} {'att':>3} {'answered by':<17} "
        f"{'time s':>6} {'complete':<8} notes"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r.fault:<32} {r.via:<12} {r.status:>4} {r.attempts:>3} {r.model:<17} "
            f"{r.seconds:>6.2f} {r.complete:<8} {r.note}"
        )


def _measure(args: argparse.Namespace, database_url: str) -> int:
    with measured_stack("failover", database_url, latency_scale=args.latency_scale) as stack:
        client = Client(stack.app_url, stack.headers)
        try:
            print(
                f"[failover] warming up ({WARM_UP_PER_QUESTION} answers per primary)",
                file=sys.stderr,
            )
            _warm_up(client)
            rows: list[Row] = []
            for fault in FAULTS:
                for via in args.via:
                    _settle(client)
                    print(f"[failover] {fault.name} via {via}", file=sys.stderr)
                    with injected(stack.emulator, fault):
                        if via == "analyze":
                            status, body, seconds = client.analyze(fault.question)
                        else:
                            status, body, seconds = client.chat(
                                fault.question, stream=via == "chat-stream"
                            )
                    rows.append(_row(fault, via, status, body, seconds, client))
            _print(rows, args.format)
            mode_rows = []
            for fault in FAULTS if args.modes else []:
                print(f"[failover] {fault.name}: stream modes {args.modes}", file=sys.stderr)
                mode_rows.append(client.stream_modes(fault, stack.emulator, args.modes))
            _print_modes(mode_rows, args.format)
            if args.outage_s > 0:
                _settle(client)
                for line in _outage(stack.emulator, client, args.outage_s):
                    print(f"[failover] {line}")
        finally:
            client.close()
    truncated = [r for r in rows if r.complete == "NO"]
    return 1 if truncated or any(r.bad for r in mode_rows) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.failover",
        description="Inject every provider fault through the emulator; print what callers see.",
    )
    parser.add_argument(
        "--via",
        nargs="+",
        default=["analyze", "chat", "chat-stream"],
        choices=["analyze", "chat", "chat-stream"],
        help="front doors to measure (default: all three)",
    )
    parser.add_argument(
        "--modes",
        nargs="*",
        default=list(MODES),
        choices=list(MODES),
        help="stream modes to give a column each (default: all three; none: skip them)",
    )
    parser.add_argument(
        "--outage-s",
        type=float,
        default=60.0,
        help="length of the provider outage at the end (0: skip it)",
    )
    parser.add_argument(
        "--latency-scale",
        type=float,
        default=0.0,
        help="emulator latency scale (0: answers at once)",
    )
    parser.add_argument("--format", choices=["table", "json"], default="table")
    args = parser.parse_args(argv)
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        parser.error("DATABASE_URL is not set (API keys live in PostgreSQL; make sets it)")
    return _measure(args, database_url)


if __name__ == "__main__":
    sys.exit(main())
