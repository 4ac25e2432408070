"""A finished analysis as the API answers it: one place, so `GET /analyses/<id>`,
`POST /analyze` and the event stream's `done` / `error` carry the same JSON."""

from __future__ import annotations

import logging

from flask import Response, jsonify

from schemas.response import AnalysisResponded
from services.common.spend_rules import BUDGET_EXHAUSTED
from strategist.analysis.direct import BOOKS_UNAVAILABLE
from strategist.analysis.feedback import AnalysisWithFeedback, NoFeedbackDesk, feedback_desk
from strategist.analysis.store import StoreUnavailable
from strategist.errors import ApiError, blocked_attempt, content_blocked
from strategist.runtime import current_runtime

logger = logging.getLogger(__name__)

SPEND_UNAVAILABLE_RETRY_AFTER_S = 5
"""The direct path made no paid call because the budget books (Redis) were unreachable."""


def finished_answer(response: AnalysisResponded, *, failed_status: int) -> Response:
    """The response for a finished analysis (`failed_status` for a failure other than
    the refusals and limits that have their own status)."""
    blocked = blocked_attempt(response)
    if blocked is not None:
        return content_blocked(response, blocked).response()
    error = response.error or ""
    if failed_status != 200 and error.startswith(BOOKS_UNAVAILABLE):
        # POST: nothing was paid or answered (the budget books were unreachable): retry.
        return ApiError(
            503,
            BOOKS_UNAVAILABLE,
            error,
            headers={"Retry-After": str(SPEND_UNAVAILABLE_RETRY_AFTER_S)},
            analysis_id=response.analysis_id,
        ).response()
    body = jsonify(response.model_dump(mode="json"))
    if response.status == "completed":
        body.status_code = 200
    elif error.startswith(BUDGET_EXHAUSTED):
        body.status_code = 402  # same body: `error` gives the reason
    else:
        body.status_code = failed_status
    return body


def shown_answer(response: AnalysisResponded) -> Response:
    """What `GET /analyses/<id>` answers for a finished analysis: with the feedback
    received, when it can be read."""
    feedback = None
    try:
        feedback = feedback_desk(current_runtime().components).received(response.analysis_id)
    except (StoreUnavailable, NoFeedbackDesk) as err:  # the answer is still worth giving
        logger.warning("analysis=%s: feedback unreadable: %s", response.analysis_id, err)
    if feedback is None:  # unknown: the field is left out rather than shown empty
        return finished_answer(response, failed_status=200)
    shown = AnalysisWithFeedback.model_validate({**response.model_dump(), "feedback": feedback})
    return finished_answer(shown, failed_status=200)
