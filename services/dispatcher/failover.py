"""Whether to move on to the next provider after a failed attempt: a small pure table."""

from __future__ import annotations

from enum import Enum

from providers.errors import BadRequest, ProviderError


class Next(Enum):
    NEXT_PROVIDER = "next_provider"
    GIVE_UP = "give_up"


def after_failure(error: ProviderError) -> Next:
    """Fail over on everything except a request no provider would accept.

    Timeouts, outages, rate limits, auth problems, blocked content and context
    limits are all specific to one provider, so the next one may well answer.
    A plain bad request is about the query itself, so trying elsewhere only
    spends time and money.
    """
    if type(error) is BadRequest:
        return Next.GIVE_UP
    return Next.NEXT_PROVIDER
