"""`python -m evaluation.confidence_real`: does the local model's certainty tell right from wrong?

    python -m evaluation.confidence_real [--limit N] [--url URL] [--builtin NAME]
                                         [--agreement-samples N] [--format table|json]

The real set of `make eval-confidence`: the tasks of data/confidence/real_tasks.jsonl
(spelling fixes, arithmetic, a date or a name taken from a short text; each with one
exactly checkable answer) are asked of the local model through the real server
(`python -m providers.local_server`, started on a free port unless `--url` names a
running one) and the production client (`providers.local.LocalProvider`, the project's
system prompt, a short token cap per kind). Each answer is graded by normalised
comparison with the reference (`grade`), and carries the raw signals the scorer sees:
`avg_logprob` (mean log-probability of the generated tokens, docs/local_model.md) and
the raw score `core.confidence.score_answer` computes from it.

The summary gives accuracy and the AUROC of the model's certainty (exp of
`avg_logprob`) for right against wrong answers, with a bootstrap 95 % interval
(`core.calibration_metrics`). Progress goes to stderr, one line per
`PROGRESS_EVERY` tasks.

`--agreement-samples N` measures the other certainty signal the issue allowed:
agreement between the answer and N more samples of the same prompt at temperature
`SAMPLE_TEMPERATURE` (`core.agreement`, the cross-check's measure), fed to the
scorer as its `cross_validation` component with the weights unchanged. It reports the
AUROC with it and what it costs in model time per task. It stays out of production
until it earns its price (docs/confidence.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import openai

from core.agreement import agreement
from core.calibration_metrics import Estimate, auroc, bootstrap
from core.confidence import History, model_certainty, score_answer
from core.prompt import SYSTEM_PROMPT
from evaluation.local_models import _served
from providers.base import CompletionRequest
from providers.catalogue import DEFAULT_CATALOGUE, LOCAL_MODEL
from providers.errors import ProviderError
from providers.local import CHAT_REPEAT_PENALTY, LocalProvider, chat_messages
from providers.local_server import BUILTIN_MODELS, DEFAULT_BUILTIN
from providers.settings import ProviderSettings
from schemas.classified import RouteStep
from schemas.completion import Answer

ROOT = Path(__file__).resolve().parent.parent
TASKS_PATH = ROOT / "data" / "confidence" / "real_tasks.jsonl"
KINDS = ("spelling", "arithmetic", "date", "name")
MAX_OUTPUT_TOKENS = {"spelling": 48, "arithmetic": 32, "date": 32, "name": 24}
"""Room for the answer after the preamble SmolLM2 likes ("The lease on the field office
ends on ..."): with 12-16 tokens a third of the date answers were cut inside the date
and graded wrong. Short enough that the 211 calls take about 10-15 minutes here."""
CALL_TIMEOUT_S = 60.0
PROBE_TIMEOUT_S = 5.0
PROGRESS_EVERY = 20
AUROC_TARGET = 0.75
MIN_TASKS_FOR_VERDICT = 200
"""A `--limit` run is a smoke test: its interval is too wide to judge the target."""
SAMPLE_TEMPERATURE = 1.0
"""Hot enough that an unsure model says something else the next time."""
SAMPLE_SEED = 1000
ROUTE = (RouteStep(provider="local", model=LOCAL_MODEL, reason="real confidence set"),)

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})


@dataclass(frozen=True)
class Task:
    """One checkable task: the prompt, its reference answer, strings a right answer lacks."""

    id: str
    kind: str
    prompt: str
    answer: str
    reject: tuple[str, ...] = ()


@dataclass(frozen=True)
class GradedAnswer:
    """The local model's answer to one task, its raw certainty signals, and the grade."""

    task_id: str
    kind: str
    text: str
    avg_logprob: float | None
    certainty: float | None
    """exp(avg_logprob): the mean per-token probability (`core.confidence.model_certainty`)."""
    raw_score: float | None
    """The scorer's weighted mean for this answer (before calibration); None on failure."""
    output_tokens: int
    finish_reason: str | None
    correct: bool
    error: str | None = None
    seconds: float = 0.0
    """Model time for the answer itself."""
    agreement: float | None = None
    """Mean `core.agreement` of the answer with the extra samples (`--agreement-samples`)."""
    raw_score_with_agreement: float | None = None
    sample_seconds: float = 0.0
    """Model time the extra samples took."""


def load_tasks(path: Path = TASKS_PATH) -> list[Task]:
    """The task file, validated. Raises ValueError naming the line of a bad or repeated task."""
    tasks: list[Task] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            task = Task(
                id=str(row["id"]),
                kind=str(row["kind"]),
                prompt=str(row["prompt"]),
                answer=str(row["answer"]),
                reject=tuple(str(r) for r in row.get("reject", ())),
            )
            if task.kind not in KINDS or not task.prompt.strip() or not task.answer.strip():
                raise ValueError(f"{path}:{number}: bad task {task.id!r} (kind {task.kind!r})")
            if task.id in seen:
                raise ValueError(f"{path}:{number}: repeated task id {task.id!r}")
            seen.add(task.id)
            tasks.append(task)
    return tasks


def normalise(text: str) -> str:
    """Lower case, NFKC, straight quotes, punctuation to spaces (apostrophes dropped),
    thousands separators dropped, single spaces: so "Saturday." equals "saturday"."""
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).lower()
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    text = text.replace("'", "")
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


