"""The capability policy: a routine kind goes to the local model only where the measured
capability file says it is good enough, the route says why, and a bad file stops the
classifier at start-up."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.capability_policy import CapabilityPolicy, cheapest_hosted
from providers.catalogue import DEFAULT_CATALOGUE, GEMINI_FLASH, LOCAL_MODEL
from schemas.capability import (
    CapabilityFile,
    CapabilityFileError,
    GgufIdentity,
    KindRate,
    ModelCapability,
)
from schemas.query import QueryOptions, QueryRequested
from services.classifier.handler import classify
from services.classifier.settings import DEFAULT_CAPABILITY_PATH

MEASURED = GgufIdentity(file="small.gguf", bytes=100, sha256_prefix="ab")


def _rate(usable: int, n: int = 10) -> KindRate:
    return KindRate(n=n, usable=usable, rate=usable / n)


def _file(kinds: dict[str, KindRate], *, limit: int | None = None, judged: bool = True):
    local = ModelCapability(
        provider="local", model_id=LOCAL_MODEL, judged=judged, note="measured", gguf=MEASURED,
        overall=_rate(sum(k.usable for k in kinds.values()), sum(k.n for k in kinds.values())),
        kinds=kinds,
    )  # fmt: skip
    return CapabilityFile(
        split="dev", measured_at=datetime(2026, 12, 6, tzinfo=UTC), tasks_file="dev.jsonl",
        tasks=sum(k.n for k in kinds.values()), tasks_sha256_prefix="00", limit=limit,
        models=[local],
    )  # fmt: skip


POLICY = CapabilityPolicy.from_file(
    _file({"translate": _rate(0), "slogan": _rate(9), "count": _rate(8)}), threshold=0.8
)


@pytest.mark.parametrize(
    ("kind", "local", "says"),
    [
        ("translate", False, "local model not used for translation: 0% usable on the routine set"),
        ("slogan", True, "local model serves slogans: 90% usable"),
        ("count", True, "80% usable"),  # the threshold itself is good enough
        ("bio", False, "short bios (judged by the overall rate)"),  # not measured
        (None, False, "an unrecognised routine task (judged by the overall rate)"),
    ],
)
def test_a_kind_is_served_locally_only_at_or_above_the_threshold(
    kind: str | None, local: bool, says: str
) -> None:
    verdict = POLICY.verdict(kind)
    assert verdict.local is local
    assert says in verdict.reason


def test_routine_task_below_threshold_goes_to_the_cheapest_hosted_model_with_the_reason() -> None:
    query = QueryRequested(query_id="t1", query="Translate into Spanish:\n\nVote early.")
    classified = classify(query, capability=POLICY)
    assert classified.classification.tier == "simple"
    assert classified.classification.routine_kind == "translate"
    first, *rest = classified.route
    assert (first.provider, first.model) == ("gemini", GEMINI_FLASH)
    assert "local model not used for translation: 0% usable" in first.reason
    assert rest[-1].provider == "local"  # still the last resort


def test_routine_task_above_threshold_goes_to_the_local_model() -> None:
    query = QueryRequested(query_id="t2", query="Give me 3 slogans for a transit measure.")
    classified = classify(query, capability=POLICY)
    assert classified.route[0].provider == "local"
    assert "local model serves slogans" in classified.route[0].reason
    assert classified.route[1].model == GEMINI_FLASH  # the next model a failed check asks


def test_without_a_policy_every_routine_task_goes_to_the_local_model() -> None:
    query = QueryRequested(query_id="t3", query="Translate into Spanish:\n\nVote early.")
    assert classify(query).route[0].provider == "local"


def test_non_routine_tiers_are_untouched_by_the_policy() -> None:
    query = QueryRequested(query_id="t4", query="Latest polls in Arizona this week")
    assert classify(query, capability=POLICY).route[0].provider == "perplexity"


def test_a_caller_restricting_providers_still_wins() -> None:
    query = QueryRequested(
        query_id="t5", query="Translate into Spanish:\n\nVote early.",
        options=QueryOptions(providers=["local"]),
    )  # fmt: skip
    assert [s.provider for s in classify(query, capability=POLICY).route] == ["local"]


def test_cheapest_hosted_model_is_flash_today() -> None:
    cheapest = cheapest_hosted(DEFAULT_CATALOGUE)
    assert cheapest is not None and cheapest.model_id == GEMINI_FLASH


def test_the_shipped_file_loads_and_keeps_every_kind_off_smollm2() -> None:
    policy = CapabilityPolicy.load(DEFAULT_CAPABILITY_PATH)
    assert policy.measured is not None and "SmolLM2-135M" in policy.measured.file
    assert policy.local_kinds() == []  # 0-33 % usable per kind, threshold 80 %


def test_model_mismatch_is_reported_and_a_match_is_not() -> None:
    assert POLICY.model_mismatch(GgufIdentity(file="small.gguf", bytes=100)) is None
    other = POLICY.model_mismatch(GgufIdentity(file="llama-8b.gguf", bytes=5_000_000_000))
    assert other is not None and "llama-8b.gguf" in other and "make eval-routine" in other


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "cannot read"),
        ("{not json", "invalid"),
        ('{"format_version": 2}', "invalid at format_version"),
    ],
)
def test_a_missing_or_invalid_file_is_a_clear_error(
    tmp_path: Path, content: str | None, says: str
) -> None:
    path = tmp_path / "capability.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(CapabilityFileError) as raised:
        CapabilityPolicy.load(path)
    assert str(path) in str(raised.value) and says in str(raised.value)


def test_a_smoke_test_or_a_file_without_a_measured_local_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "capability.json"
    path.write_text(_file({"slogan": _rate(9)}, limit=5).model_dump_json())
    with pytest.raises(CapabilityFileError, match="smoke test"):
        CapabilityPolicy.load(path)
    path.write_text(_file({"slogan": _rate(9)}, judged=False).model_dump_json())
    with pytest.raises(CapabilityFileError, match="no measured"):
        CapabilityPolicy.load(path)


def test_a_caller_preferring_cost_gets_the_local_model_first_with_the_reason() -> None:
    query = QueryRequested(
        query_id="t6", query="Translate into Spanish:\n\nVote early.",
        options=QueryOptions(prefer="cost"),
    )  # fmt: skip
    first, second, *_ = classify(query, capability=POLICY).route
    assert first.provider == "local"
    assert "caller prefers cost" in first.reason and "0% usable" in first.reason
    assert second.model == GEMINI_FLASH  # where a failed check escalates
