"""The audit command line's own parameter types: `TIME` (when) and `--format` (how).

Kept apart from the commands (audit/__main__.py) so a reader of a command sees what
it does, and the time grammar has one place and its own tests.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from audit.output import FORMATS
from audit.trail import from_ms
from schemas.base import utc_now

RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
UNIX = re.compile(r"^\d+(?:\.\d+)?$")
UNIX_MS_ABOVE = 10**11
"""A Unix time above this is in milliseconds (seconds reach it in the year 5138)."""
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
FORMAT_OPTION = click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="table for people; json or csv for machines.",
)


def parse_time(text: str, *, now: datetime | None = None) -> datetime:
    """ISO 8601 (naive means UTC), Unix seconds or milliseconds, or an age such as 15m,
    2h, 1d (that long ago). Raises click.BadParameter."""
    now = now or utc_now()
    relative = RELATIVE.match(text.strip())
    if relative:
        amount, unit = float(relative.group(1)), relative.group(2)
        return now - timedelta(**{UNITS[unit]: amount})
    if UNIX.match(text.strip()):
        number = float(text)
        return from_ms(int(number if number > UNIX_MS_ABOVE else number * 1000))
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as err:
        raise click.BadParameter(
            f"{text!r}: use ISO 8601 (2025-05-01T12:00Z), Unix time, or an age like 15m"
        ) from err
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class TimeParam(click.ParamType):
    """A click parameter read by `parse_time` (a bad value is a usage error naming it)."""

    name = "TIME"

    def convert(self, value: Any, param: Any, ctx: Any) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_time(str(value))
        except click.BadParameter as err:
            self.fail(err.message, param, ctx)


TIME = TimeParam()
