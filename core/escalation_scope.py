"""Which answers the scorer may set aside for the next model on the route.

Two processes need the same answer to the same question: the scorer, which escalates
(services/scorer/escalation.py), and the dispatcher, which must know before an attempt's
first delta whether its answer may still be replaced, so that such an answer is never
shown live as final and then swapped (services/dispatcher/release.py). The rule lives
here once, over schema values only; the settings that fill it are
`services.common.escalation_settings` (the `SCORER_*` names).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from schemas.parts import RouteStep
from schemas.query import QueryRequested


@dataclass(frozen=True)
class EscalationScope:
    """The answers an escalation may replace. `threshold` 0 turns the confidence rule off;
    the pre-release check of `checked_providers` still applies."""

    threshold: float = 0.0
    campaign_thresholds: Mapping[str, float] = field(default_factory=dict)
    max_escalations: int = 1
    models: frozenset[tuple[str, str]] = frozenset()
    """(provider, model) pairs whose unsure answers escalate."""
    checked_providers: frozenset[str] = frozenset({"local"})
    """Providers whose every answer passes the pre-release checks (core/answer_checks.py)
    before it is released; a failed check escalates whatever the confidence."""

    def threshold_for(self, campaign_id: str | None) -> float:
        if campaign_id is not None and campaign_id in self.campaign_thresholds:
            return self.campaign_thresholds[campaign_id]
        return self.threshold

    def steps_after(
        self, query: QueryRequested, route: Sequence[RouteStep], provider: str, model: str
    ) -> list[RouteStep]:
        """The route after `provider/model` when its answer may escalate at all: an
        escalating model, escalations left, a step left, and no model named by the caller
        (who asked for that model's answer, not a better one). Empty otherwise."""
        if (provider, model) not in self.models or query.options.model is not None:
            return []
        done = query.escalation.escalations if query.escalation else 0
        if done >= self.max_escalations:
            return []
        where = (provider, model)
        position = next((i for i, s in enumerate(route) if (s.provider, s.model) == where), None)
        return [] if position is None else list(route[position + 1 :])

    def may_replace(
        self, query: QueryRequested, route: Sequence[RouteStep], provider: str, model: str
    ) -> bool:
        """True when an answer of `provider/model` to `query` may be set aside by the scorer
        (for low confidence or a failed pre-release check). Conservative: whether a
        calibration is fitted is the scorer's to know, so it is not asked here."""
        if not self.steps_after(query, route, provider, model):
            return False
        return provider in self.checked_providers or self.threshold_for(query.campaign_id) > 0
