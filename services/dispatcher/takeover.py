"""Which model would take over first should an attempt fail mid-answer, and so when a
fresh attempt's text may be shown.

A stream cut short, or stalled, after some text: the failover policy (failover.py)
decides whether the same model is called again or the walk moves on. Moving on after
text was shown, the walk tries first the later steps whose model accepts a continuation
(`continuation_first`), so the reader keeps the text: the step that would really be
tried is the first such step not skipped right now, else the first later one not skipped
(skips.py, looking only: no half-open probe is admitted). The release rule (release.py) asks this
before the attempt's first delta: in `auto` mode an answer is shown live only when that
model can continue it seamlessly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from core.escalation_scope import EscalationScope
from providers.catalogue import Catalogue, ModelSpec
from providers.errors import ProviderError, StreamStalled, StreamTruncated
from schemas.delta import Release
from schemas.parts import RouteStep
from schemas.query import QueryRequested
from services.dispatcher.failover import Decision, Next
from services.dispatcher.release import release_for

MID_ANSWER_FAILURES: tuple[type[ProviderError], ...] = (StreamTruncated, StreamStalled)
"""How an answer fails after its first text: the stream is cut (a drop, a malformed end,
no final marker) or goes silent."""


def continuation_first(indices: Sequence[int], continues: Callable[[int], bool]) -> list[int]:
    """`indices` (the steps left after a mid-answer failure) with those whose model
    continues a shown answer first, each group in route order: a fresh answer from a
    step passed over comes only if no continuation succeeds."""
    return [i for i in indices if continues(i)] + [i for i in indices if not continues(i)]


def takeovers(
    index: int,
    count: int,
    *,
    decide: Callable[[ProviderError], Decision],
    available: Callable[[int], bool],
    continues: Callable[[int], bool],
    provider: str,
) -> set[int | None]:
    """The route indices that would take over from step `index` (of `count`), one per kind
    of mid-answer failure; None where the walk would give up or no step is left."""
    found: set[int | None] = set()
    later = continuation_first(range(index + 1, count), continues)
    for failure in MID_ANSWER_FAILURES:
        decision = decide(failure(provider, "mid-answer")).next
        if decision is Next.RETRY_SAME:
            found.add(index)
        elif decision is Next.GIVE_UP:
            found.add(None)
        else:
            found.add(next((i for i in later if available(i)), None))
    return found


class Releases:
    """The release of a fresh attempt (one that continues nothing) for the route walk."""

    def __init__(self, catalogue: Catalogue, escalation: EscalationScope) -> None:
        self._catalogue = catalogue
        self._escalation = escalation

    def release(
        self,
        query: QueryRequested,
        route: Sequence[RouteStep],
        index: int,
        spec: ModelSpec,
        decide: Callable[[ProviderError], Decision],
        *,
        available: Callable[[int], bool],
    ) -> Release:
        """When the attempt of `spec` at `route[index]` may be shown (release.py);
        `decide` is the failover decision after a failure of this attempt, `available`
        whether a later step would be tried now."""
        replaceable = self._escalation.may_replace(query, route, spec.provider, spec.model_id)
        mode = query.options.stream_mode
        if replaceable or mode != "auto":
            return release_for(mode, replaceable=replaceable)

        def continues(i: int) -> bool:
            return self._catalogue.get(route[i].provider, route[i].model).accepts_continuation

        def seamless(i: int | None) -> bool:
            # a continued answer is never escalated (services/scorer/escalation.py)
            return i is not None and continues(i)

        found = takeovers(
            index, len(route), decide=decide, available=available, continues=continues,
            provider=spec.provider,
        )  # fmt: skip
        return release_for(mode, takeover_continues=all(seamless(i) for i in found))
