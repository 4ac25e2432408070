"""The local model's answers to the real confidence set, graded, with their certainty signals.

Each task (evaluation/checkable_tasks.py) is asked of the local model through the real
server and the production client (`providers.local.LocalProvider`, the project's system
prompt, a short token cap per kind), one call at a time; each answer carries the raw
signals the scorer sees (`avg_logprob`, and the raw score `core.confidence.score_answer`
computes from it) and its grade. With a `Sampler`, each answer's agreement with more
samples of the same prompt (`core.agreement`) is measured as well.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import openai

from core.agreement import agreement
from core.confidence import History, model_certainty, score_answer
from core.prompt import SYSTEM_PROMPT
from evaluation.checkable_tasks import Task, grade, load_tasks
from evaluation.local_models import served_builtin
from providers.base import CompletionRequest
from providers.catalogue import DEFAULT_CATALOGUE, LOCAL_MODEL
from providers.errors import ProviderError
from providers.local import CHAT_REPEAT_PENALTY, LocalProvider, chat_messages
from providers.local_server import DEFAULT_BUILTIN
from providers.settings import ProviderSettings
from schemas.parts import Answer, RouteStep

MAX_OUTPUT_TOKENS = {"spelling": 48, "arithmetic": 32, "date": 32, "name": 24}
"""Room for the answer after the preamble SmolLM2 likes ("The lease on the field office
ends on ..."): with 12-16 tokens a third of the date answers were cut inside the date
and graded wrong. Short enough that the 211 calls take about 10-15 minutes here."""
CALL_TIMEOUT_S = 60.0
PROBE_TIMEOUT_S = 5.0
PROGRESS_EVERY = 20
SAMPLE_TEMPERATURE = 1.0
"""Hot enough that an unsure model says something else the next time."""
SAMPLE_SEED = 1000
ROUTE = (RouteStep(provider="local", model=LOCAL_MODEL, reason="real confidence set"),)


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
    with served_builtin(builtin) as base_url:
        return asyncio.run(_ask(base_url, tasks, say, agreement_samples))
