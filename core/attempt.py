"""One call to one model: request, bounded wait, cost, and the outcome as schema values.

Shared by the dispatcher (once per route step) and the app's direct path, so both
compute cost, map failures and record attempts the same way.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from core.prompt import SYSTEM_PROMPT, build_prompt
from providers.base import CompletionRequest, Provider, ProviderReply
from providers.catalogue import ModelSpec
from providers.errors import InvalidQuery, ProviderError, ProviderTimeout
from providers.transport import provider_service_time
from schemas.parts import Answer, AttemptSummary, Citation
from schemas.query import QueryRequested


@dataclass(frozen=True)
class AttemptResult:
    """Exactly one of `answer` / `error` is set; `summary` describes the call either way."""

    summary: AttemptSummary
    answer: Answer | None = None
    error: ProviderError | None = None


ANY_PROVIDER = "any"
"""The provider named on an error that no provider would avoid."""


def query_problem(query: QueryRequested) -> InvalidQuery | None:
    """The caller's own input that no provider can accept, found before any call is paid for."""
    if not query.query.strip():
        return InvalidQuery(ANY_PROVIDER, "the question is blank")
    return None


def completion_request(
    query: QueryRequested, spec: ModelSpec, timeout_s: float, prefix: str = ""
) -> CompletionRequest:
    """The request for `spec`, honouring the caller's token limit up to the model's own,
    with the model's header limit (the dispatcher adds its derived streaming limits);
    `prefix`: the answer's shown beginning, for the model to continue."""
    max_tokens = query.options.max_output_tokens or spec.max_output_tokens
    return CompletionRequest(
        prompt=build_prompt(query),
        model=spec.model_id,
        max_output_tokens=min(max_tokens, spec.max_output_tokens),
        timeout_s=timeout_s,
        system=SYSTEM_PROMPT,
        headers_timeout_s=spec.headers_timeout_s,
        prefix=prefix,
    )


async def attempt_model(
    *,
    provider: Provider,
    spec: ModelSpec,
    query: QueryRequested,
    timeout_s: float,
    prefix: str = "",
) -> AttemptResult:
    """Call the model once; never raises a provider failure, returns it instead.

    With `prefix` (text already shown, which the model continues) the answer is the prefix
    and the continuation, exactly what the caller read; its cost counts the prefix as input
    (the provider reports it among the prompt tokens) and only the continuation as output.

    The `wait_for` holds the failover budget even if a client ignores its own timeout.
    The summary carries the service time the provider stated in its response headers
    (failed calls too), so the caller's own delays can be told from the provider's.
    """
    started = time.monotonic()
    with provider_service_time() as service:
        try:
            reply = await asyncio.wait_for(
                provider.complete(completion_request(query, spec, timeout_s, prefix)), timeout_s
            )
        except (ProviderError, TimeoutError) as err:
            return _failed(spec, err, timeout_s, started, service.total_ms)
    return _succeeded(provider, spec, reply, started, service.total_ms, prefix)


def _failed(
    spec: ModelSpec,
    err: ProviderError | TimeoutError,
    timeout_s: float,
    started: float,
    service_ms: float | None,
) -> AttemptResult:
    failure = (
        err
        if isinstance(err, ProviderError)
        else ProviderTimeout(spec.provider, f"no answer within {timeout_s:.1f}s")
    )
    summary = AttemptSummary(
        provider=spec.provider,
        model=spec.model_id,
        outcome="timeout" if isinstance(failure, ProviderTimeout) else "error",
        error_kind=failure.kind,
        error_message=failure.message,
        latency_ms=round((time.monotonic() - started) * 1000.0, 1),
        provider_service_ms=service_ms,
    )
    return AttemptResult(summary=summary, error=failure)


def _succeeded(
    provider: Provider,
    spec: ModelSpec,
    reply: ProviderReply,
    started: float,
    service_ms: float | None,
    prefix: str = "",
) -> AttemptResult:
    latency_ms = round((time.monotonic() - started) * 1000.0, 1)
    cost = round(spec.cost_usd(reply.input_tokens, reply.output_tokens), 8)
    answer = Answer(
        provider=spec.provider,
        model=spec.model_id,
        text=prefix + reply.text,
        citations=[Citation(url=c.url, title=c.title, date=c.date) for c in reply.citations],
        input_tokens=reply.input_tokens,
        output_tokens=reply.output_tokens,
        cost_usd=cost,
        latency_ms=latency_ms,
        finish_reason=reply.finish_reason,
        avg_logprob=reply.avg_logprob,
        emulated=provider.emulated,
        continued_chars=len(prefix),
    )
    summary = AttemptSummary(
        provider=spec.provider,
        model=spec.model_id,
        outcome="success",
        latency_ms=latency_ms,
        cost_usd=cost,
        provider_service_ms=service_ms,
    )
    return AttemptResult(summary=summary, answer=answer)
