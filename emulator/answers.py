"""Deterministic emulated answers: text, token counts and certainty from (model, prompt).

The text is plainly marked as emulated, names the question's topic, and is long
enough that token usage (and so cost) looks like a real model's. Nothing here
is random across runs: the same model and prompt always give the same answer.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from dataclasses import dataclass

from core.prompt import TYPICAL_CHARS_PER_TOKEN
from emulator.profiles import ModelProfile

TOPIC_MAX_CHARS = 90
MIN_LOGPROB = -0.6
MAX_LOGPROB = -0.05


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOPWORDS = _word_set(
    """about above after again against also among another because been before being below
    between both could does doing during each every from have having here into itself just
    like more most much must only other ours over same should some such than that their
    them then there these they this those through under until very what when where which
    while whom will with would your yours please give tell show make want need this week
    today latest"""
)
_COMPLEX_WORDS = _word_set(
    """strategy strategic trade-offs tradeoffs trade-off crosstabs crosstab persuasion phase
    phases segment segments scenario scenarios compare comparison model modelling modeling
    coalition allocate allocation budget why plan multi-phase 3-phase three-phase"""
)

_PLAIN = (
    "The core question is {topic}; the answer turns on {k1} and {k2}.",
    "Start from the baseline: recent movement on {k1} is modest and mostly inside the margin "
    "of error.",
    "Separate facts from judgement: the figures on {k1} are observed, the reading of them is ours.",
    "Assumption: turnout resembles the last comparable cycle unless field data on {k2} says "
    "otherwise.",
    "For persuasion, aim at voters who are still undecided about {k1}, not those with firm views.",
    "A trade-off to weigh: spending on {k2} now buys reach but leaves less for the final two "
    "weeks.",
    "Risk: message fatigue on {k1} if the same contrast runs in every channel at once.",
    "Recommendation: test two framings of {k1} on a small digital sample before committing "
    "broadcast money.",
    "Measure success by the change in favourability within the target segment, not by raw "
    "impressions.",
    "Watch for differential non-response in polling on {k2}; weight by education and past vote.",
    "Local context matters: county-level results on {k1} have drifted from the statewide trend.",
    "Younger and first-time voters respond to concrete cost-of-living examples more than to "
    "abstract arguments about {k2}.",
    "Next step: brief the field team on {k1} and review after the next tracking poll.",
    "Opponents are likely to reframe {k2}; prepare a short rebuttal grounded in local numbers.",
    "Volunteer capacity is the binding constraint for door-knocking on {k1}, more than budget.",
    "Earned media on {k2} works best when paired with a validator the audience already trusts.",
)
_SOURCED = (
    "Recent reporting on {k1} points to a tightening picture [{c}].",
    "The latest public polling on {k2} shows a lead within the margin of error [{c}].",
    "Official figures on {k1} were updated this week [{c}].",
    "Coverage of {k2} emphasises turnout among independents [{c}].",
    "Analysts caution that early numbers on {k1} are noisy and may shift [{c}].",
    "Registration data relevant to {k2} show modest gains for new voters [{c}].",
)
_SECTIONS = ("Summary", "Evidence", "Options and trade-offs", "Recommendation", "Caveats")


@dataclass(frozen=True)
class EmulatedAnswer:
    text: str
    output_tokens: int
    thinking_tokens: int
    avg_logprob: float
    truncated: bool


def estimate_tokens(text: str) -> int:
    """About four characters per token, as the providers' own rule of thumb says."""
    return max(1, math.ceil(len(text) / TYPICAL_CHARS_PER_TOKEN))


def _rng(model: str, prompt: str) -> random.Random:
    digest = hashlib.sha256(f"{model}\x00{prompt}".encode()).hexdigest()
    return random.Random(int(digest[:16], 16))


def topic_of(prompt: str) -> str:
    """The question itself, on one line and bounded: what the answer says it is about."""
    question = prompt.split("\n\nContext:", 1)[0]
    flat = " ".join(question.split())
    return flat if len(flat) <= TOPIC_MAX_CHARS else flat[: TOPIC_MAX_CHARS - 3].rstrip() + "..."


def keywords(prompt: str, limit: int = 6) -> list[str]:
    words = re.findall(r"[A-Za-z][A-Za-z0-9'\-]{3,}", topic_of(prompt))
    found: dict[str, str] = {}
    for index, word in enumerate(words):
        lower = word.lower()
        proper = index > 0 and word[0].isupper() and not word.isupper()
        if lower not in _STOPWORDS and lower not in found:
            found[lower] = word if proper else lower
    return list(found.values())[:limit] or ["the campaign"]


def complexity(prompt: str) -> float:
    """0 (a short, simple ask) to 1 (long, multi-part strategy work)."""
    words = re.findall(r"[A-Za-z0-9\-]+", prompt.lower())
    length = min(1.0, len(prompt) / 1200)
    hits = min(1.0, sum(w in _COMPLEX_WORDS for w in words) / 4)
    return round(0.55 * length + 0.45 * hits, 3)


def compose(
    profile: ModelProfile, prompt: str, max_output_tokens: int | None, citations: int = 0
) -> EmulatedAnswer:
    """The answer `profile.model` gives to `prompt`, cut at `max_output_tokens` if needed."""
    rng = _rng(profile.model, prompt)
    target = rng.randint(profile.min_answer_tokens, profile.max_answer_tokens)
    thinking = rng.randint(*profile.thinking_tokens) if profile.thinking_tokens[1] else 0
    if max_output_tokens is not None and thinking:
        thinking = min(thinking, max_output_tokens // 2)
    budget = None if max_output_tokens is None else max(1, max_output_tokens - thinking)
    truncated = budget is not None and budget < target
    limit_chars = (budget if truncated and budget is not None else target) * TYPICAL_CHARS_PER_TOKEN

    words = keywords(prompt)
    parts = [f'[emulated {profile.model}] On "{topic_of(prompt)}":']
    length = len(parts[0])
    sections = list(_SECTIONS) if profile.max_answer_tokens >= 400 else []
    while length < limit_chars:
        if sections and (len(parts) == 1 or rng.random() < 0.2):
            parts.append(f"\n\n{sections.pop(0)}:")
        pool = _SOURCED if citations and rng.random() < 0.45 else _PLAIN
        sentence = rng.choice(pool).format(
            topic=topic_of(prompt),
            k1=rng.choice(words),
            k2=rng.choice(words),
            c=rng.randint(1, citations) if citations else 1,
        )
        parts.append(" " + sentence)
        length += len(sentence) + 1
    text = "".join(parts)
    text = text[:limit_chars].rstrip() if truncated else text

    spread = rng.uniform(-0.04, 0.04)
    logprob = -(0.06 + 0.45 * complexity(prompt)) + profile.certainty + spread
    return EmulatedAnswer(
        text=text,
        output_tokens=estimate_tokens(text),
        thinking_tokens=thinking,
        avg_logprob=round(min(MAX_LOGPROB, max(MIN_LOGPROB, logprob)), 4),
        truncated=truncated,
    )


def latency_s(profile: ModelProfile, output_tokens: int, prompt: str) -> float:
    """Unscaled answer latency: first token plus generation, with a stable +-15% jitter."""
    jitter = _rng(profile.model + "/latency", prompt).uniform(0.85, 1.15)
    return (profile.first_token_s + output_tokens * profile.per_token_s) * jitter
