"""The text of one attempt as read from its deltas, checked against their offsets.

A delta's `offset` is the number of characters of the answer before its text: of the
attempt's own text, or, for an attempt that continues another (`continues_attempt_id`,
the fallback sent the delivered text as an assistant prefill), of the whole answer. So
the text read so far says what the next delta must start at:

- at that offset: it follows; appended;
- before it (a repeat: a delta published again, or a continuation sent slightly less
  than was read): the characters already held are dropped when they are the same text;
- after it (a gap: deltas never read), or a repeat that differs: the text can no longer
  be trusted to be the answer's beginning, so the attempt stops growing (`broken`) and
  the stream's end makes the answer whole from the final answer (narrator.py).

Pure and deterministic, like the narrator that holds one per attempt.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.delta import Release


@dataclass
class AttemptText:
    """An attempt's release rule, what it continues, and the answer's text as it holds it."""

    release: Release = "live"
    continues: str = ""
    """The attempt whose delivered text this one continues (empty: a fresh answer)."""
    text: str = ""
    """The answer as of this attempt: the continued text, then its own deltas."""
    broken: bool = False
    """A gap or a differing repeat was read: `text` stays the trusted beginning."""
    succeeded: bool = False

    def append(self, offset: int, piece: str) -> str:
        """Add a delta at `offset`; returns the characters that are new (empty for a repeat,
        after a gap, or once broken)."""
        if self.broken:
            return ""
        held = len(self.text)
        if offset > held:
            self.broken = True
            return ""
        overlap = min(held - offset, len(piece))
        if self.text[offset : offset + overlap] != piece[:overlap]:
            self.broken = True
            return ""
        new = piece[held - offset :]
        self.text += new
        return new
