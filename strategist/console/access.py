"""One analysis as the signed-in key may see it: the API's rule, the API's 404."""

from __future__ import annotations

from flask import abort, current_app

from strategist.analysis.ids import created_with_key
from strategist.auth.gate import Caller
from strategist.console.records import EXTENSION, Records
from strategist.runtime import current_runtime
from strategist.service import ANALYSIS_ID, Outcome


def records() -> Records:
    found: Records = current_app.extensions[EXTENSION]
    return found


def visible_outcome(caller: Caller, analysis_id: str) -> Outcome:
    """The analysis (done or pending); 404 when unknown or another campaign's.
    Raises StoreUnavailable when neither Redis nor the topic could say."""
    if not ANALYSIS_ID.match(analysis_id):
        abort(404)
    keyed = created_with_key(analysis_id)
    outcome = current_runtime().components.service.status(
        analysis_id, visible=lambda campaign: caller.may_read(campaign, created_with_key=keyed)
    )
    if outcome is None:
        abort(404)
    return outcome
