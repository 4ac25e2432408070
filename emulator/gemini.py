"""Gemini's REST API as google-genai calls it: generateContent, streamGenerateContent,
models.get.

Served under both `/v1` and `/v1beta` (the SDK picks one from `api_version`).
The key may come as the `x-goog-api-key` header (what the SDK sends) or `?key=`.
Errors use Google's shape: {"error": {"code", "message", "status", "details"?}}.
`streamGenerateContent?alt=sse` sends GenerateContentResponse chunks as server-sent
events, the last with `finishReason`, `avgLogprobs` and the full usage; Gemini has no
`[DONE]` marker, the stream just ends. A safety block is Gemini's real shape: HTTP 200,
`promptFeedback.blockReason`, no candidates.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response, jsonify, request

from emulator.answers import compose, estimate_tokens, latency_s
from emulator.continuation import continuation
from emulator.faults import Admission
from emulator.modes import Fault, admit, apply_mode, retry_after_headers, simulate_latency
from emulator.profiles import GEMINI_PROBE_S, PROFILES, profile_for
from emulator.state import INVALID_KEY_MARKER, current_state
from emulator.streams import split_text, sse_event, sse_response, whole_response

PROVIDER = "gemini"
MAX_OUTPUT_TOKENS_LIMIT = 65_536

bp = Blueprint("gemini", __name__)

_FAULTS: dict[str, tuple[int, str, str]] = {
    "bad_request": (400, "INVALID_ARGUMENT", "Request contains an invalid argument."),
    "rate_limit": (
        429,
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota, please check your plan and billing details.",
    ),
    "error": (
        500,
        "INTERNAL",
        "An internal error has occurred. Please retry or report in "
        "https://developers.generativeai.google/guide/troubleshooting",
    ),
    "unavailable": (503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
}
CONTEXT_OVERFLOW_TOKENS = 1_000
"""How far past the window the `context_too_long` mode says the input was."""


def google_error(
    code: int, status: str, message: str, details: list[dict[str, Any]] | None = None
) -> Response:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    response = jsonify({"error": error})
    response.status_code = code
    return response


def _too_long(prompt_tokens: int, window: int) -> Response:
    return google_error(
        400,
        "INVALID_ARGUMENT",
        f"The input token count ({prompt_tokens}) exceeds the maximum number of tokens "
        f"allowed ({window}).",
    )


def _blocked(model: str) -> dict[str, Any]:
    """Gemini's answer to a prompt its safety filter blocks: no candidates at all."""
    return {
        "promptFeedback": {
            "blockReason": "SAFETY",
            "safetyRatings": [
                {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}
            ],
        },
        "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12},
        "modelVersion": model,
    }


def _fault(fault: Fault, admission: Admission) -> Response:
    if fault == "context_too_long":
        model = (request.view_args or {}).get("model_action", "").partition(":")[0]
        profile = profile_for(PROVIDER, model)
        window = profile.context_window if profile else MAX_OUTPUT_TOKENS_LIMIT
        return _too_long(window + CONTEXT_OVERFLOW_TOKENS, window)
    if fault == "content_filter":
        model = (request.view_args or {}).get("model_action", "").partition(":")[0]
        if request.args.get("alt") == "sse":
            return Response(sse_event(_blocked(model)), mimetype="text/event-stream")
        return jsonify(_blocked(model))
    code, status, message = _FAULTS[fault]
    details = None
    if fault == "rate_limit":
        delay = f"{admission.options.retry_after_s:g}s"
        details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}]
    response = google_error(code, status, message, details)
    if fault == "rate_limit":
        retry_after_headers(response, admission.options.retry_after_s)
    return response


def _auth_problem() -> Response | None:
    key = request.headers.get("x-goog-api-key") or request.args.get("key")
    if not key:
        return google_error(
            403,
            "PERMISSION_DENIED",
            "Method doesn't allow unregistered callers (callers without established "
            "identity). Please use API Key or other form of API consumer identity to call "
            "this API.",
        )
    if INVALID_KEY_MARKER in key.lower():
        return google_error(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
            [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                }
            ],
        )
    return None


def _texts(node: Any) -> list[str]:
    """Every `parts[].text` in a Content or list of Contents."""
    contents = node if isinstance(node, list) else [node]
    texts: list[str] = []
    for content in contents:
        if isinstance(content, dict):
            for part in content.get("parts") or []:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    texts.append(part["text"])
    return texts


def _not_found(model: str, version: str) -> Response:
    return google_error(
        404,
        "NOT_FOUND",
        f"models/{model} is not found for API version {version}, or is not supported for "
        "generateContent. Call ListModels to see the list of available models and their "
        "supported methods.",
    )


