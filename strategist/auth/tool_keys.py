"""API keys for this repository's own clients of a running stack (`make demo`, `make eval`).

They need a key like any client. `STRATEGIST_API_KEY`, when set, is used as it is (a
stack elsewhere, a key made with the CLI); otherwise a fresh key is made in the
stack's database: `DATABASE_URL`, or the local one `scripts/postgres.sh url` names
(the database `make up` started).
"""

from __future__ import annotations

import os

from services.common.database import NoDatabaseUrl, local_database_url
from strategist.auth.keys import IssuedKey, Role, issue_key

API_KEY_ENV = "STRATEGIST_API_KEY"


class NoKeyAvailable(RuntimeError):
    """Neither STRATEGIST_API_KEY nor a database to make a key in."""


def tool_headers(
    campaign: str, *, role: Role = "strategist", rate_per_minute: int
) -> dict[str, str]:
    """The `Authorization` header for a tool's requests; raises NoKeyAvailable."""
    given = os.environ.get(API_KEY_ENV, "").strip()
    if given:
        return {"Authorization": f"Bearer {given}"}
    return tool_key(campaign, role=role, rate_per_minute=rate_per_minute).header


def tool_key(campaign: str, *, role: Role, rate_per_minute: int) -> IssuedKey:
    try:
        url = local_database_url()
    except NoDatabaseUrl as err:
        raise NoKeyAvailable(
            f"set {API_KEY_ENV} (flask --app strategist keys create CAMPAIGN) or DATABASE_URL; "
            f"{err}"
        ) from err
    return issue_key(url, campaign, role=role, rate_per_minute=rate_per_minute)
