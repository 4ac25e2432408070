"""The OpenAI-compatible endpoints (`/v1/chat/completions`, `/v1/models`) on the app's port.

The official `openai` SDKs (and LangChain, LlamaIndex, editor plugins) work unchanged
with `base_url="http://<app>/v1"` and an API key of the strategist API. Each request is
an analysis like any other: `AnalysisService.analyze` publishes it on the queries topic
and waits for its scored response, so it is classified, dispatched (with failover),
scored, recorded and audited like a `POST /api/v1/strategist/analyze`.

Keys: the same `AuthGate` as `/api/v1/` (Bearer key; 401/403/429/503 alike), the
campaign from the key (`metadata.campaign_id` for admin keys). Errors: OpenAI's shape
(see `errors.py`); failed analyses: 402 budget exhausted, 400 content blocked
(the provider's message), 502 otherwise, each with the analysis's `x_routing`.

Streaming (`stream: true`), `x_stream_mode` in the body or `STRATEGIST_STREAM_MODE`, set
on the query as `options.stream_mode`: `auto` (the default) and `live` send the answer as
it is written (live.py; the dispatcher decides per attempt whether its text is shown as it
comes or once the attempt succeeded, and a failover that cannot continue text already sent
ends the stream with an in-band error); `buffered` starts the stream once the pipeline's
response is complete (a failover mid-answer is invisible; the first token comes with the
whole answer). A request without `stream` runs `buffered` (docs/openai_endpoint.md).
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, g, jsonify, request, stream_with_context
from werkzeug.exceptions import HTTPException

from providers.model_lookup import find_model
from schemas.query import StreamMode
from schemas.response import AnalysisResponded
from services.common.spend_rules import BUDGET_EXHAUSTED
from strategist.analysis.store import StoreUnavailable
from strategist.auth.gate import current_caller, current_gate
from strategist.errors import HTTP_CODES, STORE_RETRY_AFTER_S, ApiError, blocked_attempt
from strategist.openai_api.errors import SHOULD_RETRY_HEADER, OpenAIError, model_not_found
from strategist.openai_api.format import (
    completion_body,
    completion_chunks,
    model_entry,
    sse_stream,
    x_routing,
)
from strategist.openai_api.live import LiveChat
from strategist.openai_api.request import (
    AUTO_MODEL,
    ChatCompletionRequest,
    ChatRequestError,
    parse_chat_request,
    to_analysis_request,
)
from strategist.request import AnalysisRequest, json_body
from strategist.runtime import current_runtime
from strategist.stream_response import open_stream

logger = logging.getLogger(__name__)

bp = Blueprint("openai_compat", __name__, url_prefix="/v1")

INVALID_QUERY = "invalid_query"
"""The attempt error kind (providers/errors.py) of a query no model may answer: a 400, as a
safety refusal (errors.blocked_attempt) is."""
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
KNOWN_PATHS = {"chat/completions": "POST", "models": "GET"}
AUTO_OWNER = "strategist"
STARTED_AT = int(time.time())
"""`created` of the listed models: the catalogue is loaded when the process starts."""


@bp.before_request
def _authenticate() -> None:
    """The strategist API's key check (its hook covers only /api/v1/)."""
    if "caller" not in g:
        g.caller = current_gate().authenticate(request.headers.get("Authorization"))


@bp.errorhandler(OpenAIError)
def _openai_error(err: OpenAIError) -> Response:
    return err.response()


@bp.errorhandler(ApiError)
def _api_error(err: ApiError) -> Response:
    return OpenAIError.from_api_error(err).response()


@bp.errorhandler(ChatRequestError)
def _chat_request_error(err: ChatRequestError) -> Response:
    return OpenAIError(400, err.message, code=err.code, param=err.param).response()


@bp.errorhandler(HTTPException)
def _http_error(err: HTTPException) -> Response:
    status = err.code or 500
    message = str(err.description or err.name)
    return OpenAIError(status, message, code=HTTP_CODES.get(status)).response()


@bp.errorhandler(Exception)
def _unexpected(err: Exception) -> Response:
    logger.exception("unhandled error on %s: %s", request.path, type(err).__name__)
    return OpenAIError(500, "internal error; it has been logged", code="internal_error").response()


def _named_model(chat: ChatCompletionRequest) -> None:
    """404 `model_not_found` unless `model` is `auto` or in the app's catalogue."""
    name = chat.named_model
    if name is not None and find_model(current_runtime().components.catalogue, name) is None:
        raise model_not_found(name)


def _failure(response: AnalysisResponded) -> OpenAIError:
    """A failed analysis as the error a caller can act on (see the module docstring)."""
    extra = {"x_routing": x_routing(response, usage_estimated=True)}
    error = response.error or "no provider could answer"
    if error.startswith(BUDGET_EXHAUSTED):
        return OpenAIError(402, error, code=BUDGET_EXHAUSTED, extra=extra)
    # both end the walk (the dispatcher never fails over from them): at most one is there
    blocked = blocked_attempt(response)
    invalid = next(
        (a for a in response.routing.failed_attempts if a.error_kind == INVALID_QUERY), None
    )
    for attempt, code in ((blocked, "content_filter"), (invalid, "invalid_value")):
        if attempt is not None:
            message = f"{attempt.provider}/{attempt.model}: {attempt.error_message or error}"
            return OpenAIError(400, message, code=code, param="messages", extra=extra)
    return OpenAIError(502, error, code="provider_error", extra=extra)


