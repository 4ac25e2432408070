"""A message a consumer could not process (topic: dead letters)."""

from __future__ import annotations

import base64

from pydantic import Field

from schemas.base import EventModel, Frozen

PREVIEW_CHARS = 500


class Header(Frozen):
    """One Kafka header of the original message, value base64-encoded (it is bytes)."""

    name: str
    value_base64: str | None = None


class DeadLetter(EventModel):
    """The original message exactly (bytes as base64, headers, timestamp) and where it
    came from, so it can be inspected and re-published to its source topic after a fix.

    Version 2: `payload` (decoded text, cut at 100k characters) became `payload_base64`
    (the exact bytes) plus a short `payload_preview` for people reading with kcat.
    """

    schema_version: int = 2
    service: str
    source_topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    timestamp_ms: int | None = None
    key_base64: str | None = None
    payload_base64: str
    payload_preview: str
    headers: list[Header] = Field(default_factory=list)
    error_type: str
    error_message: str

    @staticmethod
    def encode(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    def payload_bytes(self) -> bytes:
        """The original message value, byte for byte."""
        return base64.b64decode(self.payload_base64)

    def key_bytes(self) -> bytes | None:
        return None if self.key_base64 is None else base64.b64decode(self.key_base64)

    def header_pairs(self) -> list[tuple[str, bytes | None]]:
        return [
            (h.name, None if h.value_base64 is None else base64.b64decode(h.value_base64))
            for h in self.headers
        ]

    @classmethod
    def preview(cls, data: bytes) -> str:
        return data[: PREVIEW_CHARS * 4].decode("utf-8", "replace")[:PREVIEW_CHARS]
