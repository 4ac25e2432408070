"""The prompt every provider receives for a strategist's question, and the size of its text.

The query's context is turned into text here only (`context_text`): the prompt appends
it, and the classifier measures it (its size features and the local model's window check
read this very text, so the trained router sees what it was trained on).

Two rates of characters per token, one per purpose:

- `TYPICAL_CHARS_PER_TOKEN` (4): the providers' own rule of thumb for English. It
  estimates what a text will be counted and priced as (the emulator's token counts, the
  routing evaluation's cost estimate).
- `CAUTIOUS_CHARS_PER_TOKEN` (3): deliberately low, so `estimated_tokens` errs towards
  more tokens. It guards a context window (an input that might not fit goes to a bigger
  model) and fills in usage a provider did not report.
"""

from __future__ import annotations

import json
from typing import Final

from schemas.query import QueryRequested

SYSTEM_PROMPT = (
    "You are an analyst for a political campaign's strategy team. Answer precisely, state "
    "your assumptions, separate facts from judgement, and cite sources when you use live data."
)
TYPICAL_CHARS_PER_TOKEN: Final = 4
"""About four characters per token, as the providers' own rule of thumb says (English)."""
CAUTIOUS_CHARS_PER_TOKEN: Final = 3
"""A deliberately low estimate of characters per token (English runs about 4, Spanish
and pasted tables fewer), so a size check errs towards a bigger model."""


def context_text(query: QueryRequested) -> str:
    """The caller's context as text: a string as given, an object as compact JSON
    (`json.dumps` defaults), empty when there is none."""
    if query.context is None:
        return ""
    if isinstance(query.context, str):
        return query.context
    return json.dumps(query.context)


def build_prompt(query: QueryRequested) -> str:
    """The question, with the caller's context appended when given."""
    if query.context is None:
        return query.query
    return f"{query.query}\n\nContext:\n{context_text(query)}"


def estimated_tokens(chars: int) -> int:
    """Tokens a text of `chars` characters may take, rounded up: a cautious estimate
    (`CAUTIOUS_CHARS_PER_TOKEN`), higher than the typical count."""
    return -(-chars // CAUTIOUS_CHARS_PER_TOKEN)
