"""Text features of a query: transparent rules, each one explainable to a strategist.

The learned router (`tier_router.py`) decides the tier now; these features remain as
evidence in the classification's reasons, as the size estimate behind the context-window
safety net, and as the old rules (`rule_tier`) that evaluations compare the router with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

LIVE_STRONG = [
    r"\blatest\b",
    r"\btoday'?s?\b",
    r"\btonight\b",
    r"\byesterday\b",
    r"\bthis (week|weekend|month|morning|evening)\b",
    r"\bright now\b",
    r"\bcurrent(ly)?\b",
    r"\bbreaking\b",
    r"\bjust (announced|released|dropped)\b",
    r"\bup[- ]to[- ]date\b",
    r"\blast (24|48) hours\b",
    r"\bas of\b",
    r"\btrending\b",
]
LIVE_WEAK = [
    r"\bnews\b",
    r"\bpolls?\b",
    r"\brecent(ly)?\b",
    r"\bnow\b",
    r"\bupdates?\b",
    r"\bwho (won|leads)\b",
]

REASONING = [
    r"\bstrateg(y|ies|ic)\b",
    r"\btrade-?offs?\b",
    r"\bcrosstabs?\b",
    r"\bpersua(de|sion)\b",
    r"\bscenarios?\b",
    r"\b\d+[- ](phase|step|stage|part)\b",
    r"\bmulti-?(phase|step|stage)\b",
    r"\bcompar(e|ison)\b",
    r"\banaly[sz](e|is)\b",
    r"\bsegment(s|ation)?\b",
    r"\bforecast\b",
    r"\bplan\b",
    r"\bprioriti[sz]e\b",
    r"\ballocat(e|ion)\b",
    r"\bbudget\b",
    r"\bimplications?\b",
    r"\bwhy\b",
    r"\brisks?\b",
    r"\bcoalition\b",
    r"\bturnout\b",
    r"\bmodel(l?ing)?\b",
    r"\bcounter-?argument",
    r"\bweigh\b",
    r"\bevaluate\b",
]
SIMPLE_TASK = [
    r"\bspell(ing)?\b",
    r"\btypos?\b",
    r"\bgrammar\b",
    r"\bproofread\b",
    r"\brephrase\b",
    r"\breword\b",
    r"\bshorten\b",
    r"\bpunctuation\b",
    r"\bcapitali[sz]",
    r"\btranslate\b",
    r"\bone[- ](sentence|line)\b",
    r"\bsubject line\b",
    r"\bhashtags?\b",
]

TYPE_RULES: list[tuple[str, list[str]]] = [
    (
        "editing",
        [
            r"\bspell(ing)?\b",
            r"\bgrammar\b",
            r"\bproofread\b",
            r"\btypos?\b",
            r"\brephrase\b",
            r"\breword\b",
        ],
    ),
    (
        "strategy",
        [
            r"\bstrateg(y|ies|ic)\b",
            r"\bpersua(de|sion)\b",
            r"\bturnout\b",
            r"\bgotv\b",
            r"\ballocat(e|ion)\b",
            r"\bplan\b",
            r"\btargeting\b",
        ],
    ),
    (
        "opposition_research",
        [
            r"\bopponent'?s?\b",
            r"\bopposition\b",
            r"\bvoting record\b",
            r"\bvoted (for|against)\b",
            r"\bcontributions?\b",
        ],
    ),
    (
        "messaging",
        [
            r"\bmessag(e|ing)\b",
            r"\bslogan\b",
            r"\bads?\b",
            r"\btweet\b",
            r"\bspeech\b",
            r"\btalking points\b",
            r"\bemail\b",
            r"\bpress release\b",
        ],
    ),
    (
        "polling",
        [
            r"\bpolls?\b",
            r"\bpolling\b",
            r"\bsurvey\b",
            r"\bcrosstabs?\b",
            r"\blikely voters\b",
            r"\bmargin of error\b",
            r"\bfavorability\b",
        ],
    ),
]

LIST_ITEM = re.compile(r"^[ \t]*(?:\d+[.)]|[-*•])[ \t]", re.MULTILINE)
"""A line that starts a list item. Only spaces and tabs may lead it: `\\s*` would also eat
newlines and make a body of blank lines take quadratic time."""

WORDS_FOR_FULL_LENGTH_SCORE = 150
LENGTH_WEIGHT = 0.3
REASONING_WEIGHT_EACH = 0.15
REASONING_WEIGHT_MAX = 0.6
STRUCTURE_WEIGHT_MAX = 0.2
SIMPLE_TASK_COMPLEXITY_CAP = 0.2

LIVE_DATA_THRESHOLD = 1.0
RULE_COMPLEX_THRESHOLD = 0.55
RULE_SIMPLE_THRESHOLD = 0.3


def _hits(patterns: list[str], text: str) -> list[str]:
    found = []
    for pattern in patterns:
        match = re.search(pattern, text)
        if match:
            found.append(match.group(0))
    return found


@dataclass(frozen=True)
class QueryFeatures:
    """Numbers and evidence the routing rules read."""

    words: int
    live_strong: list[str] = field(default_factory=list)
    live_weak: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    simple_task: list[str] = field(default_factory=list)
    questions: int = 0
    list_items: int = 0

    @property
    def live_score(self) -> float:
        return len(self.live_strong) + 0.5 * len(self.live_weak)

    @property
    def complexity(self) -> float:
        """0 (a typo fix) .. 1 (a multi-part strategy with trade-offs)."""
        length = LENGTH_WEIGHT * min(self.words / WORDS_FOR_FULL_LENGTH_SCORE, 1.0)
        reasoning = min(REASONING_WEIGHT_EACH * len(self.reasoning), REASONING_WEIGHT_MAX)
        structure = min(0.05 * (max(self.questions - 1, 0) + self.list_items), STRUCTURE_WEIGHT_MAX)
        score = min(length + reasoning + structure, 1.0)
        if self.simple_task:
            score = min(score, SIMPLE_TASK_COMPLEXITY_CAP)
        return round(score, 3)

    def as_dict(self) -> dict[str, float]:
        return {
            "words": float(self.words),
            "live_score": self.live_score,
            "reasoning_terms": float(len(self.reasoning)),
            "simple_task_terms": float(len(self.simple_task)),
            "questions": float(self.questions),
            "list_items": float(self.list_items),
        }


def extract_features(query: str, context_chars: int = 0) -> QueryFeatures:
    """Features of the query text (context adds length, not intent)."""
    text = query.lower()
    return QueryFeatures(
        words=len(text.split()) + context_chars // 6,
        live_strong=_hits(LIVE_STRONG, text),
        live_weak=_hits(LIVE_WEAK, text),
        reasoning=_hits(REASONING, text),
        simple_task=_hits(SIMPLE_TASK, text),
        questions=text.count("?"),
        list_items=len(LIST_ITEM.findall(query)),
    )


def infer_analysis_type(query: str) -> str:
    """The first type whose cue words appear, else "general"."""
    text = query.lower()
    for analysis_type, patterns in TYPE_RULES:
        if _hits(patterns, text):
            return analysis_type
    return "general"


def rule_tier(features: QueryFeatures) -> str:
    """The tier the keyword rules chose before the learned router (the baseline)."""
    if features.live_score >= LIVE_DATA_THRESHOLD:
        return "live"
    if features.simple_task and features.complexity < RULE_SIMPLE_THRESHOLD:
        return "simple"
    if features.complexity >= RULE_COMPLEX_THRESHOLD:
        return "complex"
    return "standard"