def _contains(haystack: str, needle: str) -> bool:
    """`needle` as whole words inside `haystack` (both normalised)."""
    return bool(needle) and f" {needle} " in f" {haystack} "


def numbers_in(text: str) -> list[str]:
    """Numbers as written, thousands separators removed ("1,250" -> "1250")."""
    return [n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)]


def grade(task: Task, text: str) -> bool:
    """Right or wrong, by normalised comparison with the reference.

    - arithmetic: the first number in the answer that is not an operand of the question
      equals the reference (so "17 + 25 = 42" and "The answer is 42." are both right);
    - spelling, date, name: the reference appears in the answer as whole words, and no
      `reject` string does (the misspelled word, the other date, the other person).
    """
    if task.kind == "arithmetic":
        operands = set(numbers_in(task.prompt))
        fresh = [n for n in numbers_in(text) if n not in operands]
        return bool(fresh) and float(fresh[0]) == float(task.answer)
    answer = normalise(text)
    if not _contains(answer, normalise(task.answer)):
        return False
    return not any(_contains(answer, normalise(bad)) for bad in task.reject)


def _local_answer(
    text: str,
    output_tokens: int,
    finish_reason: str | None,
    avg_logprob: float | None,
    *,
    latency_ms: float = 0.0,
    input_tokens: int = 0,
) -> Answer:
    """The local model's answer as the scorer sees it (free, so no cost)."""
    return Answer(
        provider="local", model=LOCAL_MODEL, text=text, input_tokens=input_tokens,
        output_tokens=output_tokens, cost_usd=0.0, latency_ms=latency_ms,
        finish_reason=finish_reason, avg_logprob=avg_logprob,
    )  # fmt: skip


def _raw_score(answer: Answer, agreement: float | None = None) -> float:
    spec = DEFAULT_CATALOGUE.get("local", LOCAL_MODEL)
    confidence = score_answer(
        answer=answer, spec=spec, route=ROUTE, needs_live_data=False, agreement=agreement,
        history=History(),
    )  # fmt: skip
    return confidence.raw_score if confidence.raw_score is not None else confidence.score


async def answer_tasks(
    provider: LocalProvider,
    tasks: Sequence[Task],
    say: Callable[[str], None],
    sampler: Sampler | None = None,
) -> list[GradedAnswer]:
    """Ask every task in turn (one model call at a time, as the server runs one) and grade
    it; with a `sampler`, then measure each answer's agreement with more samples.

    The samples come after every answer: a seeded sample moves the server's sampler
    state, so asked in between it would change the answers the run is judged on.
    """
    graded: list[GradedAnswer] = []
    started = time.monotonic()
    for number, task in enumerate(tasks, 1):
        graded.append(await _answer_one(provider, task))
        if number % PROGRESS_EVERY == 0 or number == len(tasks):
            right = sum(g.correct for g in graded)
            say(
                f"{number}/{len(tasks)} tasks, {right} right, "
                f"{time.monotonic() - started:.0f}s elapsed"
            )
    if sampler is None:
        return graded
    sampled: list[GradedAnswer] = []
    for number, (task, answer) in enumerate(zip(tasks, graded, strict=True), 1):
        sampled.append(answer if answer.error else await sampler.with_agreement(task, answer))
        if number % PROGRESS_EVERY == 0 or number == len(tasks):
            say(f"{number}/{len(tasks)} sampled, {time.monotonic() - started:.0f}s elapsed")
    return sampled


async def _answer_one(provider: LocalProvider, task: Task) -> GradedAnswer:
    request = CompletionRequest(
        prompt=task.prompt,
        model=LOCAL_MODEL,
        max_output_tokens=MAX_OUTPUT_TOKENS[task.kind],
        timeout_s=CALL_TIMEOUT_S,
        system=SYSTEM_PROMPT,
    )
    started = time.monotonic()
    try:
        reply = await provider.complete(request)
    except ProviderError as err:
        return GradedAnswer(
            task_id=task.id, kind=task.kind, text="", avg_logprob=None, certainty=None,
            raw_score=None, output_tokens=0, finish_reason=None, correct=False, error=str(err),
        )  # fmt: skip
    answer = _local_answer(
        reply.text, reply.output_tokens, reply.finish_reason, reply.avg_logprob,
        latency_ms=1000 * (time.monotonic() - started), input_tokens=reply.input_tokens,
    )  # fmt: skip
    return GradedAnswer(
        task_id=task.id,
        kind=task.kind,
        text=reply.text,
        avg_logprob=reply.avg_logprob,
        certainty=None if reply.avg_logprob is None else model_certainty(reply.avg_logprob),
        raw_score=_raw_score(answer),
        output_tokens=reply.output_tokens,
        finish_reason=reply.finish_reason,
        correct=grade(task, reply.text),
        seconds=answer.latency_ms / 1000,
    )


