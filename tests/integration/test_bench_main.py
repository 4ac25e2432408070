"""`python -m bench` at a tiny scale against the real broker, Redis and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from bench.__main__ import main
from tests.unit.test_bench import HEADLINE_KEYS

BENCH_TIMEOUT_S = 360
"""About 30 s of load (the streaming runs at realistic latency included); the rest is
starting seven processes (the classifier loads its models) and draining them: 40 to 60 s
on a quiet 2-core machine, minutes on a busy one."""


@pytest.mark.timeout(BENCH_TIMEOUT_S)
def test_bench_ends_with_one_json_line_of_the_headline_figures(
    kafka_bootstrap: str, redis_url: str, database_url: str, monkeypatch, capsys
):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["--rates", "5", "--duration", "2", "--latency", "0", "--warmup", "1",
                 "--stream-duration", "2", "--sdk-requests", "1", "--open-streams", "0"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    report = json.loads(last)
    assert report.keys() >= HEADLINE_KEYS
    assert report["routed_overhead_p50_ms"] is not None
    assert report["direct_overhead_p50_ms"] is not None
    assert 0 < report["pss_mb_total"] <= report["rss_mb_total"]
    assert [(r["path"], r["errors"]) for r in report["runs"]] == [("direct", 0), ("routed", 0)]
    # streamed at 10/s for 2 s, each stream's deltas set against the dispatcher's
    assert report["stream_runs"]["done"] == report["stream_runs"]["sent"] == 20
    assert report["stream_ttft_added_p50_ms"] is not None
    assert 0 < report["stream_first_over_total"] < 1  # the first chunk came before the end
    assert report["cpu_ms_per_streamed_query"] > 0 and report["cpu_ms_per_buffered_query"] > 0
