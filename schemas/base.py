"""The base every event shares: frozen, strict, versioned, JSON-serialisable."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Final, Self
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

MAX_PROVIDER_NAME_CHARS: Final = 32
"""The recorder stores provider names in 32-character columns (services/common/tables.py)."""
PROVIDER_NAME_PATTERN: Final = r"^[a-z0-9][a-z0-9_-]*$"

ProviderName = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=MAX_PROVIDER_NAME_CHARS, pattern=PROVIDER_NAME_PATTERN
    ),
]
"""A provider the orchestrator can route to: a built-in one below, or one the catalogue
(`CATALOGUE_PATH`) declares, so the set is open; events validate the name's shape
(lowercase letters, digits, `_` and `-`), and the catalogue says which names exist."""

GEMINI: Final = "gemini"
PERPLEXITY: Final = "perplexity"
LOCAL: Final = "local"
PROVIDER_NAMES: tuple[ProviderName, ...] = (GEMINI, PERPLEXITY, LOCAL)
"""The built-in providers: they have clients of their own and exist without a catalogue."""


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