@bp.post("/<any(v1, v1beta):version>/models/<model_action>")
def generate_content(version: str, model_action: str) -> Response:
    model, _, action = model_action.partition(":")
    if action not in ("generateContent", "streamGenerateContent"):
        return google_error(404, "NOT_FOUND", f"Method not found: {action or '(none)'}")
    streamed = action == "streamGenerateContent"
    state = current_state()
    admission = admit(state.board, PROVIDER, "generate")
    fault = apply_mode(state.board, PROVIDER, "generate", _fault, admission)
    if fault is not None:
        return fault
    problem = _auth_problem()
    if problem is not None:
        return problem
    profile = profile_for(PROVIDER, model)
    if profile is None:
        return _not_found(model, version)

    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not body.get("contents"):
        return google_error(
            400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents: contents is not specified"
        )
    contents = body["contents"] if isinstance(body["contents"], list) else [body["contents"]]
    prefix = ""
    if len(contents) > 1 and isinstance(contents[-1], dict) and contents[-1].get("role") == "model":
        prefix = "".join(_texts(contents[-1]))  # a prefill: the answer's beginning to continue
        contents = contents[:-1]
    prompt_texts = _texts(contents)
    system_texts = _texts(body.get("systemInstruction") or body.get("system_instruction") or [])
    if not prompt_texts:
        return google_error(
            400,
            "INVALID_ARGUMENT",
            "* GenerateContentRequest.contents[0].parts: contents.parts must not be empty.",
        )
    config = body.get("generationConfig") or {}
    max_tokens = config.get("maxOutputTokens")
    if max_tokens is not None and (
        not isinstance(max_tokens, int) or max_tokens < 1 or max_tokens > MAX_OUTPUT_TOKENS_LIMIT
    ):
        return google_error(
            400,
            "INVALID_ARGUMENT",
            "* GenerateContentRequest.generation_"
            f"config.max_output_tokens: must be in [1, {MAX_OUTPUT_TOKENS_LIMIT}]",
        )

    prompt = "\n".join(prompt_texts)
    prompt_tokens = sum(estimate_tokens(t) for t in [*prompt_texts, *system_texts, prefix] if t)
    if prompt_tokens > profile.context_window:
        return _too_long(prompt_tokens, profile.context_window)
    answer = continuation(compose(profile, prompt, max_tokens), prefix, model)
    graded = state.grading.grade(model, prompt, profile.certainty, logprobs=True)
    avg_logprob = answer.avg_logprob if graded is None else graded.avg_logprob
    total_s = (
        latency_s(profile, answer.output_tokens + answer.thinking_tokens, prompt)
        * state.latency_scale
    )
    usage: dict[str, Any] = {
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": answer.output_tokens,
        "totalTokenCount": prompt_tokens + answer.output_tokens + answer.thinking_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}],
    }
    if answer.thinking_tokens:
        usage["thoughtsTokenCount"] = answer.thinking_tokens
    response_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{model}/{prompt}").hex[:22]
    finish = "MAX_TOKENS" if answer.truncated else "STOP"
    if streamed:
        return _stream(
            model,
            answer.text,
            finish,
            avg_logprob,
            usage,
            response_id,
            total_s,
            admission,
            profile.first_token_s * state.latency_scale,
        )
    simulate_latency(total_s, 1.0)
    return whole_response(
        {
            "candidates": [
                {
                    "content": {"parts": [{"text": answer.text}], "role": "model"},
                    "finishReason": finish,
                    "avgLogprobs": avg_logprob,
                    "index": 0,
                }
            ],
            "usageMetadata": usage,
            "modelVersion": model,
            "responseId": response_id,
        },
        admission=admission,
        board=state.board,
        provider=PROVIDER,
    )


def _stream(
    model: str,
    text: str,
    finish: str,
    avg_logprob: float | None,
    usage: dict[str, Any],
    response_id: str,
    total_s: float,
    admission: Admission,
    thinking_s: float,
) -> Response:
    """The answer as Gemini streams it: the first chunk only after the model has thought."""
    pieces = split_text(text)
    prompt_usage = {
        "promptTokenCount": usage["promptTokenCount"],
        "totalTokenCount": usage["promptTokenCount"],
    }
    events = []
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        candidate: dict[str, Any] = {
            "content": {"parts": [{"text": piece}], "role": "model"},
            "index": 0,
        }
        if last:
            candidate |= {"finishReason": finish, "avgLogprobs": avg_logprob}
        events.append(
            sse_event(
                {
                    "candidates": [candidate],
                    "usageMetadata": usage if last else prompt_usage,
                    "modelVersion": model,
                    "responseId": response_id,
                }
            )
        )
    first_s = min(thinking_s, total_s)
    state = current_state()
    return sse_response(
        events,
        final_marker=None,
        admission=admission,
        board=state.board,
        provider=PROVIDER,
        first_token_s=first_s,
        per_chunk_s=max(total_s - first_s, 0.0) / max(len(events) - 1, 1),
    )


def _model_resource(model: str) -> dict[str, Any]:
    profile = profile_for(PROVIDER, model)
    assert profile is not None
    return {
        "name": f"models/{model}",
        "version": "2.5",
        "displayName": model.replace("-", " ").title() + " (emulated)",
        "description": "Emulated by the campaign orchestrator's provider emulator.",
        "inputTokenLimit": profile.context_window,
        "outputTokenLimit": MAX_OUTPUT_TOKENS_LIMIT,
        "supportedGenerationMethods": ["generateContent", "countTokens"],
        "temperature": 1.0,
        "topP": 0.95,
        "topK": 64,
        "thinking": bool(profile.thinking_tokens[1]),
    }


@bp.get("/<any(v1, v1beta):version>/models/<model>")
def get_model(version: str, model: str) -> Response:
    """models.get: the cheap call the health monitor probes with."""
    state = current_state()
    fault = apply_mode(state.board, PROVIDER, "probe", _fault)
    if fault is not None:
        return fault
    problem = _auth_problem()
    if problem is not None:
        return problem
    if profile_for(PROVIDER, model) is None:
        return google_error(
            404, "NOT_FOUND", f"models/{model} is not found for API version {version}."
        )
    simulate_latency(GEMINI_PROBE_S, state.latency_scale)
    return jsonify(_model_resource(model))


@bp.get("/<any(v1, v1beta):version>/models")
def list_models(version: str) -> Response:
    state = current_state()
    fault = apply_mode(state.board, PROVIDER, "probe", _fault)
    if fault is not None:
        return fault
    problem = _auth_problem()
    if problem is not None:
        return problem
    names = [p.model for p in PROFILES.values() if p.provider == PROVIDER]
    return jsonify({"models": [_model_resource(name) for name in names]})