class Sampler:
    """More samples of a task's prompt from the same server, for self-agreement."""

    def __init__(self, base_url: str, samples: int) -> None:
        self._client = openai.AsyncOpenAI(base_url=base_url, api_key="local")
        self._samples = samples

    async def with_agreement(self, task: Task, answer: GradedAnswer) -> GradedAnswer:
        """`answer` with its mean agreement with the samples and the raw score using it."""
        started = time.monotonic()
        texts = [await self._sample(task, SAMPLE_SEED + i) for i in range(self._samples)]
        mean = sum(agreement(answer.text, text) for text in texts) / len(texts)
        scored = _local_answer(
            answer.text, answer.output_tokens, answer.finish_reason, answer.avg_logprob
        )
        return replace(
            answer,
            agreement=mean,
            raw_score_with_agreement=_raw_score(scored, mean),
            sample_seconds=time.monotonic() - started,
        )

    async def _sample(self, task: Task, seed: int) -> str:
        response = await self._client.chat.completions.create(
            model=LOCAL_MODEL,
            messages=chat_messages(task.prompt, SYSTEM_PROMPT),
            max_tokens=MAX_OUTPUT_TOKENS[task.kind],
            temperature=SAMPLE_TEMPERATURE,
            seed=seed,
            extra_body={"repeat_penalty": CHAT_REPEAT_PENALTY},
            timeout=CALL_TIMEOUT_S,
        )
        return (response.choices[0].message.content or "") if response.choices else ""

    async def aclose(self) -> None:
        await self._client.close()


async def _ask(
    base_url: str, tasks: Sequence[Task], say: Callable[[str], None], samples: int
) -> list[Any]:
    provider = LocalProvider(settings=ProviderSettings(local_model_url=base_url))
    sampler = Sampler(base_url, samples) if samples > 0 else None
    try:
        await provider.probe(PROBE_TIMEOUT_S)
        return await answer_tasks(provider, tasks, say, sampler)
    finally:
        await provider.aclose()
        if sampler is not None:
            await sampler.aclose()


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def graded_local_answers(
    limit: int | None = None,
    *,
    url: str | None = None,
    builtin: str = DEFAULT_BUILTIN,
    say: Callable[[str], None] = _stderr,
    agreement_samples: int = 0,
) -> list[GradedAnswer]:
    """The first `limit` tasks (all by default) answered by the local model and graded.

    Serves the built-in model `builtin` on a free port for the run unless `url` names a
    running server. Raises RuntimeError when the server does not come up; a failed call
    is kept as a wrong answer with its error. `agreement_samples` > 0 adds each answer's
    agreement with that many more samples.
    """
    tasks = load_tasks()[:limit] if limit is not None else load_tasks()
    if url is not None:
        return asyncio.run(_ask(url, tasks, say, agreement_samples))
    with _served(builtin) as base_url:
        return asyncio.run(_ask(base_url, tasks, say, agreement_samples))


def graded_pairs(limit: int | None = None) -> list[tuple[float, bool]]:
    """(raw score, right) per answered task: the input `evaluation.confidence` calibrates."""
    return [
        (g.raw_score, g.correct) for g in graded_local_answers(limit) if g.raw_score is not None
    ]


@dataclass(frozen=True)
class Summary:
    """The figures the command prints."""

    n: int
    n_correct: int
    accuracy: float
    accuracy_by_kind: dict[str, float]
    with_logprob: int
    auroc_certainty: Estimate
    auroc_raw_score: Estimate
    auroc_by_kind: dict[str, float]
    seconds_per_task: float = 0.0
    auroc_agreement: Estimate | None = None
    """Self-agreement alone, and the raw score with it, when samples were taken."""
    auroc_raw_score_with_agreement: Estimate | None = None
    sample_seconds_per_task: float | None = None


