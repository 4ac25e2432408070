"""The strategist API blueprint (`/api/v1/strategist/...`): HTTP in, AnalysisService out.

Status codes (the OpenAPI document, `openapi.py`, lists them per operation):
  POST /analyze        200 answer, 502 no provider could answer (same body shape),
                       202 + Location when the deadline passed first, or when every
                       sync wait slot of the process is busy (poll the URL)
  POST /analyses       202 {analysis_id, status: "pending", status_url}
  GET  /analyses/<id>  200 finished (status "completed" or "failed", with the feedback
                       received), 202 pending, 404 unknown (Redis first, then the responses topic)
  POST /analyses/<id>/feedback
                       202 published on the feedback topic, 404 unknown id, 409 still pending,
                       503 broker or Redis unreachable
  GET  /providers      200 latest health per provider with its models (raw provider
                       error texts for admin keys only)
  GET  /usage          200 the campaign's spend this month and its limit
Stream mode (`options.stream_mode`, docs/streaming.md): a caller who may read the event
stream (`Accept: text/event-stream`, or `POST /analyses`) runs in the mode it asks for, or
`STRATEGIST_STREAM_MODE`; a JSON `POST /analyze` runs `buffered` whatever it asks (it reads
the whole answer, exactly as before).
Bad input: 400 (not JSON, or JSON too deep / numbers too long), 413 (too large), 422 (a
field is wrong; `error.field` names it, e.g. `options.providers.0` for a provider the
catalogue does not route to). 503 when Redis (and the topic) cannot say.
A provider's safety filter refusing the query (attempt error kind `content_blocked`, never
failed over) is the caller's to see: 422 with `error.code` `content_blocked`, the model and
its reason in `error.message` and the analysis in `error.analysis_id`, on POST /analyze
and on GET by id (the /v1 endpoint answers it 400, as OpenAI does).
Keys (see auth/gate.py): 401 no or unknown key, 403 revoked/expired key or another campaign
named in the body, 429 over the key's rate. A strategist key runs queries for its own
campaign and reads only that campaign's analyses; another campaign's analysis answers
404 exactly as an unknown id. An analysis that ended with `budget_exhausted` (the
campaign's monthly limit) answers 402 with that error, on POST /analyze and GET by id.
"""

from __future__ import annotations

import logging
from typing import Literal

from flask import Blueprint, Response, jsonify, request, url_for
from pydantic import BaseModel, ConfigDict

from providers.catalogue import cached_catalogue
from schemas.health import ProviderStatus
from strategist.analysis.feedback import (
    FeedbackAccepted,
    NoFeedbackDesk,
    feedback_desk,
    feedback_event,
)
from strategist.analysis.ids import created_with_key
from strategist.analysis.pipeline import PipelineUnavailable
from strategist.analysis.store import StoreUnavailable
from strategist.answers import finished_answer, shown_answer
from strategist.auth.gate import Caller, current_caller
from strategist.errors import (
    STORE_RETRY_AFTER_S,
    ApiError,
)
from strategist.provider_view import provider_view
from strategist.request import (
    AnalysisRequest,
    check_routable,
    parse_analysis_request,
    parse_feedback_request,
)
from strategist.runtime import current_runtime
from strategist.service import ANALYSIS_ID, Outcome
from strategist.stream_response import (
    event_stream,
    follow_deltas,
    resume_position,
    wants_events,
)
from strategist.usage import campaign_usage

logger = logging.getLogger(__name__)

bp = Blueprint("strategist_api", __name__, url_prefix="/api/v1/strategist")

POLL_AFTER_S = 1
PIPELINE_RETRY_AFTER_S = 5


class PendingBody(BaseModel):
    """The body of a 202: the analysis goes on; poll `status_url`."""

    model_config = ConfigDict(extra="forbid")

    analysis_id: str
    status: Literal["pending"]
    status_url: str


