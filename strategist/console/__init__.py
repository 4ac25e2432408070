"""The web console (`/console/`): strategists ask and see why; operators see the system.

Server-rendered pages (Jinja templates in `templates/console/`, one base layout and small
partials that htmx swaps in), vendored htmx and Chart.js in `static/vendor/`. A page is
reached only with a signed-in API key (`signin.py`); what it shows follows the key's
role and campaign exactly as the API does. See docs/console.md.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from strategist.analysis.store import StoreUnavailable
from strategist.auth.keys import KeyStore, KeyStoreUnavailable
from strategist.console import (  # noqa: F401  (each module adds its routes to `bp`)
    analysis_page,
    ask,
    history,
    keys_page,
    live,
    login,
    operators,
)
from strategist.console.blueprint import bp
from strategist.console.keys_page import KEY_STORE
from strategist.console.records import EXTENSION, Records, RecordsUnavailable
from strategist.console.security import configure, csrf, protect
from strategist.console.signin import signed_in
from strategist.settings import StrategistSettings

logger = logging.getLogger(__name__)

OPEN_ENDPOINTS = frozenset({"console.login", "console.static"})
MIN_SECRET_CHARS = 32


def init_app(app: Flask, settings: StrategistSettings) -> None:
    """Register the console; without a usable secret key its pages answer 503."""
    secret = settings.console.secret_key
    app.extensions[EXTENSION] = Records.of(settings)
    url = settings.infra.database_url
    app.extensions[KEY_STORE] = KeyStore(database_url=url.get_secret_value() if url else None)
    usable = secret is not None and len(secret.get_secret_value()) >= MIN_SECRET_CHARS
    if usable and secret is not None:
        configure(
            app, secret_key=secret.get_secret_value(), session_hours=settings.console.session_hours
        )
    else:
        logger.warning("console disabled: set STRATEGIST_CONSOLE__SECRET_KEY (at least %d "
                       "characters, the same in every app process)", MIN_SECRET_CHARS)
    app.config["CONSOLE_ENABLED"] = usable
    app.register_blueprint(bp)


@bp.before_request
def _gatekeeper() -> Response | None:
    from flask import current_app

    if not current_app.config.get("CONSOLE_ENABLED"):
        return _page("error.html", 503, title="Console not configured",
                     message="The console needs STRATEGIST_CONSOLE__SECRET_KEY (32 or more "
                     "characters, the same in every app process). make up and make demo "
                     "set it.")
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    try:
        caller = signed_in()
    except KeyStoreUnavailable:
        return _page("error.html", 503, title="Keys cannot be checked",
                     message="The key store (PostgreSQL) is unreachable; retry in a moment.")
    if caller is None:
        back = request.full_path.rstrip("?") if request.method == "GET" else None
        target = url_for("console.login", next=back)
        if request.headers.get("HX-Request"):
            reply = Response(status=401)
            reply.headers["HX-Redirect"] = target
            return reply
        return redirect(target)  # type: ignore[return-value]
    return None


@bp.app_context_processor
def _who() -> dict[str, object]:
    """`caller` for the layout's navigation (None when not signed in)."""
    if request.blueprint != bp.name:
        return {}
    try:
        return {"caller": signed_in()}
    except KeyStoreUnavailable:
        return {"caller": None}


@bp.after_request
def _headers(response: Response) -> Response:
    return protect(response)


def _page(template: str, status: int, **context: object) -> Response:
    """A whole page; for an htmx request only the message, to swap into the page."""
    if request.headers.get("HX-Request") and "message" in context:
        body = render_template("console/partials/problem.html", message=context["message"])
    else:
        body = render_template(f"console/{template}", **context)
    return protect(Response(body, status=status))


@bp.errorhandler(CSRFError)
def _csrf_refused(err: CSRFError) -> Response:
    logger.info("console: %s refused: %s", request.path, err.description)
    return _page("error.html", 400, title="Form refused",
                 message="This form was not sent from a page of this console, or it "
                 "expired. Reload the page and try again.")


@bp.errorhandler(StoreUnavailable)
def _store_unavailable(err: StoreUnavailable) -> Response:
    return _page("error.html", 503, title="Result store unreachable",
                 message="The result store (Redis) is unreachable; retry in a moment.")


@bp.errorhandler(RecordsUnavailable)
def _records_unavailable(err: RecordsUnavailable) -> Response:
    return _page("error.html", 503, title="Decision records unreachable",
                 message="The decision records (PostgreSQL) are unreachable; retry in a moment.")


@bp.errorhandler(HTTPException)
def _http_error(err: HTTPException) -> Response:
    titles = {401: "Sign in first", 403: "Admin keys only", 404: "Not found"}
    messages = {
        401: "Sign in with an API key to see this page.",
        403: "This page is for admin keys. Sign in with an admin key to see it.",
        404: "Nothing here: the address is wrong, or it belongs to another campaign.",
    }
    code = err.code or 500
    return _page("error.html", code, title=titles.get(code, err.name),
                 message=messages.get(code, err.description or err.name))
