"""The labelled routing workload in `data/routing/` (JSONL, one question per line).

Fields: `id`, `query`, `tier` (simple | standard | complex | live), `deep` (a live
question that also asks for deep analysis), `analysis_type`, `lang` (en | es), optional
`note`. The splits are train, dev and test; test is only ever evaluated, never fitted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from schemas.parts import TIERS

DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "routing"
SPLITS: tuple[str, ...] = ("train", "dev", "test", "holdout")
LANGUAGES = ("en", "es")
ANALYSIS_TYPES = (
    "polling", "strategy", "messaging", "opposition_research", "editing", "general"
)


class DatasetError(ValueError):
    """A line of a split is not a valid labelled example (file and line named)."""


@dataclass(frozen=True)
class Example:
    """One labelled question."""

    id: str
    query: str
    tier: str
    deep: bool
    analysis_type: str
    lang: str
    note: str | None = None

    @property
    def asks_depth(self) -> bool:
        """The depth head's label: deep reasoning, with or without live data."""
        return self.tier == "complex" or (self.tier == "live" and self.deep)


def load_split(split: str, data_dir: Path = DATA_DIR) -> list[Example]:
    """Every example of `split`, validated; raises DatasetError naming file and line."""
    path = data_dir / f"{split}.jsonl"
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            examples.append(_example(json.loads(line)))
        except (ValueError, KeyError, TypeError) as err:
            raise DatasetError(f"{path}:{number}: {err}") from err
    return examples


def _example(raw: dict[str, object]) -> Example:
    example = Example(
        id=str(raw["id"]),
        query=str(raw["query"]),
        tier=str(raw["tier"]),
        deep=bool(raw["deep"]),
        analysis_type=str(raw["analysis_type"]),
        lang=str(raw["lang"]),
        note=None if raw.get("note") is None else str(raw["note"]),
    )
    if example.tier not in TIERS:
        raise ValueError(f"tier {example.tier!r} is not one of {TIERS}")
    if example.deep and example.tier != "live":
        raise ValueError("deep is only for live questions")
    if example.analysis_type not in ANALYSIS_TYPES:
        raise ValueError(f"analysis_type {example.analysis_type!r} is not one of {ANALYSIS_TYPES}")
    if example.lang not in LANGUAGES:
        raise ValueError(f"lang {example.lang!r} is not one of {LANGUAGES}")
    if not example.query.strip():
        raise ValueError("empty query")
    return example
