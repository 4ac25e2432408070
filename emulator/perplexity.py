"""Perplexity's chat-completions API as the openai SDK calls it (`POST /chat/completions`).

Answers carry Perplexity's top-level extras, `citations` (URLs) and
`search_results` ({title, url, date}), which the openai SDK keeps in
`model_extra`, and its usage extras (`search_context_size`, `num_search_queries`).
Errors use the OpenAI shape {"error": {"message", "type", "code"}}. Streamed or not,
under the provider's fault mode: see emulator/chat.py.
"""

from __future__ import annotations

from flask import Blueprint, Response

from emulator.chat import PERPLEXITY, chat_completions, openai_error

PROVIDER = PERPLEXITY.provider

bp = Blueprint("perplexity", __name__)

__all__ = ["bp", "openai_error"]


@bp.post("/chat/completions")
@bp.post("/v1/chat/completions")
def perplexity_chat_completions() -> Response:
    return chat_completions(PERPLEXITY)
