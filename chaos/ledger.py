"""What the topics say happened, read back at the end of a run.

Counts are by analysis id. A redelivered step re-publishes the same event (same
event id, derived from its input's), so copies of one event count once; two
*different* responses for one analysis, or two different successful provider
calls, are the defects this run looks for.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from harness.kafka import read_to_end
from schemas.attempt import ProviderAttempt
from schemas.response import AnalysisResponded
from services.common.consumer import consumer_config
from services.common.kafka_security import KafkaSecurity

CLIENT_ID = "chaos-ledger"


@dataclass
class Ledger:
    responses: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    """analysis id -> distinct response event ids."""
    paid_calls: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    """analysis id -> distinct successful provider attempts (attempt id or event id)."""
    started_calls: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    """analysis id -> attempts recorded as started (paid or not)."""

    def answered_twice(self, ids: set[str]) -> list[str]:
        return sorted(a for a in ids if len(self.responses.get(a, ())) > 1)

    def paid_twice(self, ids: set[str]) -> list[str]:
        return sorted(a for a in ids if len(self.paid_calls.get(a, ())) > 1)


def ledger_consumer_config(bootstrap: str, security: KafkaSecurity) -> dict[str, Any]:
    """The shared consumer configuration (with the Kafka security settings, so the ledger
    reads a secured cluster like every service), under a group of its own that commits
    nothing: the ledger assigns partitions and reads them from the start."""
    return consumer_config(
        bootstrap,
        group_id=f"{CLIENT_ID}-{uuid.uuid4().hex}",
        client_id=CLIENT_ID,
        security=security,
    )


def _read_all(bootstrap: str, security: KafkaSecurity, topic: str) -> list[bytes]:
    return read_to_end(ledger_consumer_config(bootstrap, security), topic)


def read_ledger(
    bootstrap: str, security: KafkaSecurity, responses_topic: str, attempts_topic: str
) -> Ledger:
    ledger = Ledger()
    for raw in _read_all(bootstrap, security, responses_topic):
        try:
            response = AnalysisResponded.from_bytes(raw)
        except ValidationError:
            continue
        ledger.responses[response.analysis_id].add(response.event_id)
    for raw in _read_all(bootstrap, security, attempts_topic):
        try:
            attempt = ProviderAttempt.from_bytes(raw)
        except ValidationError:
            continue
        identity = getattr(attempt, "attempt_id", None) or attempt.event_id
        if attempt.outcome == "success":
            ledger.paid_calls[attempt.query_id].add(identity)
        elif attempt.outcome == "started":
            ledger.started_calls[attempt.query_id].add(identity)
    return ledger
