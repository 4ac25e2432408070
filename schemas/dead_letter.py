"""A message a consumer could not process (topic: dead letters)."""

from __future__ import annotations

from pydantic import Field

from schemas.base import EventModel


class DeadLetter(EventModel):
    """Keeps the original bytes (as text) and where they came from, for replay."""

    service: str
    source_topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    key: str | None = None
    payload: str
    error_type: str
    error_message: str
