"""What keeps the console's pages safe to show: headers, the session cookie, CSRF.

- Content-Security-Policy without inline script or style (behaviour lives in static .js
  files, configuration in `data-*` attributes) and `frame-ancestors 'none'`.
- The session is Flask's signed cookie: HttpOnly, SameSite=Strict, Secure whenever the
  request came over TLS (directly or through a proxy that says so), and it expires.
- Every state-changing request (POST) carries a CSRF token: forms in a hidden field,
  htmx requests in the `X-CSRFToken` header (`hx-headers` on the body). Flask-WTF checks
  it, only for the console's routes (the JSON API authenticates with bearer keys, which
  a browser never sends on its own, so it needs none).
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, Request, Response, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
SESSION_COOKIE = "console_session"
csrf = CSRFProtect()


def served_over_tls(req: Request) -> bool:
    """TLS at this server, or at a proxy in front of it that says so."""
    return req.is_secure or req.headers.get("X-Forwarded-Proto", "").lower() == "https"


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, marked Secure per request when served over TLS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return served_over_tls(request) or super().get_cookie_secure(app)


def configure(app: Flask, *, secret_key: str, session_hours: float) -> None:
    """Session and CSRF settings for the whole app (only the console uses a session)."""
    app.secret_key = secret_key
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_PATH="/console",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=session_hours),
        SESSION_REFRESH_EACH_REQUEST=False,
        WTF_CSRF_CHECK_DEFAULT=False,  # checked in the console's own before_request
        WTF_CSRF_TIME_LIMIT=int(session_hours * 3600),
        WTF_CSRF_SSL_STRICT=True,
    )
    app.session_interface = ConsoleSessionInterface()
    csrf.init_app(app)


def protect(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response
