"""The answer as it is written: the analysis's event stream for a console session.

The API's stream (`GET /api/v1/strategist/analyses/<id>/events`) authenticates with bearer
keys only, and the console's session cookie is scoped to `/console`; rather than let a
cookie authenticate the JSON API (and give every API route a CSRF surface), the console
serves the same stream under its own path: `GET /console/analyses/<id>/events`, the
same events with the same ids (`strategist/stream_response.py`), after the same
visibility check as every console page (another campaign's analysis is 404).
`static/console/ask.js` reads it; once it says `done`, the rest of the answer panel
(route, cost, confidence, citations, feedback) comes from `/console/analyses/<id>/facts`,
the server-rendered fragment the whole panel uses too.
"""

from __future__ import annotations

from flask import Response, render_template, request

from schemas.feedback import RATINGS
from strategist.console import signin
from strategist.console.access import visible_outcome
from strategist.console.answer_view import answer_view
from strategist.console.blueprint import bp
from strategist.stream_response import event_stream, resume_position

STREAM_MODE = "live"
"""The console asks for every answer live: the page shows each attempt and takes back
text a failover discards (`restart`), so there is nothing to hold back for it."""


@bp.get("/analyses/<analysis_id>/events")
def analysis_events(analysis_id: str) -> Response:
    """Server-sent events of the analysis (strategist/streams/events.py); `Last-Event-ID`
    resumes. 404 when the signed-in key may not see it."""
    caller = signin.caller()
    skip = resume_position(request)
    visible_outcome(caller, analysis_id)
    return event_stream(analysis_id, skip)


@bp.get("/analyses/<analysis_id>/facts")
def analysis_facts(analysis_id: str) -> Response:
    """Route, cost, confidence, citations and feedback of a finished analysis (the part of
    the answer panel after its text); 409 while it runs."""
    caller = signin.caller()
    outcome = visible_outcome(caller, analysis_id)
    if outcome.response is None:
        return Response(render_template(
            "console/partials/problem.html",
            message="The analysis is still running; its route and cost come with the answer."),
            status=409)  # fmt: skip
    view = answer_view(outcome.response, show_errors=caller.sees_provider_errors)
    return Response(render_template("console/partials/answer_facts.html", a=view,
                                    ratings=RATINGS))
