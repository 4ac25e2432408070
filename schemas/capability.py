"""The measured capability file (`data/routine/capability.json`): usable rates per model
and routine task kind.

`python -m evaluation.routine` (`make eval-routine`) writes it from the routine set's dev
split; the classifier reads it at start-up (`CLASSIFIER_CAPABILITY_PATH`,
`core/capability_policy.py`) and sends a routine kind to the local model only where the
measured rate reaches the threshold. The models live here, not in `evaluation/`, so that
production reads the file without importing the evaluation tools.

The file names the GGUF it measured (file name, size, sha256 prefix), so a reader can
tell that `LOCAL_MODEL_PATH` now points at another model and the figures are stale.
Hosted models cannot be judged (their answers come from the emulator), so each is
listed with every task counted usable and `judged: false`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

FORMAT_VERSION: Literal[1] = 1

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class CapabilityFileError(ValueError):
    """The capability file is missing, unreadable or not in the expected format."""


class KindRate(BaseModel):
    """How many tasks of a kind were asked, how many answers were usable, and which
    checks the others failed (a task can fail several)."""

    model_config = _FROZEN

    n: int = Field(ge=0)
    usable: int = Field(ge=0)
    rate: float = Field(ge=0, le=1)
    failed_checks: dict[str, int] = Field(default_factory=dict)


class GgufIdentity(BaseModel):
    """Which model file was measured: enough to notice that another one is configured."""

    model_config = _FROZEN

    file: str
    bytes: int | None = None
    sha256_prefix: str | None = None


class ModelCapability(BaseModel):
    """One model's usable rate per kind, and whether it was judged at all."""

    model_config = _FROZEN

    provider: str
    model_id: str
    judged: bool
    note: str
    gguf: GgufIdentity | None = None
    prompt_format: str | None = None
    overall: KindRate
    kinds: dict[str, KindRate]
    seconds_per_task: float | None = None


class CapabilityFile(BaseModel):
    """The whole file: what was measured, on which split, when, and the rates."""

    model_config = _FROZEN

    format_version: Literal[1] = FORMAT_VERSION
    split: str
    measured_at: datetime
    tasks_file: str
    tasks: int
    tasks_sha256_prefix: str
    limit: int | None = None
    """Set when only the first N tasks were asked: a smoke test, not a measurement."""
    models: list[ModelCapability]

    @classmethod
    def load(cls, path: Path) -> CapabilityFile:
        """The file at `path`; raises CapabilityFileError naming the path and the fault."""
        try:
            raw = path.read_text(encoding="utf-8")
        except OSError as err:
            raise CapabilityFileError(f"capability file {path}: cannot read: {err}") from err
        try:
            return cls.model_validate_json(raw)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "(file)"
            raise CapabilityFileError(
                f"capability file {path}: invalid at {where}: {first['msg']}"
            ) from err

    def judged_model(self, provider: str) -> ModelCapability | None:
        """The measured (judged) entry of `provider`, e.g. the local model's."""
        return next((m for m in self.models if m.provider == provider and m.judged), None)
