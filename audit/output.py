"""Rows out: an aligned table for people, JSON or CSV for machines (stdout only)."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from typing import Any, Literal, TextIO

Format = Literal["table", "json", "csv"]
FORMATS: tuple[Format, ...] = ("table", "json", "csv")
MAX_CELL_CHARS = 60


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".") if value else "0"
    text = str(value)
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 3] + "..."


def table(rows: Sequence[dict[str, Any]], out: TextIO = sys.stdout) -> None:
    """Columns sized to their content; long cells cut with an ellipsis."""
    if not rows:
        out.write("(none)\n")
        return
    columns = list(rows[0])
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    out.write("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip() + "\n")
    for row in cells:
        out.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() + "\n")


def pairs(values: dict[str, Any], out: TextIO = sys.stdout) -> None:
    """A name: value block (totals, summaries)."""
    width = max((len(k) for k in values), default=0)
    for name, value in values.items():
        out.write(f"{name.ljust(width)}  {_cell(value) if not isinstance(value, str) else value}\n")


def emit(
    fmt: Format,
    rows: Sequence[dict[str, Any]],
    summary: dict[str, Any] | None = None,
    *,
    key: str = "rows",
    out: TextIO = sys.stdout,
) -> None:
    """Rows (and a summary) in the chosen format. CSV carries the rows only."""
    if fmt == "json":
        document: dict[str, Any] = {key: list(rows)}
        if summary is not None:
            document["totals"] = summary
        out.write(json.dumps(document, indent=2, default=str) + "\n")
    elif fmt == "csv":
        if rows:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    else:
        table(rows, out)
        if summary is not None:
            out.write("\n")
            pairs(summary, out)
