"""`/console/login` and sign-out: an API key (form field `api_key`) starts a session."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, redirect, render_template, request, url_for

from strategist.auth.keys import KeyStoreUnavailable
from strategist.console.blueprint import bp
from strategist.console.signin import sign_in, sign_out, signed_in


def _safe_next(target: str | None) -> str:
    """Only a path of this console (never another site, never a scheme-relative URL)."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and parts.path.startswith("/console/"):
            return target
    return url_for("console.ask")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str:
    if request.method == "GET":
        try:
            already = signed_in()
        except KeyStoreUnavailable:
            already = None
        if already is not None:
            return redirect(_safe_next(request.args.get("next")))  # type: ignore[return-value]
        return render_template("console/login.html", next=request.args.get("next", ""))
    refusal = sign_in(request.form.get("api_key", ""))
    if refusal is not None:
        page = render_template(
            "console/login.html", error=refusal.value, next=request.form.get("next", "")
        )
        return Response(page, status=401 if refusal.name != "UNAVAILABLE" else 503)
    return redirect(_safe_next(request.form.get("next")))  # type: ignore[return-value]


@bp.post("/logout")
def logout() -> Response:
    sign_out()
    return redirect(url_for("console.login"))  # type: ignore[return-value]
