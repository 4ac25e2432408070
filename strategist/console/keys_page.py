"""`/console/keys` (admin keys): list, create (the key shown once), revoke.

Keys are made by `strategist.auth.issuing.create_key`, as `flask --app strategist keys
create` makes them. A revoked key stops working, console sessions included, within the
key cache's TTL (`STRATEGIST_AUTH__KEY_CACHE_TTL_S`).
"""

from __future__ import annotations

import logging

from flask import Response, current_app, render_template, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.common.redis_client import sync_redis
from strategist.auth.issuing import BudgetNotSet, create_key
from strategist.auth.keys import ROLES, KeyStore, KeyStoreUnavailable, Role
from strategist.console import signin
from strategist.console.blueprint import bp
from strategist.runtime import current_runtime

logger = logging.getLogger(__name__)

KEY_STORE = "strategist.console.keys"
SHOWN_KEYS = 50
"""The newest keys listed; a campaign filter narrows further."""


class NewKeyForm(BaseModel):
    """The create form, validated like the CLI's options."""

    model_config = ConfigDict(extra="forbid")

    campaign_id: str = Field(min_length=1, max_length=128, pattern=r"^\S+$")
    role: Role = "strategist"
    rate_per_minute: int | None = Field(default=None, ge=1)
    monthly_budget_usd: float | None = Field(default=None, ge=0)
    expires_days: int | None = Field(default=None, ge=1)


def key_store() -> KeyStore:
    store: KeyStore = current_app.extensions[KEY_STORE]
    return store


def _listing(**context: object) -> str:
    campaign = (request.args.get("campaign") or "").strip()
    try:
        keys = [k for k in key_store().all() if not campaign or k.campaign_id == campaign]
    except KeyStoreUnavailable:
        keys, context["error"] = [], "The key store (PostgreSQL) is unreachable; retry."
    keys.sort(key=lambda k: k.created_at, reverse=True)
    return render_template("console/keys.html", keys=keys[:SHOWN_KEYS], total=len(keys),
                           campaign=campaign, roles=ROLES, **context)


@bp.get("/keys")
def keys() -> str:
    signin.admin()
    return _listing()


@bp.post("/keys")
def create() -> Response | str:
    caller = signin.admin()
    form = {k: v.strip() for k, v in request.form.items() if k != "csrf_token" and v.strip()}
    try:
        wanted = NewKeyForm.model_validate(form)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        return Response(_listing(error=f"No key created: {field}: {first['msg']}"), status=422)
    settings = current_runtime().settings
    client = (sync_redis(settings.infra.redis_url, concurrency=1)
              if wanted.monthly_budget_usd is not None else None)
    try:
        record, key = create_key(
            key_store(), redis_client=client, namespace=settings.infra.topic_namespace,
            **wanted.model_dump(),
        )
    except (BudgetNotSet, KeyStoreUnavailable) as err:
        return Response(_listing(error=f"No key created: {err}"), status=503)
    finally:
        if client is not None:
            client.close()
    logger.info("console: key=%s created for campaign=%s by key=%s", record.key_id,
                record.campaign_id, caller.key.key_id if caller.key else "-")
    return _listing(created=record, new_key=key)


@bp.post("/keys/<key_id>/revoke")
def revoke(key_id: str) -> Response | str:
    caller = signin.admin()
    try:
        record = key_store().revoke(key_id)
    except KeyStoreUnavailable:
        return Response(_listing(error="The key store (PostgreSQL) is unreachable; retry."),
                        status=503)
    if record is None:
        return Response(_listing(error=f"No key {key_id[:80]!r}."), status=404)
    logger.info("console: key=%s revoked by key=%s", record.key_id,
                caller.key.key_id if caller.key else "-")
    return _listing(revoked=record)
