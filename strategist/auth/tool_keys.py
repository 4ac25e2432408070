"""API keys for this repository's own clients of a running stack (`make demo`, `make eval`).

They need a key like any client. `STRATEGIST_API_KEY`, when set, is used as it is (a
stack elsewhere, a key made with the CLI); otherwise a fresh key is made in the
stack's database: `DATABASE_URL`, or the local one `scripts/postgres.sh url` names
(the database `make up` started).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from strategist.auth.keys import IssuedKey, Role, issue_key

REPO_ROOT = Path(__file__).resolve().parents[1]
POSTGRES_SCRIPT = REPO_ROOT / "scripts" / "postgres.sh"
SCRIPT_TIMEOUT_S = 30.0
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
    return issue_key(_database_url(), campaign, role=role, rate_per_minute=rate_per_minute)


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return url
    try:
        done = subprocess.run(
            [str(POSTGRES_SCRIPT), "url"],
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT_S,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as err:
        raise NoKeyAvailable(
            f"set {API_KEY_ENV} (flask --app strategist keys create CAMPAIGN) or DATABASE_URL; "
            f"scripts/postgres.sh url failed: {type(err).__name__}"
        ) from err
    return done.stdout.strip()