def _pending(analysis_id: str) -> Response:
    status_url = url_for("strategist_api.get_analysis", analysis_id=analysis_id)
    pending = PendingBody(analysis_id=analysis_id, status="pending", status_url=status_url)
    body = jsonify(pending.model_dump(mode="json"))
    body.status_code = 202
    body.headers["Location"] = status_url
    body.headers["Retry-After"] = str(POLL_AFTER_S)
    return body


def _store_unavailable(err: StoreUnavailable) -> ApiError:
    return ApiError(
        503,
        "store_unavailable",
        "the result store (Redis) is unreachable; retry",
        headers={"Retry-After": str(STORE_RETRY_AFTER_S)},
    )


def _not_found(analysis_id: str) -> ApiError:
    shown = analysis_id if len(analysis_id) <= 80 else analysis_id[:80] + "..."
    return ApiError(
        404, "not_found", f"no analysis {shown!r} (unknown or expired)", field="analysis_id"
    )


def _routable(body: AnalysisRequest) -> AnalysisRequest:
    """The body, once the catalogue knows every provider it names (422 otherwise)."""
    catalogue = cached_catalogue(current_runtime().settings.providers.catalogue_path)
    return check_routable(body, catalogue)


def _for_caller(body: AnalysisRequest, caller: Caller) -> AnalysisRequest:
    """The request as it will run: for the campaign the caller's key allows (403 else)."""
    campaign = caller.query_campaign(body.campaign_id)
    if campaign == body.campaign_id:
        return body
    return body.model_copy(update={"campaign_id": campaign})


def _visible_status(analysis_id: str) -> Outcome | None:
    """The analysis if this caller may see it (None: unknown, or another campaign's)."""
    caller = current_caller()
    keyed = created_with_key(analysis_id)
    return current_runtime().components.service.status(
        analysis_id,
        visible=lambda campaign: caller.may_read(campaign, created_with_key=keyed),
    )


def _visible_or_404(analysis_id: str) -> Outcome:
    """The analysis this caller may see; 404 for a malformed, unknown or other campaign's
    id alike (a malformed one cannot exist: Redis is not asked)."""
    if not ANALYSIS_ID.match(analysis_id):
        raise _not_found(analysis_id)
    try:
        outcome = _visible_status(analysis_id)
    except StoreUnavailable as err:
        raise _store_unavailable(err) from err
    if outcome is None:
        raise _not_found(analysis_id)
    return outcome


def _streamed(body: AnalysisRequest) -> AnalysisRequest:
    """The request of a caller who may read its event stream: `options.stream_mode`, or
    the app's default (`STRATEGIST_STREAM_MODE`)."""
    return body.streamed_as(body.options.stream_mode or current_runtime().settings.stream_mode)


@bp.post("/analyze")
def analyze() -> Response:
    caller = current_caller()
    body = _for_caller(_routable(parse_analysis_request(request)), caller)
    if wants_events(request):
        return _submitted_stream(_streamed(body), caller)
    body = body.streamed_as("buffered")  # a JSON caller reads the whole answer: as before
    try:
        outcome = current_runtime().components.service.analyze(body, keyed=caller.keyed)
    except StoreUnavailable as err:  # only when accepted async for want of a wait slot
        raise _store_unavailable(err) from err
    if outcome.response is None:
        return _pending(outcome.analysis_id)
    return finished_answer(outcome.response, failed_status=502)


@bp.post("/analyses")
def submit_analysis() -> Response:
    caller = current_caller()
    body = _streamed(_for_caller(_routable(parse_analysis_request(request)), caller))
    if wants_events(request):
        return _submitted_stream(body, caller)
    try:
        analysis_id = current_runtime().components.service.submit(body, keyed=caller.keyed)
    except StoreUnavailable as err:
        raise _store_unavailable(err) from err
    return _pending(analysis_id)


