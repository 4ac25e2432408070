"""The base every event shares: frozen, strict, versioned, JSON-serialisable."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, Self
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field

ProviderName = Literal["gemini", "perplexity", "local"]
"""The providers the orchestrator can route to; the API exposes these names."""

PROVIDER_NAMES: tuple[ProviderName, ...] = ("gemini", "perplexity", "local")


def utc_now() -> datetime:
    """Timezone-aware now, so timestamps on the wire always carry their offset."""
    return datetime.now(UTC)


def new_id() -> str:
    """A random 32-hex-digit id for events and analyses."""
    return uuid4().hex


class Frozen(BaseModel):
    """A value object inside an event: immutable and rejecting unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class EventModel(Frozen):
    """Base for a top-level event on a topic.

    `schema_version` lets consumers in other languages branch on the shape;
    bump it (and keep reading the old one) when a field changes meaning.
    """

    schema_version: int = 1
    event_id: str = Field(default_factory=new_id)
    occurred_at: datetime = Field(default_factory=utc_now)

    def to_bytes(self) -> bytes:
        """The wire form: compact UTF-8 JSON, readable with kcat."""
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, data: bytes | str) -> Self:
        """Parse the wire form; raises pydantic.ValidationError on a bad payload."""
        return cls.model_validate_json(data)
