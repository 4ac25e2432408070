"""CPU the recorder spends per query, against the real PostgreSQL (`python -m bench.recorder`).

Feeds the events of N realistic queries (the query, its classification, a provider
attempt's `started` and `success` records, the scored response: the five records one
routed query leaves on the audit topics; provider-health heartbeats are not recorded)
through the recorder's own handler and writer, the way its workers call them: one
asyncio handler task per event, up to `--in-flight` at once per topic, all six topics
concurrently. Events are decoded beforehand, so the figure is the recorder's own work
(building and running the upserts), not the worker loop's decoding or Kafka polling.

It prints events per second and CPU milliseconds per query (`time.process_time`: every
thread of this process, not the PostgreSQL server's own CPU), after a warm-up round,
into a throwaway database it creates and drops (nothing else is touched). With
`--rewrite` every query is fed twice, the second time as a redelivery.

With `--process` it measures the whole recorder process instead: it starts
`python -m services.recorder` on a fresh topic namespace, publishes the queries'
records to the real broker, waits until every row is in the database, and reads the
process's CPU time (psutil), minus what it burns idle (measured first, over
`IDLE_WINDOW_S`): decoding, Kafka polling and offset commits included.

Run it on the code before and after a change, on the same machine, to compare; the
fallback in `_handler` reproduces the worker's handler of before the statement cache
(it had no `record_handler`), so the same script measures both.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psutil
import psycopg
from psycopg import sql

from bench.recorded_events import EVENTS_PER_QUERY, event_id, query_events
from harness.kafka import delete_namespace, test_producer
from harness.processes import infra_env, python_module, unique_namespace
from schemas.base import EventModel
from schemas.topics import TopicNames
from services.common.admin import create_topics
from services.common.database import local_database_url, make_engine, sqlalchemy_url, upgrade
from services.common.settings import InfraSettings
from services.recorder.writer import RecordWriter

DEFAULT_QUERIES = 1000
WARMUP_QUERIES = 50
DEFAULT_IN_FLIGHT = 16
"""The recorder's default `RECORDER_MAX_IN_FLIGHT`."""
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
READY_TIMEOUT_S = 60.0
SETTLE_S = 2.0
"""After the workers are assigned, before the idle window (start-up work ends)."""
IDLE_WINDOW_S = 5.0
CAUGHT_UP_TIMEOUT_S = 300.0
CAUGHT_UP_POLL_S = 0.2
PUBLISH_TIMEOUT_S = 60.0
RECORDER_WORKERS = 6

Handle = Callable[[EventModel], Awaitable[Any]]


def _handler(writer: RecordWriter) -> Handle:
    """The handler the recorder's workers run (what `build_workers` gives each worker)."""
    try:
        from services.recorder.worker import record_handler
    except ImportError:  # the code before the statement cache: the worker's old closure
        from services.recorder.handler import upserts

        async def handle(event: EventModel) -> list[Any]:
            await writer.write_async(upserts(event))
            return []
        return handle
    return record_handler(writer)  # type: ignore[no-any-return]


async def _feed(handle: Handle, topics: Sequence[Sequence[EventModel]], in_flight: int) -> None:
    """Every topic's events through `handle`, `in_flight` at once per topic (as the workers)."""
    async def topic_worker(events: Sequence[EventModel]) -> None:
        slots = asyncio.Semaphore(in_flight)

        async def one(event: EventModel) -> None:
            async with slots:
                await handle(event)
        async with asyncio.TaskGroup() as group:
            for event in events:
                group.create_task(one(event))

    async with asyncio.TaskGroup() as group:
        for events in topics:
            group.create_task(topic_worker(events))


def _by_topic(first: int, count: int) -> list[list[EventModel]]:
    topics: list[list[EventModel]] = [[], [], [], []]
    for n in range(first, first + count):
        for index, records in enumerate(query_events(n)):
            topics[index].extend(records)
    return topics


@contextmanager
def _scratch_database(url: str) -> Iterator[str]:
    """A database of its own for the run, dropped afterwards."""
    admin = url.replace("postgresql+psycopg://", "postgresql://", 1)
    name = f"bench_recorder_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield sqlalchemy_url(f"{admin.rpartition('/')[0]}/{name}")
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                               .format(sql.Identifier(name)))


def run(url: str, queries: int, in_flight: int, rewrite: bool) -> dict[str, Any]:
    """Measure one round of `queries` queries (after a warm-up); the figures as a dict."""
    with _scratch_database(url) as scratch:
        engine = make_engine(scratch, pool_size=in_flight)
        try:
            upgrade(engine)
            handle = _handler(RecordWriter(engine=engine))
            asyncio.run(_feed(handle, _by_topic(-WARMUP_QUERIES, WARMUP_QUERIES), in_flight))
            rounds = [_by_topic(0, queries)] + ([_by_topic(0, queries)] if rewrite else [])
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for topics in rounds:
                asyncio.run(_feed(handle, topics, in_flight))
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            with engine.connect() as connection:
                rows = connection.exec_driver_sql(
                    "SELECT (SELECT count(*) FROM analyses), (SELECT count(*) FROM "
                    "provider_attempts), (SELECT count(*) FROM confidence_scores)").one()
        finally:
            engine.dispose()
    fed = queries * len(rounds)
    return {
        "mode": "handler",
        "queries": fed,
        "events": fed * EVENTS_PER_QUERY,
        "in_flight": in_flight,
        "events_per_s": round(fed * EVENTS_PER_QUERY / wall, 1),
        "queries_per_s": round(fed / wall, 1),
        "cpu_ms_per_query": round(cpu * 1000 / fed, 3),
        "cpu_ms_per_event": round(cpu * 1000 / (fed * EVENTS_PER_QUERY), 3),
        "rows": {"analyses": rows[0], "provider_attempts": rows[1], "confidence_scores": rows[2]},
        "load": os.getloadavg()[0],
    }


