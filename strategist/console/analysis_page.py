"""`/console/analyses/<id>`: one analysis's audit trail as a timeline, plus its feedback.

Visibility is the API's: the campaign on record decides, and another campaign's analysis
is a 404 exactly like an unknown id. The trail comes from the decision records; while
the recorder has not written them yet, the answer itself (Redis or the topic) is shown.
The summary names the analysis's trace (recorded from its query event's `traceparent`),
linked to the operators' tracing UI when `STRATEGIST_TRACE_URL_TEMPLATE` is set.
"""

from __future__ import annotations

import json

from flask import abort, render_template

from schemas.feedback import RATINGS
from strategist.analysis.ids import created_with_key
from strategist.analysis.store import StoreUnavailable
from strategist.console import signin
from strategist.console.access import records, visible_outcome
from strategist.console.answer_view import answer_view
from strategist.console.blueprint import bp
from strategist.console.records import RecordsUnavailable
from strategist.console.timeline import chart_data, events
from strategist.runtime import current_runtime
from strategist.service import ANALYSIS_ID
from strategist.settings import TRACE_ID_PLACEHOLDER


def trace_link(template: str | None, trace_id: str | None) -> str | None:
    """The trace's page in the configured tracing UI (None: no UI, or no trace)."""
    if template is None or not trace_id:
        return None
    return template.replace(TRACE_ID_PLACEHOLDER, trace_id)


@bp.get("/analyses/<analysis_id>")
def analysis(analysis_id: str) -> str:
    caller = signin.caller()
    if not ANALYSIS_ID.match(analysis_id):
        abort(404)
    error = None
    try:
        recorded = records().analysis(analysis_id)
    except RecordsUnavailable:
        recorded, error = None, "The decision records (PostgreSQL) are unreachable."
    row = (recorded or {}).get("analysis")
    response = None
    if row is not None:  # the record names the campaign: no need to ask Redis who owns it
        if not caller.may_read(row.get("campaign_id"),
                               created_with_key=created_with_key(analysis_id)):
            abort(404)
        try:
            response = current_runtime().components.store.result(analysis_id)
        except StoreUnavailable:
            response = None  # the trail is still worth showing
    else:
        # 404 when not visible; StoreUnavailable (503) when nobody can say whose it is
        response = visible_outcome(caller, analysis_id).response
    view = None if response is None else answer_view(
        response, show_errors=caller.sees_provider_errors)
    shown = events(recorded) if recorded else []
    trace_id = row.get("trace_id") if row is not None else None
    return render_template(
        "console/analysis.html",
        analysis_id=analysis_id,
        recorded=recorded,
        events=shown,
        chart=json.dumps(chart_data(shown)),
        a=view,
        ratings=RATINGS,
        error=error,
        trace_url=trace_link(current_runtime().settings.trace_url_template, trace_id),
    )
