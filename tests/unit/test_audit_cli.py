"""The audit command line: times, help on every subcommand, output formats."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import click
import pytest
from click.testing import CliRunner

from audit.__main__ import cli
from audit.options import parse_time
from audit.output import emit

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", NOW - timedelta(minutes=15)),
        ("2h", NOW - timedelta(hours=2)),
        ("2025-05-01T10:00:00Z", datetime(2025, 5, 1, 10, tzinfo=UTC)),
        ("2025-05-01T10:00:00", datetime(2025, 5, 1, 10, tzinfo=UTC)),
        ("1746093600", datetime(2025, 5, 1, 10, tzinfo=UTC)),
        ("1746093600000", datetime(2025, 5, 1, 10, tzinfo=UTC)),
    ],
)
def test_times(text: str, expected: datetime) -> None:
    assert parse_time(text, now=NOW) == expected


def test_a_bad_time_names_the_accepted_forms() -> None:
    with pytest.raises(click.BadParameter, match="ISO 8601"):
        parse_time("yesterday-ish", now=NOW)


@pytest.mark.parametrize("command", ["show", "replay", "verify", "whatif", "accuracy", "rebuild"])
def test_every_subcommand_has_help(command: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def test_whatif_needs_exactly_one_of_router_or_policy() -> None:
    result = CliRunner().invoke(cli, ["whatif", "--since", "1h"])
    assert result.exit_code == 2 and "exactly one of --router or --policy" in result.output


def test_formats() -> None:
    rows: list[dict[str, object]] = [
        {"id": "a", "cost_usd": 0.0015, "ok": True},
        {"id": "b", "cost_usd": None, "ok": False},
    ]
    as_json, as_csv, as_table = io.StringIO(), io.StringIO(), io.StringIO()
    emit("json", rows, {"analyses": 2}, out=as_json)
    emit("csv", rows, out=as_csv)
    emit("table", rows, {"analyses": 2}, out=as_table)
    assert json.loads(as_json.getvalue()) == {"rows": rows, "totals": {"analyses": 2}}
    assert as_csv.getvalue().splitlines() == ["id,cost_usd,ok", "a,0.0015,True", "b,,False"]
    assert as_table.getvalue().splitlines()[:3] == [
        "id  cost_usd  ok", "a   0.0015    yes", "b   -         no"
    ]
