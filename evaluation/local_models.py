"""`python -m evaluation.local_models`: which built-in local model does the routine work.

Runs every candidate GGUF the way production does: the real `python -m
providers.local_server --builtin NAME` on a free port, called through
`providers.local.LocalProvider` with the request the dispatcher builds
(`core.attempt.completion_request`: the project's system prompt, the local model's
token cap and timeout), so each model gets its production prompt format (chat
template for instruct models, the plain-text base prompt for base models). Items are
the simple tier of the dev split (never the test split), scored by
`evaluation.local_model_scores` against evaluation/local_model_refs.jsonl.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.attempt import completion_request
from evaluation.local_model_scores import degenerate_reason, grade_answer
from evaluation.model_server import served
from providers.catalogue import DEFAULT_CATALOGUE, LOCAL_MODEL
from providers.errors import ProviderError
from providers.local import LocalProvider
from providers.local_server import BUILTIN_MODELS, DEFAULT_BUILTIN, resolve_model_path
from providers.settings import ProviderSettings
from schemas.query import QueryRequested

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DEV_PATH = ROOT / "data" / "routing" / "dev.jsonl"
REFS_PATH = Path(__file__).resolve().parent / "local_model_refs.jsonl"
SIMPLE_TIER = "simple"
PROBE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class ItemResult:
    """One model's answer to one dev item, with its automatic score."""

    model: str
    item_id: str
    kind: str
    score: float
    degenerate: str | None
    latency_s: float
    output_tokens: int
    answer: str


@dataclass(frozen=True)
class ModelRow:
    """One model's figures over all items."""

    model: str
    gguf: str
    prompt_format: str
    items: int
    score: float
    score_by_kind: dict[str, float]
    degenerate_share: float
    tokens_per_s: float
    p50_latency_s: float


@dataclass(frozen=True)
class LocalModelReport:
    """Per-model rows (best score first) and every answer, for reading and for `make eval`."""

    rows: list[ModelRow]
    items: list[ItemResult] = field(default_factory=list)

    def table(self) -> str:
        """A fixed-width table, one line per model."""
        kinds = sorted({kind for row in self.rows for kind in row.score_by_kind})
        header = ["model", "prompt", "items", "score", *kinds, "degenerate", "tok/s", "p50 s"]
        lines = [header]
        for row in self.rows:
            lines.append([
                row.model, row.prompt_format, str(row.items), f"{row.score:.2f}",
                *(_fmt(row.score_by_kind.get(kind)) for kind in kinds),
                f"{row.degenerate_share:.0%}", f"{row.tokens_per_s:.1f}",
                f"{row.p50_latency_s:.2f}",
            ])  # fmt: skip
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        return "\n".join(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
            for line in lines
        )

    def to_json(self) -> dict[str, Any]:
        """Rows and answers as plain data (`--format json`)."""
        return {
            "rows": [asdict(row) for row in self.rows],
            "items": [asdict(item) for item in self.items],
        }


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def load_items(dev_path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """The simple-tier dev items that have a reference, in file order."""
    refs = {ref["id"]: ref for ref in _jsonl(REFS_PATH)}
    items = [
        {**row, "ref": refs[row["id"]]}
        for row in _jsonl(dev_path)
        if row["tier"] == SIMPLE_TIER and row["id"] in refs
    ]
    return items[:limit] if limit is not None else items


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]


def compare_local_models(
    dev_path: Path,
    *,
    limit: int | None = None,
    progress: bool = True,
    models: Sequence[str] | None = None,
) -> LocalModelReport:
    """Serve each built-in model in turn and score its answers on the dev simple tier.

    Raises RuntimeError when a model server does not come up (its log tail included).
    """
    if dev_path.name.startswith("test"):
        raise ValueError(f"{dev_path}: the local-model comparison must not read the test split")
    items = load_items(dev_path, limit)
    names = list(models) if models else sorted(BUILTIN_MODELS, key=lambda n: n != DEFAULT_BUILTIN)
    rows, results = [], []
    for name in names:
        gguf = resolve_model_path(ProviderSettings(), name)
        with served_builtin(name) as base_url:
            prompt_format, answers = asyncio.run(_ask_all(name, gguf, base_url, items, progress))
        results += answers
        rows.append(_row(name, gguf, prompt_format, answers))
    rows.sort(key=lambda row: -row.score)
    return LocalModelReport(rows=rows, items=results)


