"""The OpenAI chat-completions API, as Perplexity and any OpenAI-compatible server serve it.

One handler, two flavours. Perplexity's answers carry its top-level extras, `citations`
(URLs) and `search_results` ({title, url, date}), which the openai SDK keeps in
`model_extra`, and its usage extras; its error bodies carry the HTTP status as `code`.
The plain OpenAI-compatible flavour answers like OpenAI itself (string error codes such
as `context_length_exceeded` and `content_filter`) and serves any model name.

Streaming (`"stream": true`) sends `chat.completion.chunk` events: the role and first
words, more words, a last chunk with `finish_reason`, a usage-only chunk when
`stream_options.include_usage` asks for it (Perplexity always sends it), then
`data: [DONE]`.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from flask import Response, jsonify, request

from emulator.answers import compose, estimate_tokens, latency_s
from emulator.citations import search_results
from emulator.continuation import continuation
from emulator.faults import Admission
from emulator.modes import Fault, admit, apply_mode, retry_after_headers, simulate_latency
from emulator.profiles import ModelProfile, profile_for
from emulator.state import INVALID_KEY_MARKER, current_state
from emulator.streams import split_text, sse_event, sse_response, whole_response

TOKENS_PER_MESSAGE = 4
SEARCH_CONTEXT_SIZE = "low"
DONE_EVENT = b"data: [DONE]\n\n"
LAST_MESSAGE_USER = "Last message must have role `user`."
"""Perplexity's refusal of a conversation that ends with an assistant message (a prefill)."""
CONTENT_FILTER_MESSAGE = (
    "The response was filtered due to the prompt triggering the content management policy. "
    "Please modify your prompt and retry."
)


@dataclass(frozen=True)
class Flavour:
    provider: str
    perplexity: bool


PERPLEXITY = Flavour("perplexity", perplexity=True)
OPENAI = Flavour("openai", perplexity=False)


def openai_error(
    status: int,
    kind: str | None,
    message: str,
    code: str | int | None = None,
    param: str | None = None,
) -> Response:
    error: dict[str, Any] = {
        "message": message,
        "type": kind,
        "code": status if code is None else code,
    }
    if param is not None:
        error["param"] = param
    response = jsonify({"error": error})
    response.status_code = status
    return response


_STATUS_ERRORS: dict[str, tuple[int, str, str]] = {
    "bad_request": (
        400,
        "invalid_request_error",
        "Invalid request: the emulator was told to reject it.",
    ),
    "rate_limit": (
        429,
        "rate_limit_exceeded",
        "Rate limit exceeded. Please retry after a short wait.",
    ),
    "error": (500, "internal_server_error", "Internal server error."),
    "unavailable": (
        503,
        "service_unavailable",
        "Service temporarily unavailable. Please try again later.",
    ),
}


def _context_message(window: int, tokens: int) -> str:
    return (
        f"This model's maximum context length is {window} tokens. However, your messages "
        f"resulted in {tokens} tokens. Please reduce the length of the messages."
    )


def fault_renderer(flavour: Flavour):  # noqa: ANN201 - an ErrorRenderer
    def render(fault: Fault, admission: Admission) -> Response:
        if fault == "context_too_long":
            body = request.get_json(silent=True)
            model = body.get("model") if isinstance(body, dict) else None
            profile = profile_for(flavour.provider, model) if isinstance(model, str) else None
            window = profile.context_window if profile else 128_000
            code = "context_length_exceeded" if not flavour.perplexity else None
            return openai_error(
                400,
                "invalid_request_error",
                _context_message(window, window + 1_000),
                code,
                "messages",
            )
        if fault == "content_filter":
            return openai_error(400, None, CONTENT_FILTER_MESSAGE, "content_filter", "prompt")
        status, kind, message = _STATUS_ERRORS[fault]
        response = openai_error(status, kind, message, None if flavour.perplexity else kind)
        if fault == "rate_limit":
            retry_after_headers(response, admission.options.retry_after_s)
        return response

    return render


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


