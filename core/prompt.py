"""The prompt every provider receives for a strategist's question."""

from __future__ import annotations

import json

from schemas.query import QueryRequested

SYSTEM_PROMPT = (
    "You are an analyst for a political campaign's strategy team. Answer precisely, state "
    "your assumptions, separate facts from judgement, and cite sources when you use live data."
)


def build_prompt(query: QueryRequested) -> str:
    """The question, with the caller's context appended when given."""
    if query.context is None:
        return query.query
    context = query.context if isinstance(query.context, str) else json.dumps(query.context)
    return f"{query.query}\n\nContext:\n{context}"