def _rows_written(url: str) -> int:
    """Queries whose every row (answer, decision, attempt outcome) is in the database."""
    with psycopg.connect(url) as connection:
        found = connection.execute(
            "SELECT least((SELECT count(*) FROM analyses WHERE response_event_id IS NOT NULL"
            " AND query_event_id IS NOT NULL), (SELECT count(*) FROM routing_decisions),"
            " (SELECT count(*) FROM provider_attempts WHERE outcome <> 'started'))").fetchone()
    return int(found[0]) if found else 0


def run_process(url: str, queries: int) -> dict[str, Any]:
    """Measure the recorder process itself over `queries` queries' records from Kafka."""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP)
    names = TopicNames(unique_namespace("benchrec"))
    create_topics(bootstrap, names.specs(), security=InfraSettings().kafka_security)
    targets = [names.queries, names.classified, names.provider_attempts, names.responses]
    try:
        with _scratch_database(url) as scratch:
            plain = scratch.replace("postgresql+psycopg://", "postgresql://", 1)
            recorder = python_module("bench-recorder", "services.recorder", infra_env(
                names.namespace, KAFKA_BOOTSTRAP_SERVERS=bootstrap, DATABASE_URL=scratch))
            recorder.start()
            try:
                recorder.wait_until(
                    lambda: recorder.log_tail(200).count(" assigned ") >= RECORDER_WORKERS,
                    READY_TIMEOUT_S, "every recorder worker assigned")
                assert recorder.proc is not None
                process = psutil.Process(recorder.proc.pid)
                time.sleep(SETTLE_S)
                idle0 = process.cpu_times()
                time.sleep(IDLE_WINDOW_S)
                idle1 = process.cpu_times()
                idle_rate = (idle1.user + idle1.system - idle0.user - idle0.system) / IDLE_WINDOW_S
                producer = test_producer(bootstrap).start()
                cpu0, wall0 = process.cpu_times(), time.perf_counter()
                try:
                    sent = [producer.send(topic, event_id(n, "query"), record)
                            for n in range(queries)
                            for topic, records in zip(targets, query_events(n), strict=True)
                            for record in records]
                    for future in sent:
                        future.result(timeout=PUBLISH_TIMEOUT_S)
                finally:
                    producer.close()
                deadline = time.monotonic() + CAUGHT_UP_TIMEOUT_S
                while _rows_written(plain) < queries:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"recorder did not catch up:\n{recorder.log_tail()}")
                    time.sleep(CAUGHT_UP_POLL_S)
                cpu1, wall = process.cpu_times(), time.perf_counter() - wall0
            finally:
                recorder.stop()
    finally:
        delete_namespace(bootstrap, None, names.namespace)
    cpu = cpu1.user + cpu1.system - cpu0.user - cpu0.system
    return {
        "mode": "process",
        "queries": queries,
        "events": queries * EVENTS_PER_QUERY,
        "events_per_s": round(queries * EVENTS_PER_QUERY / wall, 1),
        "idle_cpu_ms_per_s": round(idle_rate * 1000, 1),
        "cpu_ms_per_query": round((cpu - idle_rate * wall) * 1000 / queries, 3),
        "cpu_ms_per_query_with_idle": round(cpu * 1000 / queries, 3),
        "load": os.getloadavg()[0],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.recorder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=DEFAULT_QUERIES)
    parser.add_argument("--in-flight", type=int, default=DEFAULT_IN_FLIGHT)
    parser.add_argument("--rewrite", action="store_true",
                        help="feed every query twice (the second time as redeliveries)")
    parser.add_argument("--process", action="store_true",
                        help="measure the recorder process fed through Kafka")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    args = parser.parse_args(argv)
    if args.process:
        figures = run_process(local_database_url(), args.queries)
    else:
        figures = run(local_database_url(), args.queries, args.in_flight, args.rewrite)
    if args.format == "json":
        print(json.dumps(figures))
    elif args.process:
        print(f"recorder process: {figures['queries']} queries ({figures['events']} events) "
              f"through Kafka, load {figures['load']:.2f}")
        print(f"  {figures['events_per_s']:.0f} events/s until every row was written, "
              f"{figures['cpu_ms_per_query']:.2f} ms CPU per query (idle "
              f"{figures['idle_cpu_ms_per_s']:.0f} ms/s subtracted; "
              f"{figures['cpu_ms_per_query_with_idle']:.2f} with it)")
    else:
        print(f"recorder: {figures['queries']} queries ({figures['events']} events), "
              f"{figures['in_flight']} in flight per topic, load {figures['load']:.2f}")
        print(f"  {figures['events_per_s']:.0f} events/s, {figures['queries_per_s']:.0f} "
              f"queries/s, {figures['cpu_ms_per_query']:.2f} ms CPU per query "
              f"({figures['cpu_ms_per_event']:.3f} per event)")
        print(f"  rows: {figures['rows']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
