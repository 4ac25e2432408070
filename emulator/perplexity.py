"""Perplexity's chat-completions API as the openai SDK calls it (`POST /chat/completions`).

Answers carry Perplexity's top-level extras, `citations` (URLs) and
`search_results` ({title, url, date}), which the openai SDK keeps in
`model_extra`, and its usage extras (`search_context_size`, `num_search_queries`).
Errors use the OpenAI shape {"error": {"message", "type", "code"}}.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from flask import Blueprint, Response, jsonify, request

from emulator.answers import compose, estimate_tokens, latency_s
from emulator.citations import search_results
from emulator.modes import apply_mode, simulate_latency
from emulator.profiles import profile_for
from emulator.state import INVALID_KEY_MARKER, current_state

PROVIDER = "perplexity"
TOKENS_PER_MESSAGE = 4
SEARCH_CONTEXT_SIZE = "low"

bp = Blueprint("perplexity", __name__)

_FAULTS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request: the emulator was told to reject it."),
    429: ("rate_limit_exceeded", "Rate limit exceeded. Please retry after a short wait."),
    500: ("internal_server_error", "Internal server error."),
    503: ("service_unavailable", "Service temporarily unavailable. Please try again later."),
}


def openai_error(code: int, kind: str, message: str) -> Response:
    response = jsonify({"error": {"message": message, "type": kind, "code": code}})
    response.status_code = code
    return response


def _fault(code: int) -> Response:
    kind, message = _FAULTS[code]
    return openai_error(code, kind, message)


def _auth_problem() -> Response | None:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return openai_error(401, "invalid_request_error", "No API key provided.")
    if INVALID_KEY_MARKER in key.lower():
        return openai_error(401, "invalid_api_key", "Invalid API key provided.")
    return None


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def _bad(message: str) -> Response:
    return openai_error(400, "invalid_request_error", message)


@bp.post("/chat/completions")
@bp.post("/v1/chat/completions")
def chat_completions() -> Response:
    state = current_state()
    fault = apply_mode(state.board, PROVIDER, "chat", _fault)
    if fault is not None:
        return fault
    problem = _auth_problem()
    if problem is not None:
        return problem
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _bad("Request body must be a JSON object.")
    model = body.get("model")
    profile = profile_for(PROVIDER, model) if isinstance(model, str) else None
    if profile is None:
        return openai_error(
            400,
            "invalid_model",
            f"Invalid model '{model}'. Permitted models can be found in the documentation at "
            "https://docs.perplexity.ai/getting-started/models.",
        )
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return _bad("messages: must be a non-empty list.")
    texts = [_content_text(m.get("content")) if isinstance(m, dict) else "" for m in messages]
    user_texts = [
        t
        for m, t in zip(messages, texts, strict=True)
        if isinstance(m, dict) and m.get("role") == "user" and t
    ]
    if not user_texts:
        return _bad("messages: at least one user message with content is required.")
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        return _bad("max_tokens: must be a positive integer.")

    prompt = user_texts[-1]
    prompt_tokens = sum(estimate_tokens(t) for t in texts if t) + TOKENS_PER_MESSAGE * len(messages)
    if prompt_tokens > profile.context_window:
        return _bad(
            f"This model's maximum context length is {profile.context_window} tokens. "
            f"However, your messages resulted in {prompt_tokens} tokens."
        )
    sources = search_results(prompt, _citation_count(profile.citations, prompt))
    answer = compose(profile, prompt, max_tokens, citations=len(sources))
    state.grading.grade(profile.model, prompt, profile.certainty, logprobs=False)
    simulate_latency(latency_s(profile, answer.output_tokens, prompt), state.latency_scale)
    return jsonify(
        {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{profile.model}/{prompt}")),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": profile.model,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "length" if answer.truncated else "stop",
                    "message": {"role": "assistant", "content": answer.text},
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": answer.output_tokens,
                "total_tokens": prompt_tokens + answer.output_tokens,
                "search_context_size": SEARCH_CONTEXT_SIZE,
                "num_search_queries": 1,
            },
            "citations": [s.url for s in sources],
            "search_results": [s.as_json() for s in sources],
        }
    )


def _citation_count(bounds: tuple[int, int], prompt: str) -> int:
    low, high = bounds
    return low + len(prompt) % (high - low + 1) if high else 0
