"""Every Redis key the system uses, named in one place.

Keys carry the topic namespace so parallel environments on one Redis stay apart.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RedisKeys:
    namespace: str

    def result(self, analysis_id: str) -> str:
        """The final AnalysisResponded JSON (TTL)."""
        return f"{self.namespace}:result:{analysis_id}"

    def pending(self, analysis_id: str) -> str:
        """Marks an accepted analysis that has no result yet (TTL)."""
        return f"{self.namespace}:pending:{analysis_id}"

    def completion(self, query_id: str) -> str:
        """The dispatcher's CompletionProduced, so a redelivered query is not paid twice."""
        return f"{self.namespace}:completion:{query_id}"

    def lease(self, step: str, query_id: str) -> str:
        """Held (short TTL) by the one delivery doing a paid `step` for the query now."""
        return f"{self.namespace}:lease:{step}:{query_id}"

    def began(self, step: str, query_id: str) -> str:
        """Set (kept a while) by the first delivery that began a `step` for the query: a
        later one knows an earlier delivery may have left work behind (e.g. shown text)."""
        return f"{self.namespace}:began:{step}:{query_id}"

    def cross_check(self, query_id: str) -> str:
        """The scorer's cross-validation outcome, so a redelivered completion is not paid twice."""
        return f"{self.namespace}:cross-check:{query_id}"

    def escalation(self, query_id: str) -> str:
        """The scorer's escalate-or-answer decision for one completion (taken once)."""
        return f"{self.namespace}:escalation:{query_id}"

    def rate_limit(self, key_id: str) -> str:
        """One API key's token bucket (tokens, last refill), shared by every app process."""
        return f"{self.namespace}:ratelimit:{key_id}"

    def provider_status(self) -> str:
        """Hash provider -> latest ProviderStatus JSON (the app's health view)."""
        return f"{self.namespace}:provider-status"

    def circuits(self) -> str:
        """Hash dispatcher instance -> its circuit breakers' states (JSON; circuit_states.py)."""
        return f"{self.namespace}:circuits"

    def accuracy(self, provider: str, model: str, analysis_type: str) -> str:
        """Hash {correct, total}: graded outcomes for the historical-accuracy prior."""
        return f"{self.namespace}:accuracy:{provider}:{model}:{analysis_type}"

    def accuracy_counted(self, provider: str, model: str, analysis_type: str) -> str:
        """Set of feedback event ids already counted in `accuracy(...)` (idempotent counts)."""
        return f"{self.namespace}:accuracy-counted:{provider}:{model}:{analysis_type}"

    def accuracy_pattern(self) -> str:
        """SCAN pattern of every accuracy hash and counted set (rebuilding from the topic)."""
        return f"{self.namespace}:accuracy*"

    def feedback(self, analysis_id: str) -> str:
        """List of FeedbackGiven JSON received for an analysis (TTL; the topic keeps them)."""
        return f"{self.namespace}:feedback:{analysis_id}"

    def spend_limit(self, campaign_id: str) -> str:
        """A campaign's monthly spend limit in micro-USD (absent: no limit; no TTL)."""
        return f"{self.namespace}:spend-limit:{campaign_id}"

    def spend(self, campaign_id: str, month: str) -> str:
        """Micro-USD spent by a campaign in a month `YYYY-MM` (UTC), settled attempts only."""
        return f"{self.namespace}:spend:{campaign_id}:{month}"

    def spend_reserved(self, campaign_id: str, month: str) -> str:
        """Hash reservation id -> micro-USD held for a paid attempt in flight."""
        return f"{self.namespace}:spend-reserved:{campaign_id}:{month}"

    def spend_reserved_until(self, campaign_id: str, month: str) -> str:
        """Sorted set reservation id -> epoch ms after which it lapses (charged in full)."""
        return f"{self.namespace}:spend-reserved-until:{campaign_id}:{month}"

    def spend_lapsed(self, campaign_id: str, month: str) -> str:
        """Hash reservation id -> micro-USD charged when it lapsed (a late settle corrects it)."""
        return f"{self.namespace}:spend-lapsed:{campaign_id}:{month}"

    def spend_settled(self, reservation_id: str) -> str:
        """Marks an attempt whose cost is on the books (TTL), so a retry never counts it twice."""
        return f"{self.namespace}:spend-settled:{reservation_id}"
