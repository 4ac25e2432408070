"""Who is calling: API keys on every `/api/v1/` route, and what a key may see.

`AuthGate` is the Flask extension (`app.extensions["strategist.auth"]`); its
`before_request` hook runs for every path under `/api/v1/` (so an unknown path
answers 401 before 404, and ids and paths leak nothing):

  no `Authorization` header      401 `unauthorized` (mode `required`); in the keyless mode
                                 (`legacy`) the request goes on without a key
  not `Bearer <key>`, or unknown 401 `invalid_key`
  revoked / expired key          403 `key_revoked` / `key_expired`
  over the key's rate            429 `rate_limited` with `Retry-After`
  key store unreachable          503 `key_store_unavailable` (nothing cached for the key)

Every 401 carries `WWW-Authenticate: Bearer` (RFC 6750). A key is never logged: only
its id. The handlers ask `current_caller()` what the request may do: the campaign a
query runs for (`query_campaign`) and which analyses it may read (`may_read`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Flask, current_app, g, request

from strategist.auth.keyring import KeyLookup
from strategist.auth.keys import KeyRecord, KeyStoreUnavailable, Role
from strategist.auth.ratelimit import Limiter
from strategist.errors import ApiError
from strategist.settings import AuthSettings

logger = logging.getLogger(__name__)

EXTENSION = "strategist.auth"
PROTECTED_PREFIX = "/api/v1/"
REALM = "strategist"
KEY_STORE_RETRY_AFTER_S = 5


@dataclass(frozen=True)
class Caller:
    """The key behind a request, or none (the keyless mode only)."""

    key: KeyRecord | None

    @property
    def keyed(self) -> bool:
        return self.key is not None

    @property
    def role(self) -> Role | None:
        return self.key.role if self.key else None

    @property
    def is_admin(self) -> bool:
        return self.key is not None and self.key.role == "admin"

    @property
    def campaign_id(self) -> str | None:
        return self.key.campaign_id if self.key else None

    def query_campaign(self, requested: str | None) -> str | None:
        """The campaign a query runs for. A strategist key's own campaign (naming another
        is 403); an admin's: the one named, else its own; without a key: as named."""
        if self.key is None:
            return requested
        if self.is_admin:
            return requested or self.key.campaign_id
        if requested is not None and requested != self.key.campaign_id:
            raise ApiError(
                403,
                "campaign_forbidden",
                "this API key belongs to another campaign; leave campaign_id out or send "
                "the key's own",
                field="campaign_id",
            )
        return self.key.campaign_id

    def may_read(self, campaign_id: str | None, *, created_with_key: bool) -> bool:
        """Admins read everything; a strategist key its own campaign's analyses; a request
        without a key (the keyless mode) only analyses that were created without one."""
        if self.key is None:
            return not created_with_key
        return self.is_admin or campaign_id == self.key.campaign_id

    @property
    def sees_provider_errors(self) -> bool:
        """Raw provider error texts (they may name accounts, quotas, endpoints): admins only."""
        return self.is_admin


ANONYMOUS = Caller(key=None)


def _unauthorized(code: str, message: str, *, invalid: bool) -> ApiError:
    challenge = f'Bearer realm="{REALM}"'
    if invalid:
        challenge += ', error="invalid_token"'
    return ApiError(401, code, message, headers={"WWW-Authenticate": challenge})


class AuthGate:
    """Checks the bearer key of every `/api/v1/` request; see the module docstring."""

    def __init__(self, *, settings: AuthSettings, keyring: KeyLookup, limiter: Limiter) -> None:
        self.settings = settings
        self.keyring = keyring
        self.limiter = limiter

    def init_app(self, app: Flask) -> None:
        app.extensions[EXTENSION] = self
        app.before_request(self._before_request)
        if self.settings.keyless:
            logger.warning(
                "STRATEGIST_AUTH__MODE=legacy: requests without an API key are served as "
                "before keys existed (campaign from the body). Give every client a key, then "
                "switch back to required."
            )

    def _before_request(self) -> None:
        if request.path.startswith(PROTECTED_PREFIX):
            g.caller = self.authenticate(request.headers.get("Authorization"))

    def authenticate(self, header: str | None) -> Caller:
        """The caller of a request with this `Authorization` header; raises ApiError."""
        if header is None or not header.strip():
            if self.settings.keyless:
                return ANONYMOUS
            raise _unauthorized(
                "unauthorized",
                "send an API key: Authorization: Bearer <key> "
                "(flask --app strategist keys create CAMPAIGN makes one)",
                invalid=False,
            )
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _unauthorized(
                "invalid_key", "the Authorization header must be 'Bearer <key>'", invalid=True
            )
        try:
            record = self.keyring.lookup(token)
        except KeyStoreUnavailable as err:
            logger.error("API key not checked: key store unavailable: %s", err)
            raise ApiError(
                503,
                "key_store_unavailable",
                "API keys cannot be checked right now; retry",
                headers={"Retry-After": str(KEY_STORE_RETRY_AFTER_S)},
            ) from err
        if record is None:
            raise _unauthorized("invalid_key", "unknown API key", invalid=True)
        state = record.state()
        if state != "active":
            logger.info("key=%s refused: %s", record.key_id, state)
            raise ApiError(403, f"key_{state}", f"this API key is {state}")
        rate = record.rate_per_minute or self.settings.default_rate_per_minute
        wait_s = self.limiter.take(record.key_id, rate)
        if wait_s is not None:
            raise ApiError(
                429,
                "rate_limited",
                f"this API key may make {rate} requests per minute; retry in {wait_s}s",
                headers={"Retry-After": str(wait_s)},
            )
        self.keyring.used(record)
        return Caller(key=record)


def current_gate() -> AuthGate:
    gate: AuthGate = current_app.extensions[EXTENSION]
    return gate


def current_caller() -> Caller:
    """The caller of this request (ANONYMOUS outside /api/v1/, or without a key in the
    keyless mode)."""
    caller: Caller = g.get("caller", ANONYMOUS)
    return caller


def caller_of(header: str | None) -> Caller:
    """For open routes (`/readyz`): the caller a header names, ANONYMOUS on any problem
    (those routes answer everyone, and show more only to admins)."""
    if header is None:
        return ANONYMOUS
    try:
        return current_gate().authenticate(header)
    except ApiError:
        return ANONYMOUS
