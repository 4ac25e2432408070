"""One analysis's trail: its events from every topic, put together by analysis id.

Events are decoded with the topic's model (`schemas.topics.TOPIC_MODELS`); a record
that does not decode is kept as undecodable rather than dropped, and copies of one
event (a redelivered step publishes the same event id again) count once.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from audit.reader import Record
from schemas.attempt import ProviderAttempt
from schemas.classified import QueryClassified
from schemas.completion import CompletionProduced
from schemas.dead_letter import DeadLetter
from schemas.feedback import FeedbackGiven
from schemas.parts import Classification
from schemas.query import QueryRequested
from schemas.response import AnalysisResponded
from schemas.topics import TopicNames

logger = logging.getLogger(__name__)


@dataclass
class Trail:
    """Everything recorded about one analysis, in the order it happened."""

    analysis_id: str
    query: QueryRequested | None = None
    query_at_ms: int | None = None
    classified: QueryClassified | None = None
    completion: CompletionProduced | None = None
    escalated: list[CompletionProduced] = field(default_factory=list)
    """Completions of the escalated rounds (the scorer asked the next model because the
    first answer's confidence was low); their events travel under derived query ids."""
    attempts: list[ProviderAttempt] = field(default_factory=list)
    responses: list[AnalysisResponded] = field(default_factory=list)
    feedback: list[FeedbackGiven] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    trace_id: str | None = None
    """The analysis's trace (from the query event's `traceparent` header), if traced."""

    @property
    def response(self) -> AnalysisResponded | None:
        """The answer that counts: the first, unless it failed and a completed one followed
        (the result store's rule, `services.common.results`)."""
        best: AnalysisResponded | None = None
        for candidate in self.responses:
            if best is None or (best.status == "failed" and candidate.status == "completed"):
                best = candidate
        return best

    @property
    def classification(self) -> Classification | None:
        if self.classified is not None:
            return self.classified.classification
        if self.completion is not None:
            return self.completion.classification
        response = self.response
        return response.routing.classification if response is not None else None

    @property
    def campaign_id(self) -> str | None:
        if self.query is not None:
            return self.query.campaign_id
        response = self.response
        return response.campaign_id if response is not None else None

    @property
    def started_at(self) -> datetime | None:
        """When the analysis entered the system (query submitted, or the answer created)."""
        if self.query is not None:
            return self.query.submitted_at
        response = self.response
        return response.created_at if response is not None else None

    @property
    def used_attempt_id(self) -> str | None:
        """The attempt whose answer the (first-round) completion carries."""
        return None if self.completion is None else _used_attempt_id(self.completion)

    @property
    def used_attempt_ids(self) -> set[str]:
        """Every attempt whose answer a completion carried: the first round's and each
        escalated round's (a set-aside answer was used, to decide to escalate)."""
        completions = [self.completion, *self.escalated] if self.completion else self.escalated
        return {used for c in completions if (used := _used_attempt_id(c)) is not None}


def _used_attempt_id(completion: CompletionProduced) -> str | None:
    """The dispatcher numbers the calls it makes (skipped steps take no number) and stops
    at the first success: the last call of a successful completion is the one used."""
    if completion.status != "succeeded" or completion.answer is None:
        return None
    called = sum(1 for a in completion.attempts if a.outcome != "skipped")
    return f"{completion.query.query_id}:{called}" if called else None


def tier_view(classification: Classification | None) -> dict[str, Any]:
    """The learned router's verdict when the classification records one (tier, its
    probabilities, router version); empty for classifications made before it."""
    if classification is None:
        return {}
    data = classification.model_dump()
    return {
        name: data[name]
        for name in ("tier", "tier_probabilities", "router_version")
        if data.get(name) is not None
    }


def _key(record: Record) -> str | None:
    return None if record.key is None else record.key.decode("utf-8", "replace")


def _dead_letter_id(letter: DeadLetter, known: set[str]) -> str | None:
    """The analysis a dead letter was about: its original key when that is an analysis id
    (pipeline topics), else a known id quoted in its payload (attempts are keyed by
    provider)."""
    if letter.key_base64:
        try:
            key = base64.b64decode(letter.key_base64).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            key = ""
        if key in known:
            return key
    for analysis_id in known:
        if analysis_id in letter.payload_preview:
            return analysis_id
    return None


class TrailBuilder:
    """Folds records of the topics of one namespace into trails by analysis id."""

    def __init__(self, topics: TopicNames) -> None:
        self._topics = topics
        self.trails: dict[str, Trail] = {}
        self.undecodable: list[Record] = []
        self.unattributed_dead_letters: list[DeadLetter] = []
        self._seen: set[tuple[str, str]] = set()
        self._letters: list[DeadLetter] = []

    def trail(self, analysis_id: str) -> Trail:
        if analysis_id not in self.trails:
            self.trails[analysis_id] = Trail(analysis_id)
        return self.trails[analysis_id]

    def add_all(self, records: Iterable[Record]) -> TrailBuilder:
        for record in records:
            self.add(record)
        self._attach_dead_letters()
        return self

    def add(self, record: Record) -> None:
        t = self._topics
        handlers = {
            t.queries: self._query,
            t.classified: self._classified,
            t.completions: self._completion,
            t.provider_attempts: self._attempt,
            t.responses: self._response,
            t.feedback: self._feedback,
            t.dead_letters: self._dead_letter,
        }
        handle = handlers.get(record.topic)
        if handle is None or record.value is None:
            return
        try:
            handle(record)
        except ValidationError as err:
            logger.warning(
                "undecodable %s[%d]@%d: %s", record.topic, record.partition, record.offset, err
            )
            self.undecodable.append(record)

    def _first(self, topic: str, event_id: str) -> bool:
        """True the first time an event id is seen on a topic (copies count once)."""
        if (topic, event_id) in self._seen:
            return False
        self._seen.add((topic, event_id))
        return True

    def _query(self, record: Record) -> None:
        query = QueryRequested.from_bytes(record.value or b"")
        trail = self.trail(query.query_id)
        if trail.query is None:
            trail.query, trail.query_at_ms = query, record.timestamp_ms
            trail.trace_id = trail.trace_id or record.trace_id

    def _classified(self, record: Record) -> None:
        event = QueryClassified.from_bytes(record.value or b"")
        if event.query.escalation is not None:  # a round of the analysis, not a new one
            return
        trail = self.trail(event.query.query_id)
        if trail.classified is None:
            trail.classified = event

    def _completion(self, record: Record) -> None:
        event = CompletionProduced.from_bytes(record.value or b"")
        if event.query.escalation is not None:
            if self._first(record.topic, event.event_id):
                self.trail(event.query.analysis_id).escalated.append(event)
            return
        trail = self.trail(event.query.query_id)
        if trail.completion is None:
            trail.completion = event

    def _attempt(self, record: Record) -> None:
        event = ProviderAttempt.from_bytes(record.value or b"")
        if self._first(record.topic, event.event_id):
            self.trail(event.served_analysis_id).attempts.append(event)

    def _response(self, record: Record) -> None:
        event = AnalysisResponded.from_bytes(record.value or b"")
        if self._first(record.topic, event.event_id):
            trail = self.trail(event.analysis_id)
            trail.responses.append(event)
            trail.trace_id = trail.trace_id or record.trace_id  # the direct path's answer

    def _feedback(self, record: Record) -> None:
        event = FeedbackGiven.from_bytes(record.value or b"")
        if self._first(record.topic, event.event_id):
            self.trail(event.analysis_id).feedback.append(event)

    def _dead_letter(self, record: Record) -> None:
        event = DeadLetter.from_bytes(record.value or b"")
        if self._first(record.topic, event.event_id):
            self._letters.append(event)

    def _attach_dead_letters(self) -> None:
        known = set(self.trails)
        for letter in self._letters:
            analysis_id = _dead_letter_id(letter, known)
            if analysis_id in known:
                self.trail(analysis_id).dead_letters.append(letter)
            else:
                self.unattributed_dead_letters.append(letter)
        self._letters = []


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_ms(stamp: int) -> datetime:
    return datetime.fromtimestamp(stamp / 1000, UTC)