def summarise(graded: Sequence[GradedAnswer]) -> Summary:
    """Accuracy, and AUROC (bootstrap 95 % interval) of certainty and raw score, right vs wrong.

    An answer without `avg_logprob` counts with certainty 0 (no signal is no confidence).
    """
    correct = [g.correct for g in graded]
    certainty = [g.certainty or 0.0 for g in graded]
    raw = [g.raw_score or 0.0 for g in graded]
    by_kind: dict[str, list[GradedAnswer]] = {}
    for g in graded:
        by_kind.setdefault(g.kind, []).append(g)
    sampled = [g for g in graded if g.agreement is not None]
    sampled_correct = [g.correct for g in sampled]
    return Summary(
        n=len(graded),
        n_correct=sum(correct),
        accuracy=sum(correct) / len(graded) if graded else float("nan"),
        accuracy_by_kind={k: sum(g.correct for g in v) / len(v) for k, v in by_kind.items()},
        with_logprob=sum(g.avg_logprob is not None for g in graded),
        auroc_certainty=bootstrap(auroc, certainty, correct),
        auroc_raw_score=bootstrap(auroc, raw, correct),
        auroc_by_kind={
            k: auroc([g.certainty or 0.0 for g in v], [g.correct for g in v])
            for k, v in by_kind.items()
        },
        seconds_per_task=sum(g.seconds for g in graded) / len(graded) if graded else 0.0,
        auroc_agreement=(
            bootstrap(auroc, [g.agreement or 0.0 for g in sampled], sampled_correct)
            if sampled
            else None
        ),
        auroc_raw_score_with_agreement=(
            bootstrap(auroc, [g.raw_score_with_agreement or 0.0 for g in sampled], sampled_correct)
            if sampled
            else None
        ),
        sample_seconds_per_task=(
            sum(g.sample_seconds for g in sampled) / len(sampled) if sampled else None
        ),
    )


def render(summary: Summary) -> str:
    """The summary for people."""
    if summary.n < MIN_TASKS_FOR_VERDICT:
        verdict = f"not judged on fewer than {MIN_TASKS_FOR_VERDICT} tasks"
    else:
        verdict = "met" if summary.auroc_certainty.value >= AUROC_TARGET else "NOT met"
    kinds = ", ".join(f"{k} {v:.0%}" for k, v in sorted(summary.accuracy_by_kind.items()))
    kind_auroc = ", ".join(f"{k} {v:.2f}" for k, v in sorted(summary.auroc_by_kind.items()))
    lines = [
        "real set: the local model on exactly checkable tasks (data/confidence/real_tasks.jsonl)",
        f"  answers           {summary.n} ({summary.with_logprob} with avg_logprob)",
        f"  accuracy          {summary.accuracy:.3f} ({summary.n_correct} right; {kinds})",
        f"  AUROC certainty   {summary.auroc_certainty}  (exp avg_logprob, right vs wrong; "
        f"bootstrap 95 % interval; target >= {AUROC_TARGET}: {verdict})",
        f"  AUROC raw score   {summary.auroc_raw_score}  (core.confidence, before calibration)",
        f"  AUROC by kind     {kind_auroc}",
        f"  model time        {summary.seconds_per_task:.2f} s per answer",
    ]  # fmt: skip
    agreement_auroc = summary.auroc_agreement
    with_agreement = summary.auroc_raw_score_with_agreement
    sample_s = summary.sample_seconds_per_task
    if agreement_auroc is not None and with_agreement is not None and sample_s is not None:
        ratio = sample_s / max(summary.seconds_per_task, 1e-9)
        lines += [
            f"  AUROC agreement   {agreement_auroc}  (answer against more samples at "
            f"temperature {SAMPLE_TEMPERATURE}; not used in production)",
            f"  AUROC raw + agr.  {with_agreement}  (the scorer's "
            f"weights, agreement as its cross_validation component)",
            f"  sampling cost     {sample_s:.2f} s more model time per answer ({ratio:.1f}x)",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation.confidence_real",
        description="The local model's certainty against right and wrong answers on checkable "
        "tasks: accuracy and AUROC with a bootstrap 95%% interval.",
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N tasks")
    parser.add_argument("--url", default=None, help="a running local model server's /v1 URL")
    parser.add_argument(
        "--builtin",
        choices=sorted(BUILTIN_MODELS),
        default=DEFAULT_BUILTIN,
        help=f"model to serve when no --url (default {DEFAULT_BUILTIN})",
    )
    parser.add_argument(
        "--agreement-samples",
        type=int,
        default=0,
        metavar="N",
        help="also measure agreement with N more samples per task, and its cost (default 0)",
    )
    parser.add_argument("--format", choices=("table", "json"), default="table")
    args = parser.parse_args(argv)
    if args.agreement_samples < 0:
        parser.error("--agreement-samples: must be 0 or more")
    graded = graded_local_answers(
        args.limit, url=args.url, builtin=args.builtin, agreement_samples=args.agreement_samples
    )
    summary = summarise(graded)
    if args.format == "json":
        print(json.dumps({"summary": asdict(summary), "answers": [asdict(g) for g in graded]}))
    else:
        print(render(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