@bp.post("/chat/completions")
def chat_completions() -> Response:
    chat = parse_chat_request(json_body(request))
    caller = current_caller()
    try:
        campaign = caller.query_campaign(chat.campaign_id)
    except ApiError as err:
        raise OpenAIError.from_api_error(err, param="metadata.campaign_id") from err
    mode: StreamMode = "buffered"  # a JSON caller reads the whole answer
    if chat.streamed:
        mode = chat.x_stream_mode or current_runtime().settings.stream_mode
    analysis = to_analysis_request(chat, campaign, stream_mode=mode)
    _named_model(chat)
    prompt_chars = len(analysis.query) + len(str(analysis.context or ""))
    if mode != "buffered":
        return _live(chat, analysis, prompt_chars, keyed=caller.keyed)
    try:
        outcome = current_runtime().components.service.analyze(analysis, keyed=caller.keyed)
    except StoreUnavailable as err:
        raise _store_unavailable() from err
    response = outcome.response
    if response is None:
        raise _still_running(outcome.analysis_id)
    logger.info(
        "analysis=%s chat completion model=%s answered_by=%s status=%s stream=%s",
        response.analysis_id,
        chat.model,
        response.routing.model,
        response.status,
        chat.streamed,
    )
    if response.status != "completed":
        raise _failure(response)
    if not chat.streamed:
        return jsonify(completion_body(response, prompt_chars=prompt_chars))
    chunks = completion_chunks(
        response, prompt_chars=prompt_chars, include_usage=chat.include_usage
    )
    return Response(
        stream_with_context(sse_stream(chunks)),
        mimetype="text/event-stream",
        headers=SSE_HEADERS,
    )


def _store_unavailable() -> OpenAIError:
    return OpenAIError(
        503,
        "the result store (Redis) is unreachable; retry",
        code="store_unavailable",
        headers={"Retry-After": str(STORE_RETRY_AFTER_S)},
    )


def _live(
    chat: ChatCompletionRequest, analysis: AnalysisRequest, prompt_chars: int, *, keyed: bool
) -> Response:
    """Live mode (live.py): accepted as `POST /analyses`, then its event stream as chunks."""
    components = current_runtime().components
    if components.deltas is not None:  # following before the query goes out: nothing missed
        components.deltas.start()
        components.deltas.wait_ready(components.settings.kafka_delivery_timeout_s)
    try:
        analysis_id = components.service.submit(analysis, keyed=keyed)
    except StoreUnavailable as err:
        raise _store_unavailable() from err
    stream = open_stream(analysis_id, 0)
    live = LiveChat(stream, prompt_chars=prompt_chars, include_usage=chat.include_usage,
                    model=chat.model)  # fmt: skip
    live.start()
    if live.ended_before_text:
        if stream.answer is None:
            raise _still_running(analysis_id)
        if stream.answer.status != "completed":
            raise _failure(stream.answer)
    logger.info("analysis=%s chat completion model=%s streamed live", analysis_id, chat.model)
    return Response(
        stream_with_context(live.lines()), mimetype="text/event-stream", headers=SSE_HEADERS
    )


def _still_running(analysis_id: str) -> OpenAIError:
    status_url = f"/api/v1/strategist/analyses/{analysis_id}"
    return OpenAIError(
        504,
        f"analysis {analysis_id} is still running; its answer will be at GET {status_url}",
        code="analysis_pending",
        headers={SHOULD_RETRY_HEADER: "false", "Location": status_url},
        extra={"x_routing": {"analysis_id": analysis_id}},
    )


@bp.get("/models")
def models() -> Response:
    catalogue = current_runtime().components.catalogue
    entries = [model_entry(AUTO_MODEL, AUTO_OWNER, STARTED_AT)]
    entries += [model_entry(s.model_id, s.provider, STARTED_AT) for s in catalogue.models]
    return jsonify({"object": "list", "data": entries})


@bp.get("/models/<path:model_id>")
def model(model_id: str) -> Response:
    if model_id == AUTO_MODEL:
        return jsonify(model_entry(AUTO_MODEL, AUTO_OWNER, STARTED_AT))
    spec = find_model(current_runtime().components.catalogue, model_id)
    if spec is None:
        raise model_not_found(model_id)
    return jsonify(model_entry(spec.model_id, spec.provider, STARTED_AT))


@bp.route("/<path:path>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(path: str) -> Response:
    """Anything else under /v1, in OpenAI's error shape (405 on a known path)."""
    allowed = KNOWN_PATHS.get(path.strip("/"))
    if allowed is not None:
        raise OpenAIError(
            405,
            f"{request.method} is not allowed on /v1/{path}; use {allowed}",
            code="method_not_allowed",
            headers={"Allow": allowed},
        )
    raise OpenAIError(404, f"unknown path /v1/{path}", code="not_found")
