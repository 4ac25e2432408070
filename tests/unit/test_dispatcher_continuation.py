"""A live answer that fails mid-way is continued by the next model when it accepts a
continuation, and the caller reads one answer: the completion's text is exactly the text
of the deltas a live reader was shown (services/dispatcher/route_walk.py, delivered.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from providers.base import CompletionRequest, ProviderReply
from providers.catalogue import GEMINI_PRO
from providers.errors import ProviderError, ServerError, StreamStalled, StreamTruncated
from schemas.delta import AnswerDelta
from schemas.query import QueryOptions, QueryRequested, StreamMode
from services.classifier.handler import classify
from tests.unit.dispatcher_fakes import (
    TOPICS,
    Broker,
    Health,
    ScriptedProvider,
    completion_of,
    make_dispatcher,
)

QUESTION = "Build a 3-phase persuasion strategy from these crosstabs, with trade-offs"
Call = tuple[Sequence[str], ProviderError | None]
"""One call's behaviour: the pieces it streams, then the error that ends it (None: done)."""


class Scripted(ScriptedProvider):
    """Streams each call's pieces to `on_text`, then fails or answers (the continuation
    only, as a real client returns it)."""

    def __init__(self, name: str, calls: Sequence[Call]) -> None:
        super().__init__(name)
        self.script = list(calls)

    async def complete(self, request: CompletionRequest) -> ProviderReply:
        self.calls.append(request)
        pieces, error = self.script.pop(0) if self.script else ([f"whole {self.name}."], None)
        for piece in pieces:
            assert request.on_text is not None
            request.on_text(piece)
            await asyncio.sleep(0)
        if error is not None:
            raise error
        return ProviderReply(text="".join(pieces), model=request.model, input_tokens=10,
                             output_tokens=20, finish_reason="stop")  # fmt: skip


def _query(mode: StreamMode, *, model: str | None = None):
    options = QueryOptions(stream_mode=mode, model=model)
    return classify(QueryRequested(query_id="q1", query=QUESTION, options=options))


def _run(providers, classified, *, health: Health | None = None):
    broker = Broker()
    out = asyncio.run(make_dispatcher(providers, broker=broker, health=health).handle(classified))
    deltas = [o.event for o in broker.sent if isinstance(o.event, AnswerDelta)]
    return completion_of(out), deltas


def shown_to_a_live_reader(deltas: list[AnswerDelta]) -> str:
    """What a reader that follows the rules sees at the end: text of live attempts as it
    comes, of others once they succeed; a fresh attempt that shows text replaces it."""
    shown, texts, release, continues = "", {}, {}, {}
    for d in deltas:
        if d.part == "started":
            release[d.attempt_id], continues[d.attempt_id] = d.release, d.continues_attempt_id
            texts[d.attempt_id] = []
        elif d.part == "text":
            texts[d.attempt_id].append(d)
            if release[d.attempt_id] == "live":
                if not continues[d.attempt_id] and len(texts[d.attempt_id]) == 1:
                    shown = ""  # restart: a fresh answer
                assert d.offset == len(shown), "a gap or a repeat"
                shown += d.text
        elif d.part == "succeeded" and release[d.attempt_id] != "live":
            shown = "".join(t.text for t in texts[d.attempt_id])
    return shown


def test_a_cut_live_answer_is_continued_by_a_model_that_accepts_a_prefill() -> None:
    gemini = Scripted("gemini", [(["The plan ", "has "], StreamTruncated("gemini", "cut")),
                                 (["three phases."], None)])  # fmt: skip
    providers = [gemini, ScriptedProvider("perplexity"), ScriptedProvider("local")]
    completion, deltas = _run(providers, _query("auto", model=GEMINI_PRO))
    assert completion.answer is not None
    assert completion.answer.text == "The plan has three phases."
    assert completion.answer.model == "gemini-2.5-flash"  # Pro's declared fallback
    assert gemini.calls[1].prefix == "The plan has "
    started = [d for d in deltas if d.part == "started"]
    pairs = [(d.release, d.continues_attempt_id) for d in started]
    assert pairs == [("live", ""), ("live", "q1:1")]
    tail = [d for d in deltas if d.attempt_id == "q1:2" and d.part == "text"]
    assert [(d.offset, d.text) for d in tail] == [(len("The plan has "), "three phases.")]
    assert shown_to_a_live_reader(deltas) == completion.answer.text


