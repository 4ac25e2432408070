"""`flask --app strategist keys ...`: create, list and revoke API keys.

  keys create CAMPAIGN [--role strategist|admin] [--rate-per-minute N]
                       [--monthly-budget-usd X] [--expires DAYS]
      prints what was created, and the new key alone on the LAST line (shown this
      once: only its hash is stored). `--monthly-budget-usd` sets the campaign's
      monthly spend limit, which the dispatcher enforces.
  keys list [--format text|json]
      ids, campaigns, roles, limits, state and last use; never a key.
  keys revoke ID
      the key stops working in every app process within STRATEGIST_AUTH__KEY_CACHE_TTL_S.

The database is `DATABASE_URL`, migrated first (the recorder does the same at start).
"""

from __future__ import annotations

import json
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from services.common.redis_client import sync_redis
from services.common.spend import read_usage
from strategist.auth.issuing import BudgetNotSet, create_key
from strategist.auth.keys import ROLES, KeyRecord, KeyStore, KeyStoreUnavailable
from strategist.runtime import EXTENSION as RUNTIME
from strategist.settings import StrategistSettings

keys = AppGroup("keys", help="Create, list and revoke the API keys of the strategist API.")


def _settings() -> StrategistSettings:
    settings: StrategistSettings = current_app.extensions[RUNTIME].settings
    return settings


def _store() -> KeyStore:
    url = _settings().infra.database_url
    if url is None:
        raise click.ClickException(
            "DATABASE_URL is not set: API keys live in PostgreSQL (for the local stack: "
            'export DATABASE_URL="$(scripts/postgres.sh url)")'
        )
    store = KeyStore(database_url=url.get_secret_value(), pool_size=1)
    try:
        store.ensure_schema()
    except KeyStoreUnavailable as err:
        raise click.ClickException(f"cannot reach the key store: {err}") from err
    return store


def _when(moment: Any) -> str:
    return moment.isoformat(timespec="seconds") if moment is not None else "-"


def _row(record: KeyRecord, budgets: dict[str, float | None], default_rate: int) -> dict[str, Any]:
    return {
        "key_id": record.key_id,
        "campaign_id": record.campaign_id,
        "role": record.role,
        "rate_per_minute": record.rate_per_minute or default_rate,
        "monthly_budget_usd": budgets.get(record.campaign_id),
        "state": record.state(),
        "created_at": _when(record.created_at),
        "expires_at": _when(record.expires_at),
        "last_used_at": _when(record.last_used_at),
    }


@keys.command("create")
@click.argument("campaign")
@click.option("--role", type=click.Choice(ROLES), default="strategist", show_default=True,
              help="admin keys read every campaign and see raw provider errors.")
@click.option("--rate-per-minute", type=click.IntRange(min=1), default=None,
              help="Requests per minute (default: STRATEGIST_AUTH__DEFAULT_RATE_PER_MINUTE).")
@click.option("--monthly-budget-usd", type=click.FloatRange(min=0), default=None,
              help="Set the campaign's monthly spend limit (all its keys share it).")
@click.option("--expires", "expires_days", type=click.IntRange(min=1), default=None,
              help="Days until the key expires (default: never).")
def create(
    campaign: str,
    role: str,
    rate_per_minute: int | None,
    monthly_budget_usd: float | None,
    expires_days: int | None,
) -> None:
    """Create a key for CAMPAIGN; the key is the last line of the output."""
    settings = _settings()
    client = (sync_redis(settings.infra.redis_url, concurrency=1)
              if monthly_budget_usd is not None else None)
    store = _store()
    try:
        record, key = create_key(
            store,
            redis_client=client,
            namespace=settings.infra.topic_namespace,
            campaign_id=campaign,
            role="admin" if role == "admin" else "strategist",
            rate_per_minute=rate_per_minute,
            monthly_budget_usd=monthly_budget_usd,
            expires_days=expires_days,
        )
    except (BudgetNotSet, KeyStoreUnavailable) as err:
        raise click.ClickException(str(err)) from err
    finally:
        store.close()
        if client is not None:
            client.close()
    rate = rate_per_minute or settings.auth.default_rate_per_minute
    click.echo(f"created {record.key_id}: campaign={campaign} role={record.role} "
               f"rate={rate}/min expires={_when(record.expires_at)}")
    if monthly_budget_usd is not None:
        click.echo(f"campaign {campaign}: monthly budget set to ${monthly_budget_usd:.2f}")
    click.echo("the key (shown this once; send it as 'Authorization: Bearer <key>'):")
    click.echo(key)


@keys.command("list")
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text",
              show_default=True)
def list_keys(fmt: str) -> None:
    """Every key: id, campaign, role, limits, state, last use (never the key)."""
    settings = _settings()
    store = _store()
    try:
        records = store.all()
    except KeyStoreUnavailable as err:
        raise click.ClickException(str(err)) from err
    finally:
        store.close()
    budgets = _budgets(settings, {record.campaign_id for record in records})
    rows = [_row(r, budgets, settings.auth.default_rate_per_minute) for r in records]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    header = ("ID", "CAMPAIGN", "ROLE", "RATE/MIN", "BUDGET/MONTH", "STATE", "EXPIRES",
              "LAST USE")
    lines = [header] + [
        (
            row["key_id"], row["campaign_id"], row["role"], str(row["rate_per_minute"]),
            "-" if row["monthly_budget_usd"] is None else f"${row['monthly_budget_usd']:.2f}",
            row["state"], row["expires_at"], row["last_used_at"],
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
                   .rstrip())


@keys.command("revoke")
@click.argument("key_id")
def revoke(key_id: str) -> None:
    """Revoke the key KEY_ID (effective everywhere within seconds)."""
    store = _store()
    try:
        record = store.revoke(key_id)
    except KeyStoreUnavailable as err:
        raise click.ClickException(str(err)) from err
    finally:
        store.close()
    if record is None:
        raise click.ClickException(f"no key {key_id!r}")
    click.echo(f"revoked {record.key_id} (campaign {record.campaign_id}) at "
               f"{_when(record.revoked_at)}")


def _budgets(settings: StrategistSettings, campaigns: set[str]) -> dict[str, float | None]:
    """Each campaign's monthly limit from the spend books; empty when Redis cannot say."""
    if not campaigns:
        return {}
    client = sync_redis(settings.infra.redis_url, concurrency=1)
    try:
        return {
            campaign: read_usage(client, settings.infra.topic_namespace, campaign).limit_usd
            for campaign in sorted(campaigns)
        }
    except Exception as err:  # a listing without budgets beats no listing
        click.echo(f"(monthly budgets unavailable: {type(err).__name__})", err=True)
        return {}
    finally:
        client.close()
