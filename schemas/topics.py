"""Topic names and their settings, in one place.

Names carry a namespace (default "strategist") so tests and parallel
environments can run on one broker without seeing each other's events.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.attempt import ProviderAttempt
from schemas.base import EventModel
from schemas.calibration import CalibrationPublished
from schemas.classified import QueryClassified
from schemas.completion import CompletionProduced
from schemas.dead_letter import DeadLetter
from schemas.delta import AnswerDelta
from schemas.feedback import FeedbackGiven
from schemas.health import ProviderStatus
from schemas.query import QueryRequested
from schemas.response import AnalysisResponded

DEFAULT_NAMESPACE = "strategist"
QUERY_PARTITIONS = 3
ATTEMPT_PARTITIONS = 6
"""Attempt events are keyed by provider and each health instance owns the providers of its
partitions; with 6, CRC32 puts gemini, perplexity and local on three different partitions
(0, 3, 4), so up to three health instances share the work (with 3, two shared one)."""
DAY_MS = 24 * 3600 * 1000
AUDIT_RETENTION_MS = 400 * DAY_MS
"""The audit topics (every step of every analysis, and feedback) are the system of record:
the decision tables are rebuilt from them and `audit replay` reads them. 400 days covers
a campaign cycle and its audits; set explicitly, never compacted, at creation (a topic
that already exists keeps the configuration it was created with)."""
DELTA_RETENTION_MS = 3600 * 1000
"""Answer deltas serve callers reading live and resuming a dropped stream
(`Last-Event-ID`): an hour covers a reconnect, and the whole answer stays on the
completions and responses topics for audit and replay."""

QUERIES = "queries"
CLASSIFIED = "queries.classified"
COMPLETIONS = "completions"
RESPONSES = "responses"
PROVIDER_HEALTH = "provider-health"
PROVIDER_ATTEMPTS = "provider-attempts"
DEAD_LETTERS = "dead-letters"
FEEDBACK = "feedback"
CALIBRATIONS = "calibrations"
ANSWER_DELTAS = "answer-deltas"

TOPIC_MODELS: dict[str, type[EventModel]] = {
    QUERIES: QueryRequested,
    CLASSIFIED: QueryClassified,
    COMPLETIONS: CompletionProduced,
    RESPONSES: AnalysisResponded,
    PROVIDER_HEALTH: ProviderStatus,
    PROVIDER_ATTEMPTS: ProviderAttempt,
    DEAD_LETTERS: DeadLetter,
    FEEDBACK: FeedbackGiven,
    CALIBRATIONS: CalibrationPublished,
    ANSWER_DELTAS: AnswerDelta,
}
"""Which event model each topic carries (one model per topic)."""


@dataclass(frozen=True)
class TopicSpec:
    """How a topic is created: partitions and topic-level config."""

    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TopicNames:
    """Fully qualified topic names for one namespace, e.g. `strategist.queries.v1`."""

    namespace: str = DEFAULT_NAMESPACE

    def _full(self, base: str) -> str:
        return f"{self.namespace}.{base}.v1"

    @property
    def queries(self) -> str:
        return self._full(QUERIES)

    @property
    def classified(self) -> str:
        return self._full(CLASSIFIED)

    @property
    def completions(self) -> str:
        return self._full(COMPLETIONS)

    @property
    def responses(self) -> str:
        return self._full(RESPONSES)

    @property
    def provider_health(self) -> str:
        return self._full(PROVIDER_HEALTH)

    @property
    def provider_attempts(self) -> str:
        return self._full(PROVIDER_ATTEMPTS)

    @property
    def dead_letters(self) -> str:
        return self._full(DEAD_LETTERS)

    @property
    def feedback(self) -> str:
        """Grades of answers, keyed by analysis id; kept like the audit topics."""
        return self._full(FEEDBACK)

    @property
    def calibrations(self) -> str:
        """Fitted confidence calibrations, compacted under one key: the latest is in force."""
        return self._full(CALIBRATIONS)

    @property
    def answer_deltas(self) -> str:
        """An answer as it is written, keyed by analysis id; kept `DELTA_RETENTION_MS`."""
        return self._full(ANSWER_DELTAS)

    def specs(self) -> list[TopicSpec]:
        """Every topic the system needs, as created at start-up."""
        retained = {"retention.ms": str(AUDIT_RETENTION_MS), "cleanup.policy": "delete"}
        compacted = {
            "cleanup.policy": "compact",
            "min.compaction.lag.ms": "0",
            "segment.ms": "600000",
        }
        return [
            TopicSpec(self.queries, QUERY_PARTITIONS, retained),
            TopicSpec(self.classified, QUERY_PARTITIONS, retained),
            TopicSpec(self.completions, QUERY_PARTITIONS, retained),
            TopicSpec(self.responses, QUERY_PARTITIONS, retained),
            TopicSpec(self.provider_attempts, ATTEMPT_PARTITIONS, retained),
            TopicSpec(self.provider_health, 1, compacted),
            TopicSpec(self.dead_letters, 1, retained),
            TopicSpec(self.feedback, QUERY_PARTITIONS, retained),
            TopicSpec(self.calibrations, 1, compacted),
            TopicSpec(
                self.answer_deltas,
                QUERY_PARTITIONS,
                {"retention.ms": str(DELTA_RETENTION_MS), "cleanup.policy": "delete"},
            ),
        ]
