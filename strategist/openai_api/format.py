"""A finished analysis in OpenAI's shapes: a chat completion, or its server-sent chunks.

Standard fields: `id` = "chatcmpl-<analysis id>", `object`, `created` (the answer's
completion time), `model` = the model that actually answered (never the one requested),
`choices`, `usage`. Our additions ride in one extension object, `x_routing`, which the
official SDK keeps as an extra field (`completion.x_routing` / `model_extra`): the route
with its reasons, failed and skipped attempts, cost, confidence when scored, the analysis
id (for `GET /api/v1/strategist/analyses/<id>`, feedback and `audit show`) and the
plain-language explanation.

Buffered streaming (see docs/openai_endpoint.md) cuts the chunks from the complete, scored
answer, so a failover to another model is invisible and a truncated answer is never
streamed as a success; live streaming (live.py) sends the same chunk shapes as the
answer is written.

Usage: the token counts the answering provider reported (`routing.input_tokens` /
`output_tokens`). Responses recorded before those fields existed (read back from the
responses topic) have none: their `usage` is estimated from the text and
`x_routing.usage_estimated` is true.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from core.prompt import estimated_tokens
from schemas.response import AnalysisResponded

COMPLETION_ID_PREFIX = "chatcmpl-"
CHUNK_CHARS = 48
"""Text per streamed delta: a few words, cut at whitespace so no word is split."""
SSE_DONE = "data: [DONE]\n\n"
DEFAULT_FINISH_REASON = "stop"
_FINISH_REASONS = {
    "stop": "stop",
    "end_turn": "stop",
    "length": "length",
    "max_tokens": "length",
    "content_filter": "content_filter",
    "safety": "content_filter",
    "recitation": "content_filter",
    "blocklist": "content_filter",
    "prohibited_content": "content_filter",
}
_PIECES = re.compile(r"\s*\S+\s*|\s+")


def completion_id(analysis_id: str) -> str:
    return f"{COMPLETION_ID_PREFIX}{analysis_id}"


def finish_reason(raw: str | None) -> str:
    """A provider's finish reason (Gemini's MAX_TOKENS, OpenAI's length...) in OpenAI terms."""
    if raw is None:
        return DEFAULT_FINISH_REASON
    return _FINISH_REASONS.get(raw.lower(), DEFAULT_FINISH_REASON)


def usage(response: AnalysisResponded, prompt_chars: int) -> tuple[dict[str, int], bool]:
    """`usage` and whether it is estimated (a response recorded without token counts)."""
    prompt, completion = response.routing.input_tokens, response.routing.output_tokens
    estimated = prompt is None or completion is None
    if prompt is None:
        prompt = estimated_tokens(prompt_chars)
    if completion is None:
        completion = estimated_tokens(len(response.result or ""))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }, estimated


def x_routing(response: AnalysisResponded, *, usage_estimated: bool) -> dict[str, Any]:
    """Our extension object: how the answer was routed, what it cost, how sure it is."""
    routing = response.routing
    return {
        "analysis_id": response.analysis_id,
        "analysis_type": response.analysis_type,
        "path": routing.path,
        "provider": routing.provider,
        "model": routing.model,
        "route": [step.model_dump(mode="json") for step in routing.route],
        "failed_attempts": [a.model_dump(mode="json") for a in routing.failed_attempts],
        "skipped": [a.model_dump(mode="json") for a in routing.skipped],
        "cost_usd": routing.cost_usd,
        "baseline_cost_usd": routing.baseline_cost_usd,
        "latency_ms": routing.latency_ms,
        "provider_latency_ms": routing.provider_latency_ms,
        "provider_service_ms": routing.provider_service_ms,
        "confidence": response.confidence.score if response.confidence else None,
        "citations": [c.model_dump(mode="json") for c in response.citations],
        "explanation": routing.explanation,
        "emulated": routing.emulated,
        "budget_remaining_usd": routing.budget_remaining_usd,
        "usage_estimated": usage_estimated,
    }


def _common(response: AnalysisResponded, obj: str) -> dict[str, Any]:
    return {
        "id": completion_id(response.analysis_id),
        "object": obj,
        "created": int(response.completed_at.timestamp()),
        "model": response.routing.model or "unknown",
        "system_fingerprint": None,
    }


def _finish(response: AnalysisResponded) -> str:
    return finish_reason(response.routing.finish_reason)


def completion_body(response: AnalysisResponded, *, prompt_chars: int) -> dict[str, Any]:
    """The `chat.completion` object of a completed analysis."""
    counted, estimated = usage(response, prompt_chars)
    return {
        **_common(response, "chat.completion"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": response.result or "", "refusal": None},
                "logprobs": None,
                "finish_reason": _finish(response),
            }
        ],
        "usage": counted,
        "x_routing": x_routing(response, usage_estimated=estimated),
    }


def text_pieces(text: str, size: int = CHUNK_CHARS) -> list[str]:
    """`text` cut into pieces of about `size` characters at whitespace; joined, they are
    exactly `text`."""
    pieces: list[str] = []
    current = ""
    for match in _PIECES.finditer(text):
        if current and len(current) + len(match.group()) > size:
            pieces.append(current)
            current = ""
        current += match.group()
    if current:
        pieces.append(current)
    return pieces


def chunk_of(
    common: dict[str, Any], delta: dict[str, Any], finish: str | None = None, *,
    include_usage: bool,
) -> dict[str, Any]:  # fmt: skip
    """One `chat.completion.chunk` with one choice (`usage: null` when usage is asked for)."""
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    return {**common, "choices": [choice], **({"usage": None} if include_usage else {})}


ROLE_DELTA = {"role": "assistant", "content": "", "refusal": None}


def final_chunks(
    response: AnalysisResponded, *, prompt_chars: int, include_usage: bool
) -> list[dict[str, Any]]:
    """The end of a stream: the finish reason with `x_routing`, then (`include_usage`) a
    chunk with no choices and the usage, as OpenAI sends them."""
    counted, estimated = usage(response, prompt_chars)
    common = _common(response, "chat.completion.chunk")
    last = chunk_of(common, {}, _finish(response), include_usage=include_usage)
    chunks = [{**last, "x_routing": x_routing(response, usage_estimated=estimated)}]
    if include_usage:
        chunks.append({**common, "choices": [], "usage": counted})
    return chunks


def completion_chunks(
    response: AnalysisResponded, *, prompt_chars: int, include_usage: bool
) -> Iterator[dict[str, Any]]:
    """The `chat.completion.chunk` objects of a completed analysis, in order: the role, the
    text in pieces, then `final_chunks` (buffered mode)."""
    common = _common(response, "chat.completion.chunk")
    yield chunk_of(common, ROLE_DELTA, include_usage=include_usage)
    for piece in text_pieces(response.result or ""):
        yield chunk_of(common, {"content": piece}, include_usage=include_usage)
    yield from final_chunks(response, prompt_chars=prompt_chars, include_usage=include_usage)


def sse(event: dict[str, Any]) -> str:
    """One server-sent event carrying `event` as JSON."""
    return f"data: {json.dumps(event, separators=(',', ':'))}\n\n"


def sse_stream(chunks: Iterator[dict[str, Any]]) -> Iterator[str]:
    """The events of a stream, ending with OpenAI's `data: [DONE]`."""
    for event in chunks:
        yield sse(event)
    yield SSE_DONE


def model_entry(model_id: str, owned_by: str, created: int) -> dict[str, Any]:
    """One entry of `GET /v1/models` (OpenAI's `model` object)."""
    return {"id": model_id, "object": "model", "created": created, "owned_by": owned_by}