async def _ask_all(
    name: str, gguf: Path, base_url: str, items: list[dict[str, Any]], progress: bool
) -> tuple[str, list[ItemResult]]:
    spec = DEFAULT_CATALOGUE.get("local", LOCAL_MODEL)
    settings = ProviderSettings(
        local_model_url=base_url, local_model_path=str(gguf), local_model_prompt_format="auto"
    )
    provider = LocalProvider(settings=settings)
    results = []
    try:
        await provider.probe(PROBE_TIMEOUT_S)
        prompt_format = await provider.prompt_format()
        for number, item in enumerate(items, 1):
            query = QueryRequested(query_id=item["id"], query=item["query"])
            request = completion_request(query, spec, spec.timeout_s)
            started = time.monotonic()
            try:
                reply = await provider.complete(request)
                answer, tokens = reply.text, reply.output_tokens
            except ProviderError as err:
                answer, tokens = "", 0
                _say(progress, f"[{name}] {item['id']}: {err}")
            latency = time.monotonic() - started
            result = ItemResult(
                model=name, item_id=item["id"], kind=item["ref"]["kind"],
                score=grade_answer(answer, item["query"], item["ref"]),
                degenerate=degenerate_reason(answer), latency_s=latency,
                output_tokens=tokens, answer=answer,
            )  # fmt: skip
            results.append(result)
            _say(
                progress,
                f"[{name}] {number}/{len(items)} {item['id']} {result.kind} "
                f"score={result.score:.2f} {latency:.1f}s {result.degenerate or ''}".rstrip(),
            )
    finally:
        await provider.aclose()
    return prompt_format, results


def _row(name: str, gguf: Path, prompt_format: str, answers: list[ItemResult]) -> ModelRow:
    by_kind: dict[str, list[float]] = {}
    for answer in answers:
        by_kind.setdefault(answer.kind, []).append(answer.score)
    answered_time = sum(a.latency_s for a in answers if a.output_tokens)
    return ModelRow(
        model=name,
        gguf=gguf.name,
        prompt_format=prompt_format,
        items=len(answers),
        score=statistics.fmean(a.score for a in answers) if answers else 0.0,
        score_by_kind={kind: statistics.fmean(scores) for kind, scores in by_kind.items()},
        degenerate_share=(
            sum(a.degenerate is not None for a in answers) / len(answers) if answers else 0.0
        ),
        tokens_per_s=sum(a.output_tokens for a in answers) / answered_time if answered_time else 0,
        p50_latency_s=statistics.median(a.latency_s for a in answers) if answers else 0.0,
    )


@contextlib.contextmanager
def served_builtin(name: str) -> Iterator[str]:
    """`python -m providers.local_server --builtin NAME` for the run; yields its base URL."""
    args = ["-m", "providers.local_server", "--builtin", name]
    with served(args, env={"LOCAL_MODEL_PATH": None}) as server:
        yield server.base_url


def _say(progress: bool, line: str) -> None:
    if progress:
        print(line, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation.local_models",
        description="Compare the built-in local models on the simple tier of the dev split.",
    )
    parser.add_argument("--dev", type=Path, default=DEFAULT_DEV_PATH, help="dev split (JSONL)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N simple items")
    parser.add_argument(
        "--model", action="append", choices=sorted(BUILTIN_MODELS), dest="models",
        help="a model to compare (repeatable; default: all built-in models)",
    )  # fmt: skip
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    report = compare_local_models(
        args.dev, limit=args.limit, progress=not args.quiet, models=args.models
    )
    if args.format == "json":
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        print(report.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
