"""The money arithmetic of the spend books and of an attempt's maximum cost (no Redis)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from providers.base import CompletionRequest
from providers.catalogue import DEFAULT_CATALOGUE, GEMINI_PRO, LOCAL_MODEL, SONAR
from services.common.spend import _usage, month_of
from services.common.spend_rules import CALL_INPUT_OVERHEAD_TOKENS as INPUT_OVERHEAD_TOKENS
from services.common.spend_rules import is_paid_model as is_paid
from services.common.spend_rules import max_call_cost_usd as max_cost_usd
from services.common.spend_rules import to_micro_usd


@pytest.mark.parametrize(
    ("usd", "micro"),
    [
        (0.0, 0),
        (1.0, 1_000_000),
        (0.0000001, 1),  # a tenth of a micro-dollar is booked as one: never below
        (0.00053, 530),  # float noise (0.00053 * 1e6 = 530.0000000000001) is not a micro more
        (0.1 + 0.2, 300_000),
    ],
)
def test_amounts_are_booked_in_micro_usd_rounded_up(usd: float, micro: int) -> None:
    assert to_micro_usd(usd) == micro


def test_a_negative_amount_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        to_micro_usd(-0.01)


def test_remaining_never_goes_below_zero_and_is_none_without_a_limit() -> None:
    over = _usage("c", "2026-11", [b"1000000", 900_000, 200_000])
    assert (over.spent_usd, over.reserved_usd, over.limit_usd, over.remaining_usd) == (
        0.9,
        0.2,
        1.0,
        0.0,
    )
    assert _usage("c", "2026-11", [b"", 5, 0]).remaining_usd is None


def test_the_books_month_is_the_utc_month() -> None:
    late_in_new_york = datetime(2026, 11, 30, 20, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert month_of(late_in_new_york) == "2026-12"


def test_the_maximum_cost_bounds_input_by_utf8_bytes_and_output_by_the_cap() -> None:
    pro = DEFAULT_CATALOGUE.get("gemini", GEMINI_PRO)
    request = CompletionRequest(
        prompt="Résumé", model=GEMINI_PRO, max_output_tokens=2048, timeout_s=4, system="sys"
    )
    input_bound = len("Résumésys".encode()) + INPUT_OVERHEAD_TOKENS  # é is two bytes
    assert max_cost_usd(pro, request) == pytest.approx(pro.cost_usd(input_bound, 2048))
    sonar = DEFAULT_CATALOGUE.get("perplexity", SONAR)
    assert max_cost_usd(sonar, request) >= sonar.pricing.per_request_usd  # the request fee


def test_only_the_local_model_is_free() -> None:
    assert [spec.model_id for spec in DEFAULT_CATALOGUE.models if not is_paid(spec)] == [
        LOCAL_MODEL
    ]
