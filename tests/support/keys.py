"""API keys for the tests' callers of the HTTP API (made in-process, as the demo does).

Test keys get a high rate (`TEST_RATE_PER_MINUTE`) so that load and fuzzing tests
measure what they mean to measure, not the rate limit.
"""

from __future__ import annotations

from strategist.auth.keys import IssuedKey, Role, issue_key

TEST_RATE_PER_MINUTE = 1_000_000
TEST_CAMPAIGN = "tests"


def test_key(
    database_url: str, campaign: str = TEST_CAMPAIGN, *, role: Role = "admin"
) -> IssuedKey:
    """A fresh key (admin by default: it names any campaign in a body, reads them all)."""
    return issue_key(database_url, campaign, role=role, rate_per_minute=TEST_RATE_PER_MINUTE)


test_key.__test__ = False  # type: ignore[attr-defined]  # not a test for pytest
