"""What the console's answer panel says about a response: route, fallbacks, cost, links."""

from __future__ import annotations

from schemas.parts import AttemptSummary, Citation
from schemas.query import QueryRequested
from schemas.response import AnalysisResponded
from strategist.console.answer_view import answer_view, stages
from tests.unit.strategist.fakes import answered


def _response(**routing: object) -> AnalysisResponded:
    base = answered(QueryRequested(query_id="0" * 32, query="polls?"))
    citations = [Citation(url="https://example.org/poll", title="Poll"),
                 Citation(url="javascript:alert(1)", title="bad")]
    return base.model_copy(update={
        "routing": base.routing.model_copy(update=routing), "citations": citations})


def test_saving_is_against_the_all_pro_estimate() -> None:
    view = answer_view(_response(cost_usd=0.25, baseline_cost_usd=1.0), show_errors=False)
    assert view.saving_percent == 75.0
    assert answer_view(_response(baseline_cost_usd=0.0), show_errors=False).saving_percent is None


def test_fallbacks_say_why_and_only_admins_see_provider_error_texts() -> None:
    failed = AttemptSummary(provider="gemini", model="gemini-2.5-flash", outcome="error",
                            error_kind="unavailable", error_message="quota of account 42")
    response = _response(failed_attempts=[failed])
    [shown] = answer_view(response, show_errors=False).fallbacks
    assert shown["why"] == "unavailable" and "42" not in shown["why"]
    [admin] = answer_view(response, show_errors=True).fallbacks
    assert admin["why"] == "unavailable: quota of account 42"


def test_only_web_links_become_citations() -> None:
    view = answer_view(_response(), show_errors=False)
    assert view.citations == [{"url": "https://example.org/poll", "title": "Poll"}]


def test_stages_read_the_recorded_steps() -> None:
    recorded = {
        "decision": {"tier": "standard", "tier_probabilities": {"standard": 0.81}},
        "attempts": [
            {"provider": "gemini", "model": "gemini-2.5-flash", "outcome": "timeout",
             "error_class": "ProviderTimeout", "latency_ms": 4500.0},
            {"provider": "perplexity", "model": "sonar", "outcome": "started",
             "latency_ms": 0.0},
        ],
    }
    assert stages(recorded) == [
        "Classified: standard (81%)",
        "gemini/gemini-2.5-flash: timeout (ProviderTimeout)",
        "Calling perplexity/sonar",
    ]


def test_an_answer_of_the_local_model_is_flagged_and_a_hosted_one_is_not() -> None:
    assert answer_view(_response(provider="local", model="local-gguf"), show_errors=False).local
    assert not answer_view(_response(provider="gemini"), show_errors=False).local
