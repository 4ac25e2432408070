"""Which model serves routine work on this machine, per task kind, and why.

Read from the same file and settings the classifier reads at start-up
(`CLASSIFIER_CAPABILITY_PATH`, `CLASSIFIER_LOCAL_MIN_USABLE`), so the demo shows the
policy the running stack applies.
"""

from __future__ import annotations

from core.capability_policy import CapabilityPolicy, cheapest_hosted
from core.routine_kind import KIND_NAMES
from providers.catalogue import DEFAULT_CATALOGUE, LOCAL_MODEL
from schemas.capability import CapabilityFile, CapabilityFileError
from services.classifier.settings import ClassifierSettings


def routine_policy_table() -> str:
    """A table of the routine kinds: the local model's measured rate, who serves, why."""
    settings = ClassifierSettings()
    try:
        measured = CapabilityFile.load(settings.capability_path)
        policy = CapabilityPolicy.from_file(measured, settings.local_min_usable)
    except CapabilityFileError as err:
        return f"[demo] routine policy unavailable: {err}"
    hosted = cheapest_hosted(DEFAULT_CATALOGUE)
    model = policy.measured.file if policy.measured else "an unnamed model"
    lines = [
        f"[demo] routine work on this machine: the local model ({model}) serves a kind only "
        f"where it was measured at least {policy.threshold:.0%} usable on the routine set "
        f"({measured.split} split, {measured.measured_at:%Y-%m-%d}; `make eval-routine`), "
        "and every local answer is checked before release:",
        "",
        f"    {'kind':<28}{'local usable':<16}served by",
    ]
    for kind, rate in policy.rates.items():
        verdict = policy.verdict(kind)
        served = LOCAL_MODEL if verdict.local else (hosted.model_id if hosted else "-")
        figure = f"{rate.rate:.0%} ({rate.usable}/{rate.n})"
        lines.append(f"    {KIND_NAMES.get(kind, kind):<28}{figure:<16}{served}")
    local = policy.local_kinds()
    lines.append(
        ""
        if local
        else f"    -> no kind reaches the threshold: {model} is too weak, so every routine "
        f"task goes to {hosted.model_id if hosted else 'a hosted model'} here. Point "
        "LOCAL_MODEL_PATH at a real 8B-class GGUF and run `make eval-routine` to change that."
    )
    return "\n".join(lines).rstrip()
