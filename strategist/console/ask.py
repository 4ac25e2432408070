"""`/console/` (ask): the form, the answer as it is written, then its facts and feedback.

The question goes in as an asynchronous analysis (`AnalysisService.submit`, the API's
`POST /analyses`). The page (htmx) gets the live panel (`partials/live.html`), which
`static/console/ask.js` fills from the analysis's event stream (live.py); when the stream
cannot be read, the progress partial polls every second and shows the recorded stages
until the answer is there. Without script the form posts and lands on the analysis's page.
"""

from __future__ import annotations

import logging

from flask import Response, redirect, render_template, request, url_for
from pydantic import ValidationError

from providers.catalogue import cached_catalogue
from schemas.feedback import RATINGS
from strategist.analysis.feedback import NoFeedbackDesk, feedback_desk, feedback_event
from strategist.analysis.pipeline import PipelineUnavailable
from strategist.analysis.store import StoreUnavailable
from strategist.console import signin
from strategist.console.access import records, visible_outcome
from strategist.console.answer_view import answer_view, stages
from strategist.console.blueprint import bp
from strategist.console.live import STREAM_MODE
from strategist.console.records import RecordsUnavailable
from strategist.errors import ApiError
from strategist.request import AnalysisRequest, FeedbackRequest, check_routable
from strategist.runtime import current_runtime
from strategist.stream_response import follow_deltas

logger = logging.getLogger(__name__)

PREFERENCES = ("balanced", "quality", "cost")
LIVE_DATA = {"infer": None, "yes": True, "no": False}
POLL_EVERY_S = 1


def _problem(message: str, status: int = 422) -> Response:
    return Response(render_template("console/partials/problem.html", message=message),
                    status=status)


def _field_error(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "form"
    return f"{where}: {first['msg']}"


@bp.get("/")
def ask() -> str:
    return render_template("console/ask.html", preferences=PREFERENCES)


@bp.post("/ask")
def submit() -> Response:
    caller = signin.caller()
    form = request.form
    live = form.get("live_data", "infer")
    try:
        body = AnalysisRequest.model_validate(
            {
                "query": form.get("query", ""),
                "options": {
                    "prefer": form.get("prefer", "balanced"),
                    "live_data": LIVE_DATA.get(live),
                    "stream_mode": STREAM_MODE,
                },
            }
        )
        catalogue = cached_catalogue(current_runtime().settings.providers.catalogue_path)
        body = check_routable(body, catalogue)
        body = body.model_copy(update={"campaign_id": caller.query_campaign(None)})
    except ValidationError as err:
        return _problem(f"The question was not sent: {_field_error(err)}")
    except ApiError as err:
        return _problem(f"The question was not sent: {err.message}")
    streamed = bool(request.headers.get("HX-Request"))
    if streamed:
        follow_deltas()
    try:
        analysis_id = current_runtime().components.service.submit(body, keyed=True)
    except StoreUnavailable:
        return _problem("The result store (Redis) is unreachable, so the answer could not be "
                        "collected. Nothing was sent; retry in a moment.", 503)
    logger.info("console: analysis=%s asked by key=%s", analysis_id,
                caller.key.key_id if caller.key else "-")
    if not streamed:
        return redirect(url_for("console.analysis", analysis_id=analysis_id))  # type: ignore[return-value]
    return Response(render_template("console/partials/live.html", analysis_id=analysis_id,
                                    show_errors=caller.sees_provider_errors))


@bp.get("/analyses/<analysis_id>/progress")
def progress(analysis_id: str) -> Response | str:
    caller = signin.caller()
    try:
        outcome = visible_outcome(caller, analysis_id)
    except StoreUnavailable:  # keep polling: Redis usually comes back
        return render_template("console/partials/progress.html", analysis_id=analysis_id,
                               stages=[], poll_s=POLL_EVERY_S,
                               note="The result store (Redis) is unreachable; still trying.")
    if outcome.response is None:
        try:
            recorded = records().analysis(analysis_id)
        except RecordsUnavailable:
            recorded = None
        return render_template("console/partials/progress.html", analysis_id=analysis_id,
                               stages=stages(recorded), poll_s=POLL_EVERY_S)
    view = answer_view(outcome.response, show_errors=caller.sees_provider_errors)
    return render_template("console/partials/answer.html", a=view, ratings=RATINGS)


@bp.post("/analyses/<analysis_id>/feedback")
def feedback(analysis_id: str) -> Response | str:
    caller = signin.caller()
    try:
        body = FeedbackRequest.model_validate(
            {
                "rating": request.form.get("rating", ""),
                "comment": request.form.get("comment") or None,
                "grader": f"console:{caller.key.key_id}" if caller.key else None,
            }
        )
    except ValidationError as err:
        return _problem(f"Feedback not sent: {_field_error(err)}")
    try:
        outcome = visible_outcome(caller, analysis_id)
    except StoreUnavailable:
        return _problem("The result store (Redis) is unreachable; retry.", 503)
    if outcome.response is None:
        return _problem("The analysis has no answer yet; give feedback once it is finished.",
                        409)
    event = feedback_event(analysis_id, body, outcome.response)
    try:
        feedback_desk(current_runtime().components).give(event)
    except (PipelineUnavailable, NoFeedbackDesk):
        return _problem("The event broker (Kafka) did not take the feedback; retry.", 503)
    logger.info("console: analysis=%s feedback=%s %s", analysis_id, event.event_id, event.rating)
    return render_template("console/partials/feedback_given.html", rating=event.rating,
                           comment=event.comment)
