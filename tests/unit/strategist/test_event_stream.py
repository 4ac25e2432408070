"""The strategist API's event stream through the app, on fakes (no network)."""

from __future__ import annotations

import json
from typing import Any

from schemas.delta import AnswerDelta
from schemas.query import QueryRequested
from tests.unit.strategist.conftest import client_with_key, keyring_of
from tests.unit.strategist.fakes import answered

API = "/api/v1/strategist"


def parse(text: str) -> list[tuple[int, str, Any]]:
    """(id, event, data) of every event of a server-sent event stream."""
    events = []
    for block in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if lines:
            events.append((int(lines["id"]), lines["event"], json.loads(lines["data"])))
    return events


def _deltas(analysis_id: str, pieces: list[str]) -> list[AnswerDelta]:
    common = {"analysis_id": analysis_id, "query_id": analysis_id}
    attempt = {**common, "attempt_id": f"{analysis_id}:1", "attempt_number": 1,
               "provider": "perplexity", "model": "sonar"}
    out = [AnswerDelta(part="routing", **common), AnswerDelta(part="started", **attempt)]
    offset = 0
    for number, piece in enumerate(pieces, start=1):
        out.append(AnswerDelta(part="text", sequence=number, offset=offset, text=piece, **attempt))
        offset += len(piece)
    return out + [AnswerDelta(part="succeeded", sequence=len(pieces) + 1, offset=offset,
                              **attempt)]


def _answered_with_deltas(faked: Any) -> tuple[Any, Any, str]:
    client, parts = faked()
    accepted = client.post(f"{API}/analyses", json={"query": "q"}).get_json()
    analysis_id = accepted["analysis_id"]
    response = answered(QueryRequested(query_id=analysis_id, query="q"))
    for delta in _deltas(analysis_id, ["answer ", "to ", "q"]):
        parts.deltas.add(delta)
    parts.store.save(response)
    return client, parts, analysis_id


def test_the_stream_shows_the_answer_as_written_and_done_is_the_get_json(faked: Any) -> None:
    client, _parts, analysis_id = _answered_with_deltas(faked)
    reply = client.get(f"{API}/analyses/{analysis_id}/events")
    assert reply.status_code == 200 and reply.mimetype == "text/event-stream"
    events = parse(reply.get_data(as_text=True))
    names = [name for _id, name, _data in events]
    assert names == ["routing", "attempt", "delta", "delta", "delta", "attempt", "confidence",
                     "done"]
    assert [i for i, _n, _d in events] == list(range(1, 9))
    done = events[-1][2]
    assert done == client.get(f"{API}/analyses/{analysis_id}").get_json()
    assert "".join(d["text"] for _i, n, d in events if n == "delta") == done["result"]


def test_last_event_id_resumes_with_nothing_lost_and_nothing_twice(faked: Any) -> None:
    client, _parts, analysis_id = _answered_with_deltas(faked)
    url = f"{API}/analyses/{analysis_id}/events"
    whole = parse(client.get(url).get_data(as_text=True))
    rest = parse(client.get(url, headers={"Last-Event-ID": "4"}).get_data(as_text=True))
    assert rest == whole[4:]


def test_post_with_accept_event_stream_answers_with_the_stream(faked: Any) -> None:
    client, parts = faked()
    parts.publisher.on_publish = lambda query: parts.store.save(answered(query))
    reply = client.post(f"{API}/analyze", json={"query": "q"},
                        headers={"Accept": "text/event-stream"})
    assert reply.mimetype == "text/event-stream"
    events = parse(reply.get_data(as_text=True))
    assert [n for _i, n, _d in events][-3:] == ["delta", "confidence", "done"]
    assert events[-1][2]["result"] == "answer to q"
    json_reply = client.post(f"{API}/analyses", json={"query": "q"})
    assert json_reply.status_code == 202 and json_reply.mimetype == "application/json"


def test_another_campaign_s_stream_is_404(faked: Any) -> None:
    client, _parts, analysis_id = _answered_with_deltas(faked)
    app = client.application
    other = client_with_key(app, keyring_of(app).add("c-other"))
    reply = other.get(f"{API}/analyses/{analysis_id}/events")
    assert reply.status_code == 404 and reply.get_json()["error"]["code"] == "not_found"
