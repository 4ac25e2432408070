"""Gemini's REST API as google-genai calls it: generateContent and models.get.

Served under both `/v1` and `/v1beta` (the SDK picks one from `api_version`).
The key may come as the `x-goog-api-key` header (what the SDK sends) or `?key=`.
Errors use Google's shape: {"error": {"code", "message", "status", "details"?}}.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response, jsonify, request

from emulator.answers import compose, estimate_tokens, latency_s
from emulator.modes import apply_mode, simulate_latency
from emulator.profiles import GEMINI_PROBE_S, PROFILES, profile_for
from emulator.state import INVALID_KEY_MARKER, current_state

PROVIDER = "gemini"
MAX_OUTPUT_TOKENS_LIMIT = 65_536

bp = Blueprint("gemini", __name__)

_FAULTS: dict[int, tuple[str, str]] = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    429: (
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota, please check your plan and billing details.",
    ),
    500: (
        "INTERNAL",
        "An internal error has occurred. Please retry or report in "
        "https://developers.generativeai.google/guide/troubleshooting",
    ),
    503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
}


def google_error(
    code: int, status: str, message: str, details: list[dict[str, Any]] | None = None
) -> Response:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    response = jsonify({"error": error})
    response.status_code = code
    return response


def _fault(code: int) -> Response:
    status, message = _FAULTS[code]
    details = None
    if code == 429:
        details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}]
    return google_error(code, status, message, details)


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
    if action != "generateContent":
        return google_error(404, "NOT_FOUND", f"Method not found: {action or '(none)'}")
    state = current_state()
    fault = apply_mode(state.board, PROVIDER, "generate", _fault)
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
    prompt_texts = _texts(body["contents"])
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
    prompt_tokens = sum(estimate_tokens(t) for t in prompt_texts + system_texts)
    if prompt_tokens > profile.context_window:
        return google_error(
            400,
            "INVALID_ARGUMENT",
            f"The input token count ({prompt_tokens}) exceeds the maximum number of tokens "
            f"allowed ({profile.context_window}).",
        )
    answer = compose(profile, prompt, max_tokens)
    graded = state.grading.grade(model, prompt, profile.certainty, logprobs=True)
    avg_logprob = answer.avg_logprob if graded is None else graded.avg_logprob
    simulate_latency(
        latency_s(profile, answer.output_tokens + answer.thinking_tokens, prompt),
        state.latency_scale,
    )
    usage: dict[str, Any] = {
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": answer.output_tokens,
        "totalTokenCount": prompt_tokens + answer.output_tokens + answer.thinking_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}],
    }
    if answer.thinking_tokens:
        usage["thoughtsTokenCount"] = answer.thinking_tokens
    return jsonify(
        {
            "candidates": [
                {
                    "content": {"parts": [{"text": answer.text}], "role": "model"},
                    "finishReason": "MAX_TOKENS" if answer.truncated else "STOP",
                    "avgLogprobs": avg_logprob,
                    "index": 0,
                }
            ],
            "usageMetadata": usage,
            "modelVersion": model,
            "responseId": uuid.uuid5(uuid.NAMESPACE_URL, f"{model}/{prompt}").hex[:22],
        }
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
