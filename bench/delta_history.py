"""What reading an analysis's deltas back costs a redelivered query (after a crash).

A query redelivered after its dispatcher died mid-answer reads its analysis's events back
from the answer-deltas topic (services/dispatcher/delta_history.py: one partition, from
the query's time to the partition's end). This writes `--events` delta events of
`--analyses` analyses to a fresh namespace on the broker (`KAFKA_BOOTSTRAP_SERVERS`), all
after the query's time, so the read has them all to skip, then reads one analysis back
`--reads` times and prints each read's time. Normal queries never read: the figure is
the extra wait of a redelivery, on top of the dead delivery's lease.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime

from harness.kafka import delete_namespace, test_producer
from harness.processes import unique_namespace
from schemas.delta import AnswerDelta
from schemas.topics import TopicNames
from services.common.admin import create_topics
from services.common.settings import InfraSettings
from services.dispatcher.delta_history import DeltaHistory

TEXT = "x" * 40
"""About a chunk of streamed text."""


def _delta(analysis: str, sequence: int) -> AnswerDelta:
    return AnswerDelta(analysis_id=analysis, query_id=analysis, part="text",
                       attempt_id=f"{analysis}:1", attempt_number=1, sequence=sequence,
                       offset=(sequence - 1) * len(TEXT), text=TEXT)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.delta_history", description=__doc__)
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--analyses", type=int, default=200)
    parser.add_argument("--reads", type=int, default=3)
    parser.add_argument("--format", choices=("text", "json"), default="text")
    args = parser.parse_args(argv)
    infra = InfraSettings()
    names = TopicNames(unique_namespace())
    create_topics(infra.kafka_bootstrap_servers, names.specs(), security=infra.kafka_security)
    producer = test_producer(infra.kafka_bootstrap_servers).start()
    since = datetime.now(UTC)
    try:
        for i in range(args.events):
            analysis = f"a{i % args.analyses}"
            producer.send(names.answer_deltas, analysis, _delta(analysis, i // args.analyses + 1))
        producer.send_and_wait(names.answer_deltas, "a0", _delta("a0", 10**6), 30)
        history = DeltaHistory(
            bootstrap_servers=infra.kafka_bootstrap_servers,
            security=infra.kafka_security,
            topic=names.answer_deltas,
        )
        times_ms, found = [], 0
        for _ in range(args.reads):
            started = time.monotonic()
            found = len(asyncio.run(history.read("a0", since)))
            times_ms.append(round((time.monotonic() - started) * 1000.0, 1))
            if args.format == "text":
                print(f"[delta-history] {args.events} events on the topic: {found} of one "
                      f"analysis read back in {times_ms[-1]:.0f} ms", file=sys.stderr)  # fmt: skip
    finally:
        producer.close()
        delete_namespace(infra.kafka_bootstrap_servers, infra.redis_url, names.namespace)
    print(json.dumps({"events": args.events, "found": found, "read_ms": times_ms}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
