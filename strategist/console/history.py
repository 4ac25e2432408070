"""`/console/history`: the campaign's analyses, newest first, filtered, keyset-paged.

A strategist key sees its own campaign only (the filter is forced); an admin key sees
every campaign and may narrow to one. The filters are query parameters, so a filtered
page is a link; htmx swaps just the table when a filter changes.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from flask import Response, render_template, request

from providers.catalogue import cached_catalogue
from schemas.parts import TIERS
from strategist.console import signin
from strategist.console.access import records
from strategist.console.blueprint import bp
from strategist.console.records import STATUSES, HistoryFilter, RecordsUnavailable
from strategist.runtime import current_runtime

MAX_TEXT_CHARS = 200


def _day(value: str | None, *, end: bool = False) -> datetime | None:
    """A `YYYY-MM-DD` field as the start of that day (UTC), or of the next for `end`."""
    if not value:
        return None
    try:
        day = datetime.combine(datetime.strptime(value, "%Y-%m-%d").date(), time(), UTC)
    except ValueError:
        return None
    return day + timedelta(days=1) if end else day


def _filter(campaign: str | None) -> HistoryFilter:
    args = request.args
    status = args.get("status") or None
    tier = args.get("tier") or None
    return HistoryFilter(
        campaign_id=campaign,
        tier=tier if tier in TIERS else None,
        provider=(args.get("provider") or None),
        status=status if status in STATUSES else None,
        since=_day(args.get("from")),
        until=_day(args.get("to"), end=True),
        text=(args.get("q") or "").strip()[:MAX_TEXT_CHARS] or None,
    )


@bp.get("/history")
def history() -> Response | str:
    caller = signin.caller()
    campaign = caller.campaign_id if not caller.is_admin else (request.args.get("campaign")
                                                                or None)
    shown = _filter(campaign)
    after = request.args.get("after") or None
    size = current_runtime().settings.console.page_size
    error = None
    try:
        page = records().history(shown, after=after, limit=size)
    except RecordsUnavailable:
        page, error = None, "The decision records (PostgreSQL) are unreachable; retry."
    template = ("console/partials/history_rows.html" if request.headers.get("HX-Request")
                and request.headers.get("HX-Target") == "history-table"
                else "console/history.html")
    settings = current_runtime().settings
    providers = cached_catalogue(settings.providers.catalogue_path).routable_providers()
    args = {k: v for k, v in request.args.items() if k != "after" and v}
    return render_template(template, page=page, error=error, f=shown, tiers=TIERS,
                           statuses=STATUSES, providers=providers, args=args,
                           admin=caller.is_admin, campaign=campaign)
