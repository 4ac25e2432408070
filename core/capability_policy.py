"""Which routine kinds the local model may serve: its measured usable rate per kind.

The rates come from the one file `make eval-routine` writes (`data/routine/capability.json`,
`schemas.capability.CapabilityFile`), measured on the routine set's dev split with the
configured local model. A routine task goes to the local model only when the rate of
its kind reaches `threshold`; otherwise to the cheapest hosted model in the catalogue
(`cheapest_hosted`). A routine task whose kind is not recognised is judged by the local
model's overall rate. Measuring again after changing `LOCAL_MODEL_PATH` is how the
policy follows a stronger model; `model_mismatch` tells when the file measured another
model than the one configured.

Pure: the classifier loads the file at start-up and hands the policy to `build_route`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.routine_kind import KIND_NAMES
from providers.catalogue import Catalogue, ModelSpec
from schemas.capability import CapabilityFile, CapabilityFileError, GgufIdentity, KindRate

LOCAL = "local"
DEFAULT_LOCAL_MIN_USABLE = 0.8
"""The usable rate on the dev split a kind needs before the local model serves it
(docs/routing.md says why this value)."""
TYPICAL_INPUT_TOKENS = 300
TYPICAL_OUTPUT_TOKENS = 300
"""A routine request and its answer, for comparing hosted models' prices."""


@dataclass(frozen=True)
class KindVerdict:
    """Whether the local model serves a kind, and the sentence that says why."""

    local: bool
    reason: str


@dataclass(frozen=True)
class CapabilityPolicy:
    """The local model's measured rates and the threshold they must reach."""

    rates: dict[str, KindRate]
    overall: KindRate
    threshold: float = DEFAULT_LOCAL_MIN_USABLE
    measured: GgufIdentity | None = None
    split: str = "dev"

    @classmethod
    def from_file(cls, capability: CapabilityFile, threshold: float) -> CapabilityPolicy:
        """The policy from a loaded file; raises CapabilityFileError when the file holds
        no judged local model or only a `--limit` smoke test (not a measurement)."""
        local = capability.judged_model(LOCAL)
        if local is None:
            raise CapabilityFileError("capability file has no measured (judged) local model")
        if capability.limit is not None:
            raise CapabilityFileError(
                f"capability file is a smoke test of {capability.tasks} tasks (--limit), "
                "not a measurement: run `make eval-routine`"
            )
        return cls(
            rates=dict(local.kinds),
            overall=local.overall,
            threshold=threshold,
            measured=local.gguf,
            split=capability.split,
        )

    @classmethod
    def load(cls, path: Path, threshold: float = DEFAULT_LOCAL_MIN_USABLE) -> CapabilityPolicy:
        """Read and check the file; raises CapabilityFileError naming the path."""
        try:
            return cls.from_file(CapabilityFile.load(path), threshold)
        except CapabilityFileError as err:
            message = str(err)
            if str(path) not in message:
                message = f"capability file {path}: {message}"
            raise CapabilityFileError(message) from err

    def verdict(self, kind: str | None) -> KindVerdict:
        """Local or not for a routine task of `kind` (None: not recognised), and why."""
        rate = self.rates.get(kind) if kind is not None else None
        label = KIND_NAMES.get(kind, kind) if kind is not None else "an unrecognised routine task"
        if rate is None:
            rate = self.overall
            label = f"{label} (judged by the overall rate)"
        figure = (
            f"{rate.rate:.0%} usable on the routine set ({self.split} {rate.usable}/{rate.n}, "
            f"threshold {self.threshold:.0%})"
        )
        if rate.n and rate.rate >= self.threshold:
            return KindVerdict(True, f"local model serves {label}: {figure}")
        return KindVerdict(False, f"local model not used for {label}: {figure}")

    def local_kinds(self) -> list[str]:
        """The kinds the local model serves under this policy."""
        return [kind for kind in self.rates if self.verdict(kind).local]

    def model_mismatch(self, configured: GgufIdentity) -> str | None:
        """Why the file's figures may not describe `configured` (another file name or
        size), or None when they match. The sha256 is not compared: hashing an 8B model
        at every start-up would cost seconds."""
        measured = self.measured
        if measured is None:
            return "the capability file does not name the model it measured"
        if measured.file != configured.file or (
            measured.bytes is not None
            and configured.bytes is not None
            and measured.bytes != configured.bytes
        ):
            return (
                f"the capability file measured {measured.file} ({measured.bytes} bytes) but "
                f"the configured local model is {configured.file} ({configured.bytes} bytes): "
                "run `make eval-routine` to measure it"
            )
        return None


def cheapest_hosted(catalogue: Catalogue) -> ModelSpec | None:
    """The hosted model (not local, no live web search: routine work needs none) with the
    lowest price for a typical routine request; None when the catalogue has none."""
    hosted = [
        spec
        for spec in catalogue.models
        if spec.provider != LOCAL and not spec.capabilities.live_web_search
    ]
    if not hosted:
        return None
    return min(hosted, key=lambda s: s.cost_usd(TYPICAL_INPUT_TOKENS, TYPICAL_OUTPUT_TOKENS))
