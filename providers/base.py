"""The one interface every provider client implements, and its value types."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from schemas.base import ProviderName


@dataclass(frozen=True)
class CompletionRequest:
    """What the dispatcher asks of a model, and how long each part of the call may take.

    `timeout_s` bounds the whole call (`ProviderTimeout`). Streaming clients also bound
    the wait for the response headers (`headers_timeout_s`: a hung upstream sends none,
    a working one sends them before it thinks; `FirstTokenTimeout`), the wait for the
    first token (`first_token_timeout_s`, `FirstTokenTimeout`) and the gap between two
    chunks (`stall_timeout_s`, `StreamStalled`); None means no limit beyond `timeout_s`.
    A slow model that keeps streaming is not failed before `timeout_s`.

    `on_text`, when given, is called with each piece of answer text as a streaming
    client reads it (the dispatcher publishes them as deltas); it must not block. A
    client that does not stream never calls it: the whole text is in its reply.

    `prefix`, when not empty, is the beginning of the answer already shown to the caller
    (a cut attempt's delivered text): the model is asked to continue it, sent the
    provider's own way (an assistant prefill: Gemini's final `model` content, an
    OpenAI-style final `assistant` message, the local base model's raw completion). The
    reply's text and `on_text` pieces are the continuation only, which may be empty when
    the prefix was already the whole answer. Only a model whose catalogue entry says
    `accepts_continuation` is sent one.
    """

    prompt: str
    model: str
    max_output_tokens: int
    timeout_s: float
    system: str | None = None
    headers_timeout_s: float | None = None
    first_token_timeout_s: float | None = None
    stall_timeout_s: float | None = None
    on_text: Callable[[str], None] | None = field(default=None, compare=False, repr=False)
    prefix: str = field(default="", repr=False)


@dataclass(frozen=True)
class SourceRef:
    """A cited source returned by the provider."""

    url: str
    title: str | None = None
    date: str | None = None


@dataclass(frozen=True)
class ProviderReply:
    """A successful completion with the usage the provider reported.

    `avg_logprob` is the model's own certainty where the API returns it
    (Gemini's `avgLogprobs`); None where it does not. Streaming clients return a reply only
    once the stream is complete (`complete` is True); a stream cut short raises
    `StreamTruncated` instead. `first_token_s` is the measured time to the first token
    (to the whole answer for a non-streamed call): what per-model limits derive from.
    """

    text: str
    model: str
    input_tokens: int
    output_tokens: int
    finish_reason: str | None = None
    avg_logprob: float | None = None
    citations: tuple[SourceRef, ...] = field(default_factory=tuple)
    search_queries: int = 0
    complete: bool = True
    first_token_s: float | None = field(default=None, compare=False)


@runtime_checkable
class Provider(Protocol):
    """A model provider. Raises `providers.errors.ProviderError` subclasses only."""

    name: ProviderName
    emulated: bool
    """True when this client talks to the provider emulator, not the real service."""

    async def complete(self, request: CompletionRequest) -> ProviderReply:
        """Run one completion within `request.timeout_s`."""
        ...

    async def probe(self, timeout_s: float) -> None:
        """A cheap liveness call; returns on success, raises ProviderError otherwise."""
        ...

    async def aclose(self) -> None:
        """Release HTTP connections."""
        ...