def _submitted_stream(body: AnalysisRequest, caller: Caller) -> Response:
    """An analysis accepted as by `POST /analyses`, answered with its event stream."""
    follow_deltas()
    try:
        analysis_id = current_runtime().components.service.submit(body, keyed=caller.keyed)
    except StoreUnavailable as err:
        raise _store_unavailable(err) from err
    response = event_stream(analysis_id)
    response.headers["Location"] = url_for("strategist_api.get_analysis", analysis_id=analysis_id)
    return response


@bp.get("/analyses/<analysis_id>/events")
def analysis_events(analysis_id: str) -> Response:
    """The analysis as server-sent events (strategist/streams/events.py); 404 as GET."""
    skip = resume_position(request)
    _visible_or_404(analysis_id)
    return event_stream(analysis_id, skip)


@bp.get("/analyses/<analysis_id>")
def get_analysis(analysis_id: str) -> Response:
    outcome = _visible_or_404(analysis_id)
    if outcome.response is None:
        return _pending(outcome.analysis_id)
    return shown_answer(outcome.response)


@bp.post("/analyses/<analysis_id>/feedback")
def give_feedback(analysis_id: str) -> Response:
    body = parse_feedback_request(request)
    if not ANALYSIS_ID.match(analysis_id):
        raise _not_found(analysis_id)
    components = current_runtime().components
    try:
        outcome = _visible_status(analysis_id)
    except StoreUnavailable as err:
        raise _store_unavailable(err) from err
    if outcome is None:
        raise _not_found(analysis_id)
    if outcome.response is None:
        raise ApiError(
            409,
            "analysis_pending",
            "the analysis has no answer yet; give feedback once it is finished",
            field="analysis_id",
            headers={"Retry-After": str(POLL_AFTER_S)},
        )
    event = feedback_event(analysis_id, body, outcome.response)
    try:
        feedback_desk(components).give(event)
    except (PipelineUnavailable, NoFeedbackDesk) as err:
        raise ApiError(
            503,
            "pipeline_unavailable",
            "the event broker (Kafka) did not take the feedback; retry",
            headers={"Retry-After": str(PIPELINE_RETRY_AFTER_S)},
        ) from err
    logger.info("analysis=%s feedback=%s %s", analysis_id, event.event_id, event.rating)
    accepted = FeedbackAccepted(
        analysis_id=analysis_id, feedback_id=event.event_id, rating=event.rating, status="accepted"
    )
    reply = jsonify(accepted.model_dump(mode="json"))
    reply.status_code = 202
    reply.headers["Location"] = url_for("strategist_api.get_analysis", analysis_id=analysis_id)
    return reply


@bp.get("/providers")
def providers() -> Response:
    components = current_runtime().components
    statuses: dict[str, ProviderStatus] = {}
    error = None
    try:
        statuses = components.store.provider_statuses()
    except StoreUnavailable as err:  # still show the catalogue; every state is "unknown"
        logger.warning("provider statuses unavailable: %s", err)
        error = "provider status store (Redis) unreachable"
    return jsonify(
        provider_view(
            catalogue=components.catalogue,
            statuses=statuses,
            emulated=components.emulated(),
            status_error=error,
            show_errors=current_caller().sees_provider_errors,
        )
    )


@bp.get("/usage")
def usage() -> Response:
    caller = current_caller()
    requested = request.args.get("campaign")
    if requested is not None and not caller.is_admin and requested != caller.campaign_id:
        raise ApiError(
            403,
            "campaign_forbidden",
            "only an admin key may ask for another campaign's usage",
            field="campaign",
        )
    campaign = requested or caller.campaign_id
    if campaign is None:
        raise ApiError(
            401,
            "unauthorized",
            "usage is per campaign: send an API key",
            headers={"WWW-Authenticate": 'Bearer realm="strategist"'},
        )
    runtime = current_runtime()
    try:
        body = campaign_usage(
            runtime.components.store, runtime.settings.infra.topic_namespace, campaign
        )
    except StoreUnavailable as err:
        raise _store_unavailable(err) from err
    return jsonify(body.model_dump(mode="json"))
