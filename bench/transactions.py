"""What Kafka transactions would cost one consume-transform-produce hop (`make bench`).

Runs, on the broker `make bench` provides and in one process, the same hop two
ways over the same messages:

- today's: consume, produce the output with the idempotent producer, wait for the
  acknowledgement, commit the input offset;
- transactional: consume, `begin_transaction`, produce, `send_offsets_to_transaction`,
  `commit_transaction` (exactly-once for `read_committed` consumers).

It prints the added latency per hop (p50/p99, ms) of each and their ratio. One
message per transaction is the honest comparison for this pipeline: a hop holds
hundreds of messages in flight that finish out of order, and a transaction may
only commit input offsets whose outputs it contains, so batching would hold
finished answers back until every earlier message finished too.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition

from bench.stats import nearest_rank_percentile
from harness.kafka import delete_namespace
from schemas.topics import TopicSpec
from services.common.admin import create_topics
from services.common.consumer import consumer_config
from services.common.kafka_security import KafkaSecurity
from services.common.producer import producer_config
from services.common.settings import InfraSettings

TIMEOUT_S = 30.0
PAYLOAD = b'{"bench": "' + b"x" * 600 + b'"}'


def _hop(
    bootstrap: str,
    security: KafkaSecurity,
    source: str,
    sink: str,
    messages: int,
    transactional: bool,
) -> list[float]:
    """Per-message time from consumed to (output acknowledged and input offset committed)."""
    group = f"{source}-{'txn' if transactional else 'plain'}"
    consumer = Consumer(
        {
            **consumer_config(bootstrap, group_id=group, client_id="bench", security=security),
            "isolation.level": "read_committed",
        }
    )
    config = producer_config(bootstrap, client_id="bench-hop", security=security)
    if transactional:
        config["transactional.id"] = f"bench-{uuid.uuid4().hex}"
    producer = Producer(config)
    if transactional:
        producer.init_transactions(TIMEOUT_S)
    consumer.subscribe([source])
    timings: list[float] = []
    try:
        while len(timings) < messages:
            message = consumer.poll(1.0)
            if message is None or message.error() is not None:
                continue
            started = time.perf_counter()
            next_offset = [
                TopicPartition(source, message.partition() or 0, (message.offset() or 0) + 1)
            ]
            if transactional:
                producer.begin_transaction()
                producer.produce(sink, value=message.value(), key=message.key())
                producer.send_offsets_to_transaction(
                    next_offset, consumer.consumer_group_metadata(), TIMEOUT_S
                )
                producer.commit_transaction(TIMEOUT_S)
            else:
                producer.produce(sink, value=message.value(), key=message.key())
                producer.flush(TIMEOUT_S)
                consumer.commit(offsets=next_offset, asynchronous=False)
            timings.append((time.perf_counter() - started) * 1000)
    finally:
        consumer.close()
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.transactions", description=__doc__)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument(
        "--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    args = parser.parse_args(argv)

    namespace = f"bench-txn-{uuid.uuid4().hex[:8]}"
    source, sink = f"{namespace}.in.v1", f"{namespace}.out.v1"
    security = InfraSettings().kafka_security
    create_topics(args.bootstrap, [TopicSpec(source, 1), TopicSpec(sink, 1)], security=security)
    try:
        feeder = Producer(
            producer_config(args.bootstrap, client_id="bench-feed", security=security)
        )
        for i in range(args.messages):
            feeder.produce(source, value=PAYLOAD, key=str(i))
        feeder.flush(TIMEOUT_S)
        # Warm-up pass on each mode would consume the same messages: each mode has its own
        # group, so both read the same input from the beginning.
        plain = _hop(args.bootstrap, security, source, sink, args.messages, transactional=False)
        txn = _hop(args.bootstrap, security, source, sink, args.messages, transactional=True)
    finally:
        delete_namespace(args.bootstrap, None, namespace)
    for name, values in (("ack + commit", plain), ("transaction", txn)):
        print(
            f"[bench] hop {name:13s} p50={nearest_rank_percentile(values, 50):6.2f} ms "
            f"p99={nearest_rank_percentile(values, 99):6.2f} ms (n={len(values)})"
        )
    ratio = nearest_rank_percentile(txn, 50) / max(nearest_rank_percentile(plain, 50), 0.001)
    print(f"[bench] transactional/plain hop latency p50: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