def test_a_continuation_that_fails_is_continued_again_by_the_next_accepting_model() -> None:
    gemini = Scripted("gemini", [(["One, "], StreamTruncated("gemini", "cut")),
                                 (["two, "], StreamStalled("gemini", "stall")),
                                 (["three."], None)])  # fmt: skip
    # Named Pro, live: Pro cut, Flash continues and stalls, then (Sonar Pro cannot
    # continue) ... so make the route all-Gemini by restricting the providers.
    classified = _query("live", model=GEMINI_PRO)
    route = [s for s in classified.route if s.provider == "gemini"]
    route.append(route[0].model_copy(update={"model": GEMINI_PRO, "reason": "again"}))
    classified = classified.model_copy(update={"route": route})
    completion, deltas = _run([gemini, ScriptedProvider("perplexity"),
                               ScriptedProvider("local")], classified)  # fmt: skip
    assert completion.answer is not None and completion.answer.text == "One, two, three."
    assert [c.prefix for c in gemini.calls] == ["", "One, ", "One, two, "]
    started = [d for d in deltas if d.part == "started"]
    assert [d.continues_attempt_id for d in started] == ["", "q1:1", "q1:2"]
    assert shown_to_a_live_reader(deltas) == completion.answer.text


def test_a_complex_answer_cut_mid_way_is_continued_by_flash_before_sonar_pro_is_asked() -> None:
    """The complex route is Pro, Sonar Pro, Flash, local: after Pro's text was shown, the
    step that can continue it (Flash) goes first, so `auto` streams Pro live."""
    gemini = Scripted("gemini", [(["The plan ", "has "], StreamTruncated("gemini", "cut")),
                                 (["three phases."], None)])  # fmt: skip
    sonar = Scripted("perplexity", [])
    classified = _query("auto")
    assert [s.model for s in classified.route][:3] == [
        "gemini-2.5-pro", "sonar-pro", "gemini-2.5-flash"]  # fmt: skip
    completion, deltas = _run([gemini, sonar, ScriptedProvider("local")], classified)
    assert completion.answer is not None
    assert completion.answer.text == "The plan has three phases."
    assert completion.answer.model == "gemini-2.5-flash"
    assert completion.answer.continued_chars == len("The plan has ")
    assert sonar.calls == []
    started = [d for d in deltas if d.part == "started"]
    assert [(d.model, d.release, d.continues_attempt_id) for d in started] == [
        ("gemini-2.5-pro", "live", ""), ("gemini-2.5-flash", "live", "q1:1")]
    assert [s.model for s in completion.route][:3] == [
        "gemini-2.5-pro", "gemini-2.5-flash", "sonar-pro"]  # the walk as it went
    assert shown_to_a_live_reader(deltas) == completion.answer.text


def test_a_cut_where_the_fallback_cannot_continue_restarts_on_a_fresh_answer() -> None:
    gemini = Scripted("gemini", [(["Half ", "an "], StreamTruncated("gemini", "cut"))])
    sonar = Scripted("perplexity", [(["Whole ", "answer."], None)])
    classified = _query("live")  # no Gemini Flash on this route: nobody can continue Pro
    route = [s for s in classified.route if s.model != "gemini-2.5-flash"]
    classified = classified.model_copy(update={"route": route})
    completion, deltas = _run([gemini, sonar, ScriptedProvider("local")], classified)
    assert completion.answer is not None and completion.answer.text == "Whole answer."
    assert sonar.calls[0].prefix == ""  # Sonar's API cannot take a prefill
    started = [d for d in deltas if d.part == "started"]
    assert [(d.model, d.release, d.continues_attempt_id) for d in started] == [
        ("gemini-2.5-pro", "live", ""), ("sonar-pro", "live", "")]
    fresh = [d for d in deltas if d.attempt_id == started[1].attempt_id and d.part == "text"]
    assert fresh[0].offset == 0
    assert shown_to_a_live_reader(deltas) == completion.answer.text


