"""The benchmark's arithmetic: overhead, percentiles, the sustained rate, the JSON line,
open-loop pacing, CPU per query and the profile summary."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import time

import httpx
import pytest

from bench import processes
from bench.load import LoadResult, Sample, run_open_loop, sample_from
from bench.profile import package_of, summarise
from bench.stats import (
    Distribution,
    RateRun,
    max_sustained_qps,
    nearest_rank_percentile,
    overhead_ms,
    reference_run,
    summary,
)

HEADLINE_KEYS = {  # the issue names these; the integration test checks them too
    "routed_overhead_p50_ms",
    "routed_overhead_p99_ms",
    "direct_overhead_p50_ms",
    "direct_overhead_p99_ms",
    "max_sustained_qps",
    "rss_mb_total",
    "machine",
}


def _run(path: str, rate: float, scale: float, p99: float | None, errors: int = 0) -> RateRun:
    values = [] if p99 is None else [p99 / 2] * 90 + [p99] * 10
    return RateRun(
        path=path,
        rate_qps=rate,
        latency_scale=scale,
        sent=100,
        errors=errors,
        achieved_qps=rate,
        overhead=Distribution.of(values),
        provider_service_p50_ms=1.0,
    )


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert nearest_rank_percentile(values, 50) == 50
    assert nearest_rank_percentile(values, 99) == 99
    assert nearest_rank_percentile(values, 100) == 100
    assert nearest_rank_percentile([7.0], 99) == 7.0


def test_overhead_is_total_minus_provider_and_never_negative():
    assert overhead_ms(120.0, 100.0) == 20.0
    assert overhead_ms(99.9, 100.0) == 0.0


def test_distribution_of_nothing_is_none():
    empty = Distribution.of([])
    assert (empty.p50, empty.p99, empty.max) == (None, None, None)
    assert "-" in empty.text()


@pytest.mark.parametrize(
    ("runs", "expected"),
    [
        ([_run("routed", 50, 1.0, 10), _run("routed", 100, 1.0, 40)], 100),
        ([_run("routed", 50, 1.0, 10), _run("routed", 100, 1.0, 60)], 50),
        ([_run("routed", 50, 1.0, 10), _run("routed", 100, 1.0, 10, errors=1)], 50),
        ([_run("direct", 400, 1.0, 1), _run("routed", 400, 0.0, 1)], None),
        ([_run("routed", 200, 1.0, None)], None),
    ],
)
def test_max_sustained_rate_needs_low_p99_no_errors_routed_at_that_latency(runs, expected):
    assert max_sustained_qps(runs, 1.0) == expected


def test_reference_run_is_the_closest_rate():
    runs = [_run("routed", 50, 0.0, 5), _run("routed", 200, 0.0, 5), _run("routed", 100, 1, 5)]
    assert reference_run(runs, "routed", 100, 0.0).rate_qps == 50
    assert reference_run(runs, "direct", 100, 0.0) is None


def test_summary_is_one_json_object_with_the_headline_keys():
    runs = [
        _run("direct", 100, 0.0, 8),
        _run("routed", 100, 0.0, 30),
        _run("routed", 300, 1.0, 45),
        _run("routed", 400, 1.0, 80),
    ]
    report = json.loads(json.dumps(summary(runs, rss_mb_total=1234.5, machine="m")))
    assert report.keys() >= HEADLINE_KEYS
    assert report["routed_overhead_p99_ms"] == 30
    assert report["direct_overhead_p99_ms"] == 8
    assert report["max_sustained_qps"] == 300
    assert len(report["runs"]) == 4


def test_only_completed_answers_with_a_service_time_count():
    completed = {"status": "completed", "routing": {"provider_service_ms": 900.0}}
    assert sample_from(200, completed, 950.0).overhead_ms == 50.0
    assert sample_from(202, None, 30_000.0).error == "HTTP 202"
    assert sample_from(200, {"status": "failed", "routing": {}}, 10.0).error == "status failed"
    unmeasured = sample_from(200, {"status": "completed", "routing": {}}, 10.0)
    result = LoadResult(rate_qps=1, samples=[unmeasured, Sample(5.0, 1.0)])
    assert result.errors == 1
    assert result.error_kinds() == {"no provider_service_ms": 1}


def test_open_loop_keeps_its_rate_when_the_server_is_slow():
    """A closed loop would send 2 requests in this time; an open loop sends all 20."""
    server_delay_s = 0.5

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(server_delay_s)
        body = {"status": "completed", "routing": {"provider_service_ms": 100.0}}
        return httpx.Response(200, json=body)

    result = asyncio.run(
        run_open_loop(
            url="http://bench.test/analyze",
            rate_qps=20,
            duration_s=1.0,
            body_for=lambda i: {"query": str(i)},
            headers={},
            transport=httpx.MockTransport(slow),
        )
    )
    assert len(result.samples) == 20
    assert result.send_window_s < server_delay_s * 2
    assert result.errors == 0
    assert min(result.overheads_ms) >= server_delay_s * 1000 - 100.0 - 5.0


def test_cpu_per_query_and_stack_totals():
    before = {"dispatcher": 1.0, "emulator": 0.0}
    after = {"dispatcher": 1.5, "emulator": 2.0}
    per_query = processes.cpu_ms_per_query(before, after, 100)
    assert per_query == {"dispatcher": 5.0, "emulator": 20.0}
    assert processes.stack_total(per_query) == 5.0
    assert processes.cpu_ms_per_query(before, after, 0) == {"dispatcher": 0.0, "emulator": 0.0}


def test_groups_measure_live_processes_and_find_infrastructure_by_pid_file(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "redis.pid").write_text(f"{os.getpid()}\n")
    groups = [g for g in processes.infrastructure(tmp_path) if g.name == "redis"]
    assert groups == [processes.Group("redis", os.getpid())]
    me = processes.load_generator()
    assert processes.cpu_seconds([me])[me.name] > 0
    assert processes.rss_mb([me])[me.name] > 1
    gone = processes.Group("gone", 2**22 + 7)
    assert processes.cpu_seconds([gone]) == {"gone": 0.0}


def test_proportional_memory_counts_a_forked_childs_shared_pages_once():
    """RSS counts the pages a forked child shares with its parent twice; PSS splits them."""
    child = multiprocessing.get_context("fork").Process(target=time.sleep, args=(30,))
    child.start()
    try:
        family = [processes.Group("family", os.getpid(), children=True)]
        rss, pss = processes.rss_mb(family)["family"], processes.pss_mb(family)["family"]
        assert 0 < pss < rss
    finally:
        child.terminate()
        child.join()


@pytest.mark.parametrize(
    ("file", "package"),
    [
        ("/w/.venv/lib/python3.11/site-packages/pydantic/main.py", "pydantic"),
        ("/w/.venv/lib/python3.11/site-packages/confluent_kafka/cimpl.py", "confluent_kafka"),
        ("/usr/lib/python3.11/asyncio/base_events.py", "stdlib"),
        ("/work/main/services/dispatcher/attempts.py", "services.dispatcher"),
        ("/work/main/core/attempt.py", "core"),
        ("<frozen importlib._bootstrap>", "stdlib"),
    ],
)
def test_package_of(file, package):
    assert package_of(file) == package


def test_profile_summary_counts_self_time_by_package_and_function():
    collapsed = [
        "process 1;run (/work/main/services/dispatcher/worker.py);"
        "model_validate (/x/site-packages/pydantic/main.py) 30",
        "process 1;run (/work/main/services/dispatcher/worker.py) 10",
        "garbage",
    ]
    profile = summarise("dispatcher", collapsed)
    assert profile.samples == 40
    assert profile.by_package["pydantic"] == 30
    assert profile.by_package["services.dispatcher"] == 10
    assert profile.by_function.most_common(1)[0] == ("model_validate (pydantic)", 30)
    assert "ms CPU per query" in profile.text(queries=100)
