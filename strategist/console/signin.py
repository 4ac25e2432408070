"""Who is looking at the console: the API key signed in, re-checked on every request.

Signing in with a key stores only the key's hash in the signed session cookie (the key
itself is never in the cookie, a page or a log). Each request looks the hash up through
the app's key cache (`auth/keyring.py`, a few seconds' TTL), so a revoked or expired key's
session ends within that TTL, exactly as its API requests do. What the key may see is
the API's own `Caller` (`auth/gate.py`): same campaign rule, same 404 for another
campaign's analysis.
"""

from __future__ import annotations

import logging
import time
from enum import Enum

from flask import abort, g, session

from strategist.auth.gate import Caller, current_gate
from strategist.auth.keys import KeyRecord, KeyStoreUnavailable, key_hash, looks_like_key

logger = logging.getLogger(__name__)

KEY_HASH = "key_hash"
SIGNED_IN_AT = "signed_in_at"


class Refusal(Enum):
    """Why a key cannot sign in, in words for the sign-in page."""

    UNKNOWN = "That API key is not known. Check it, or ask an admin for a new one."
    REVOKED = "That API key was revoked. Ask an admin for a new one."
    EXPIRED = "That API key has expired. Ask an admin for a new one."
    UNAVAILABLE = "API keys cannot be checked right now (the key store is unreachable). Retry."


def _record(hashed: str) -> KeyRecord | None:
    return current_gate().keyring.lookup_hash(hashed)


def sign_in(key: str) -> Refusal | None:
    """Start a session for `key`, or say why not."""
    key = key.strip()
    if not looks_like_key(key):
        return Refusal.UNKNOWN
    hashed = key_hash(key)
    try:
        record = _record(hashed)
    except KeyStoreUnavailable as err:
        logger.error("console sign-in not checked: key store unavailable: %s", err)
        return Refusal.UNAVAILABLE
    if record is None:
        return Refusal.UNKNOWN
    state = record.state()
    if state != "active":
        logger.info("console sign-in refused: key=%s %s", record.key_id, state)
        return Refusal.REVOKED if state == "revoked" else Refusal.EXPIRED
    session.clear()
    session.permanent = True
    session[KEY_HASH] = hashed
    session[SIGNED_IN_AT] = int(time.time())
    logger.info("console sign-in: key=%s campaign=%s", record.key_id, record.campaign_id)
    return None


def sign_out() -> None:
    session.clear()


def signed_in() -> Caller | None:
    """The caller of this request, or None (no session, or its key no longer active).

    A session whose key was revoked or expired is cleared. Raises KeyStoreUnavailable."""
    if "console_caller" in g:
        cached: Caller | None = g.console_caller
        return cached
    hashed = session.get(KEY_HASH)
    caller = None
    if isinstance(hashed, str):
        record = _record(hashed)
        if record is not None and record.state() == "active":
            current_gate().keyring.used(record)
            caller = Caller(key=record)
        else:
            session.clear()
    g.console_caller = caller
    return caller


def caller() -> Caller:
    """The signed-in caller (the before_request hook has made sure there is one)."""
    found = signed_in()
    if found is None:
        abort(401)
    return found


def admin() -> Caller:
    """The signed-in caller when it holds an admin key; 403 otherwise."""
    found = caller()
    if not found.is_admin:
        abort(403)
    return found