def test_a_stall_after_text_is_continued_and_a_malformed_end_counts_as_a_cut() -> None:
    for failure in (StreamStalled("gemini", "no chunk for 15 s"),
                    StreamTruncated("gemini", "stream ended without a finish reason")):
        gemini = Scripted("gemini", [(["Start. "], failure), (["End."], None)])
        completion, deltas = _run([gemini, ScriptedProvider("perplexity"),
                                   ScriptedProvider("local")],
                                  _query("live", model=GEMINI_PRO))  # fmt: skip
        assert completion.answer is not None and completion.answer.text == "Start. End."
        assert shown_to_a_live_reader(deltas) == "Start. End."


def test_auto_holds_back_an_answer_whose_takeover_cannot_continue() -> None:
    gemini = Scripted("gemini", [(["Half "], StreamTruncated("gemini", "cut"))])
    sonar = Scripted("perplexity", [(["Whole."], None)])
    classified = _query("auto")  # without Flash, Sonar Pro takes over and cannot continue
    route = [s for s in classified.route if s.model != "gemini-2.5-flash"]
    classified = classified.model_copy(update={"route": route})
    completion, deltas = _run([gemini, sonar, ScriptedProvider("local")], classified)
    started = [d for d in deltas if d.part == "started"]
    # Pro's takeover (Sonar Pro) cannot continue: held back; Sonar Pro's would be the
    # local model, which cannot either: held back too.
    assert [d.release for d in started] == ["attempt", "attempt"]
    assert sonar.calls[0].prefix == ""
    assert completion.answer is not None
    assert shown_to_a_live_reader(deltas) == completion.answer.text == "Whole."


def test_buffered_is_unchanged_a_failover_is_a_fresh_answer_never_a_continuation() -> None:
    gemini = Scripted("gemini", [(["Half "], StreamTruncated("gemini", "cut")),
                                 (["Flash whole."], None)])  # fmt: skip
    completion, deltas = _run([gemini, ScriptedProvider("perplexity"),
                               ScriptedProvider("local")],
                              _query("buffered", model=GEMINI_PRO))  # fmt: skip
    assert [c.prefix for c in gemini.calls] == ["", ""]
    assert {d.release for d in deltas if d.part == "started"} == {"attempt"}
    assert completion.answer is not None and completion.answer.text == "Flash whole."


def test_an_error_before_any_text_leaves_the_shown_text_to_continue() -> None:
    gemini = Scripted("gemini", [(["Begun "], StreamTruncated("gemini", "cut")),
                                 ([], ServerError("gemini", "500", 500)),
                                 (["and ended."], None)])  # fmt: skip
    completion, deltas = _run([gemini, ScriptedProvider("perplexity"),
                               ScriptedProvider("local")],
                              _query("live", model=GEMINI_PRO))  # fmt: skip
    assert [c.prefix for c in gemini.calls] == ["", "Begun ", "Begun "]  # 500: same model again
    started = [d for d in deltas if d.part == "started"]
    assert [d.continues_attempt_id for d in started] == ["", "q1:1", "q1:1"]
    assert completion.answer is not None and completion.answer.text == "Begun and ended."
    assert shown_to_a_live_reader(deltas) == completion.answer.text


def test_deltas_go_to_the_topic_keyed_by_analysis() -> None:
    broker = Broker()
    asyncio.run(make_dispatcher([Scripted("gemini", []), ScriptedProvider("perplexity"),
                                 ScriptedProvider("local")], broker=broker
                                ).handle(_query("live")))  # fmt: skip
    assert {o.key for o in broker.sent if o.topic == TOPICS.answer_deltas} == {"q1"}
