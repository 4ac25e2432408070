"""`python -m evaluation.local_logprob_cost`: what the local model's certainty costs.

    python -m evaluation.local_logprob_cost [--builtin NAME] [--rounds N] [--format table|json]

Serves the same GGUF four ways at once, each on a free port:
- `stock`: llama-cpp-python's server with `--logits_all False`, no logprobs asked
  (the baseline: what generation costs);
- `ours+logprobs`: our server (`providers.local_logprobs`, `--logits_all False`), every
  request asking for logprobs, as `LocalProvider` does;
- `logits_all`: llama-cpp's server with `--logits_all True` (its default), no logprobs;
- `logits_all+logprobs`: the same, asking for logprobs (llama-cpp's own way).
Then sends the same chat requests (greedy, so every server generates the same tokens)
to each in turn, one request at a time, rotating which server goes first so a change
in machine load hits all four alike. Reports output tokens per second of wall time
(prompt processing included), server CPU time per output token, resident memory, and
whether the log-probabilities of the two logprob paths agree.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from core.prompt import SYSTEM_PROMPT
from evaluation.model_server import PORT, ServedModel, served
from providers.local_server import BUILTIN_MODELS, DEFAULT_BUILTIN, LOGPROB_SERVER_MODULE

ROOT = Path(__file__).resolve().parent.parent
STOCK_MODULE = "llama_cpp.server"
CONFIGS = {
    "stock": (STOCK_MODULE, False, False),
    "ours+logprobs": (LOGPROB_SERVER_MODULE, False, True),
    "logits_all": (STOCK_MODULE, True, False),
    "logits_all+logprobs": (STOCK_MODULE, True, True),
}
"""name: (server module, --logits_all, ask for logprobs)."""
PROMPTS = (
    "Fix the spelling: 'The candiate will adress the comitee on Tusday.'",
    "What is 17 + 25? Answer with the number only.",
    "From this text, give the date only: 'The town hall moved to March 14, 2025.'",
    "Who is the speaker in: 'Maria Lopez told reporters the plan was ready.'",
    "Write a one-sentence thank-you note to volunteers.",
    "Shorten: 'We are very excited to announce that our campaign will hold a rally.'",
    "What is 9 times 8? Answer with the number only.",
    "Translate to French: 'Vote on Tuesday.'",
)
MAX_TOKENS = 48
REPEAT_PENALTY = 1.1
CALL_TIMEOUT_S = 600.0
SAME_LOGPROB_TOLERANCE = 1e-3
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CostRow:
    """One server configuration over all requests."""

    config: str
    calls: int
    output_tokens: int
    wall_s: float
    tokens_per_s: float
    cpu_ms_per_token: float
    rss_mb: int


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _rss_mb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024
    return 0


def _ask(base_url: str, prompt: str, logprobs: bool) -> tuple[int, list[float] | None]:
    body: dict[str, object] = {
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": prompt},
        ],
        "max_tokens": MAX_TOKENS,
        "temperature": 0.0,
        "repeat_penalty": REPEAT_PENALTY,
    }
    if logprobs:
        body |= {"logprobs": True, "top_logprobs": 0}
    response = httpx.post(f"{base_url}/chat/completions", json=body, timeout=CALL_TIMEOUT_S)
    response.raise_for_status()
    data = response.json()
    content = (data["choices"][0].get("logprobs") or {}).get("content")
    values = [t["logprob"] for t in content] if content else None
    return int(data["usage"]["completion_tokens"]), values


def measure(
    model: Path, rounds: int, names: Sequence[str] = tuple(CONFIGS)
) -> tuple[list[CostRow], bool]:
    """Rows per configuration, and whether both logprob paths reported the same values."""
    with contextlib.ExitStack() as stack:
        servers: dict[str, ServedModel] = {}
        for name in names:
            module, logits_all, _ = CONFIGS[name]
            args = [
                "-m", module, "--model", str(model), "--host", "127.0.0.1",
                "--port", PORT, "--verbose", "False", "--logits_all", str(logits_all),
            ]  # fmt: skip
            servers[name] = stack.enter_context(served(args))
            _ask(servers[name].base_url, "Hi", logprobs=False)
        totals = {name: [0.0, 0.0, 0] for name in names}
        logprobs: dict[str, list[float]] = {name: [] for name in names}
        for r in range(rounds):
            for i, prompt in enumerate(PROMPTS):
                shift = (i + r) % len(names)
                for name in [*names[shift:], *names[:shift]]:
                    pid = servers[name].process.pid
                    cpu, started = _cpu_s(pid), time.perf_counter()
                    tokens, values = _ask(servers[name].base_url, prompt, CONFIGS[name][2])
                    totals[name][0] += time.perf_counter() - started
                    totals[name][1] += _cpu_s(pid) - cpu
                    totals[name][2] += tokens
                    if r == 0 and values:
                        logprobs[name] += values
                print(f"round {r + 1}/{rounds}, prompt {i + 1}/{len(PROMPTS)}", file=sys.stderr)
        rows = [
            CostRow(
                config=name,
                calls=rounds * len(PROMPTS),
                output_tokens=int(tokens),
                wall_s=round(wall, 1),
                tokens_per_s=round(tokens / wall, 1),
                cpu_ms_per_token=round(1000 * cpu / tokens, 1),
                rss_mb=_rss_mb(servers[name].process.pid),
            )  # fmt: skip
            for name, (wall, cpu, tokens) in totals.items()
        ]
        with_values = [v for v in logprobs.values() if v]
        same = len(with_values) == 2 and all(
            abs(a - b) < SAME_LOGPROB_TOLERANCE
            for a, b in zip(with_values[0], with_values[1], strict=True)
        )
        return rows, same


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation.local_logprob_cost",
        description="Tokens/s and CPU per token of the local model server with and without "
        "per-token logprobs (ours, and llama-cpp's logits_all).",
    )
    parser.add_argument("--builtin", choices=sorted(BUILTIN_MODELS), default=DEFAULT_BUILTIN)
    parser.add_argument("--rounds", type=int, default=2, help="passes over the prompts")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    args = parser.parse_args(argv)
    rows, same = measure(BUILTIN_MODELS[args.builtin](), args.rounds)
    if args.format == "json":
        print(json.dumps({"rows": [asdict(r) for r in rows], "same_logprobs": same}))
        return 0
    print(f"{'config':<22}{'calls':>6}{'tokens':>8}{'wall s':>8}{'tok/s':>7}{'cpu ms/tok':>11}"
          f"{'rss MB':>8}")  # fmt: skip
    for r in rows:
        print(f"{r.config:<22}{r.calls:>6}{r.output_tokens:>8}{r.wall_s:>8}{r.tokens_per_s:>7}"
              f"{r.cpu_ms_per_token:>11}{r.rss_mb:>8}")  # fmt: skip
    print(f"same log-probabilities on both logprob paths: {'yes' if same else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