def chat_completions(flavour: Flavour) -> Response:
    """`POST .../chat/completions` for `flavour`, streamed or not, under its fault mode."""
    state = current_state()
    admission = admit(state.board, flavour.provider, "chat")
    fault = apply_mode(state.board, flavour.provider, "chat", fault_renderer(flavour), admission)
    if fault is not None:
        return fault
    problem = _auth_problem()
    if problem is not None:
        return problem
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _bad("Request body must be a JSON object.")
    model = body.get("model")
    profile = profile_for(flavour.provider, model) if isinstance(model, str) else None
    if profile is None:
        return openai_error(
            400 if flavour.perplexity else 404,
            "invalid_model" if flavour.perplexity else "invalid_request_error",
            f"Invalid model '{model}'. Permitted models can be found in the documentation at "
            "https://docs.perplexity.ai/getting-started/models."
            if flavour.perplexity
            else f"The model `{model}` does not exist or you do not have access to it.",
            None if flavour.perplexity else "model_not_found",
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
    prefix = ""
    last = messages[-1]
    if isinstance(last, dict) and last.get("role") == "assistant":
        if flavour.perplexity:  # Sonar's API: the conversation must end with the user
            return openai_error(400, "invalid_message", LAST_MESSAGE_USER, 400)
        prefix = texts[-1]  # a prefill: the answer's beginning to continue
    max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        return _bad("max_tokens: must be a positive integer.")

    prompt = user_texts[-1]
    prompt_tokens = sum(estimate_tokens(t) for t in texts if t) + TOKENS_PER_MESSAGE * len(messages)
    if prompt_tokens > profile.context_window:
        return openai_error(
            400,
            "invalid_request_error",
            _context_message(profile.context_window, prompt_tokens),
            None if flavour.perplexity else "context_length_exceeded",
            "messages",
        )
    sources = (
        search_results(prompt, _citation_count(profile.citations, prompt))
        if flavour.perplexity
        else []
    )
    answer = continuation(
        compose(profile, prompt, max_tokens, citations=len(sources)), prefix, profile.model
    )
    state.grading.grade(profile.model, prompt, profile.certainty, logprobs=False)
    finish = "length" if answer.truncated else "stop"
    usage: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": answer.output_tokens,
        "total_tokens": prompt_tokens + answer.output_tokens,
    }
    extras: dict[str, Any] = {}
    if flavour.perplexity:
        usage |= {"search_context_size": SEARCH_CONTEXT_SIZE, "num_search_queries": 1}
        extras = {
            "citations": [s.url for s in sources],
            "search_results": [s.as_json() for s in sources],
        }
    ident = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{profile.model}/{prompt}"))
    total_s = latency_s(profile, answer.output_tokens, prompt) * state.latency_scale
    if body.get("stream") is True:
        options = body.get("stream_options")
        include_usage = flavour.perplexity or (
            isinstance(options, dict) and options.get("include_usage") is True
        )
        return _stream(
            flavour,
            profile,
            admission,
            answer.text,
            finish,
            usage if include_usage else None,
            extras,
            ident,
            total_s,
        )
    simulate_latency(total_s, 1.0)
    return whole_response(
        {
            "id": ident,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": profile.model,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": finish,
                    "message": {"role": "assistant", "content": answer.text},
                }
            ],
            "usage": usage,
            **extras,
        },
        admission=admission,
        board=state.board,
        provider=flavour.provider,
    )


def _stream(
    flavour: Flavour,
    profile: ModelProfile,
    admission: Admission,
    text: str,
    finish: str,
    usage: dict[str, Any] | None,
    extras: dict[str, Any],
    ident: str,
    total_s: float,
) -> Response:
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": profile.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            **extras,
        }
        if usage is not None:
            payload["usage"] = None
        return payload

    pieces = split_text(text)
    events = [
        sse_event(
            chunk({"role": "assistant", "content": piece} if i == 0 else {"content": piece}, None)
        )
        for i, piece in enumerate(pieces)
    ]
    events.append(sse_event(chunk({}, finish)))
    if usage is not None:
        events.append(sse_event({**chunk({}, None), "choices": [], "usage": usage}))
    first_s = min(profile.first_token_s * current_state().latency_scale, total_s)
    return sse_response(
        events,
        final_marker=DONE_EVENT,
        admission=admission,
        board=current_state().board,
        provider=flavour.provider,
        first_token_s=first_s,
        per_chunk_s=max(total_s - first_s, 0.0) / max(len(events) - 1, 1),
    )


def _citation_count(bounds: tuple[int, int], prompt: str) -> int:
    low, high = bounds
    return low + len(prompt) % (high - low + 1) if high else 0
