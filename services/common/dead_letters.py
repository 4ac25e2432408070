"""Inspect dead letters and re-publish them to their source topic after a fix.

    python -m services.common.dead_letters list [--format table|json]
    python -m services.common.dead_letters republish [--service S] [--source-topic T]
                                                     [--dry-run] [--format table|json]

`republish` reads the dead-letter topic in its own consumer group and commits
what it re-published, so each letter goes back once, however often the command
runs. With `--service` or `--source-topic` it commits nothing (a letter it skips
must stay for a later run), so a filtered run may send a letter again. The
original bytes, key and headers are restored exactly; a header
`x-republished-from` names the letter's offset on the dead-letter topic.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition
from pydantic import ValidationError

from schemas.dead_letter import DeadLetter
from services.common.consumer import consumer_config
from services.common.logs import configure_logging
from services.common.producer import EventProducer, producer_config
from services.common.settings import InfraSettings

logger = logging.getLogger(__name__)

IDLE_END_S = 2.0
"""The topic is read to its end: stop after this long without a new letter."""
POLL_S = 0.2
SEND_TIMEOUT_S = 15.0
REPUBLISHER_GROUP = "dead-letter-republisher"


@dataclass(frozen=True)
class Letter:
    offset: int
    partition: int
    letter: DeadLetter


def read_letters(consumer: Consumer, topic: str) -> Iterator[Letter]:
    """Every letter from the consumer's position to the end of the topic."""
    consumer.subscribe([topic])
    idle_s = 0.0
    while idle_s < IDLE_END_S:
        message = consumer.poll(POLL_S)
        if message is None:
            idle_s += POLL_S
            continue
        if message.error() is not None:
            continue
        idle_s = 0.0
        try:
            letter = DeadLetter.from_bytes(message.value() or b"")
        except ValidationError:
            logger.warning("unreadable dead letter at offset %d; skipped", message.offset())
            continue
        yield Letter(message.offset() or 0, message.partition() or 0, letter)


def _matches(letter: DeadLetter, service: str | None, source_topic: str | None) -> bool:
    return (service is None or letter.service == service) and (
        source_topic is None or letter.source_topic == source_topic
    )


def _row(item: Letter) -> dict[str, object]:
    letter = item.letter
    return {
        "offset": item.offset,
        "service": letter.service,
        "source": f"{letter.source_topic}[{letter.partition}]@{letter.offset}",
        "error": f"{letter.error_type}: {letter.error_message}"[:120],
        "bytes": len(letter.payload_bytes()),
    }


def _print(rows: list[dict[str, object]], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        print("no dead letters")
        return
    for row in rows:
        print(f"{row['offset']:>6}  {row['service']:<11} {row['source']:<48} {row['error']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.common.dead_letters", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="show every dead letter (reads from the beginning)")
    republish = sub.add_parser("republish", help="send letters back to their source topic once")
    republish.add_argument("--service", help="only letters set aside by this service")
    republish.add_argument("--source-topic", help="only letters from this topic")
    republish.add_argument(
        "--dry-run", action="store_true", help="show, send nothing, commit nothing"
    )
    for command in (listing, republish):
        command.add_argument("--format", choices=["table", "json"], default="table")
    args = parser.parse_args(argv)

    infra = InfraSettings()
    configure_logging(infra.log_level)
    topic = infra.topics.dead_letters
    filtered = args.command == "republish" and (args.service or args.source_topic)
    listing_only = args.command == "list" or args.dry_run or bool(filtered)
    consumer = Consumer(
        consumer_config(
            infra.kafka_bootstrap_servers,
            group_id=(
                f"{infra.topic_namespace}.dead-letter-reader"
                if listing_only
                else infra.group_id(REPUBLISHER_GROUP)
            ),
            client_id="dead-letters",
            security=infra.kafka_security,
        )
    )
    if listing_only:  # always from the beginning, never committed
        consumer.subscribe(
            [topic],
            on_assign=lambda c, parts: c.assign(
                [TopicPartition(p.topic, p.partition, 0) for p in parts]
            ),
        )
    rows: list[dict[str, object]] = []
    producer = EventProducer(
        config=producer_config(
            infra.kafka_bootstrap_servers, client_id="dead-letters", security=infra.kafka_security
        )
    )
    try:
        for item in read_letters(consumer, topic):
            if args.command == "republish" and not _matches(
                item.letter, args.service, args.source_topic
            ):
                continue
            if args.command == "republish" and not args.dry_run:
                letter = item.letter
                headers: list[tuple[str, str | bytes | None]] = [
                    *letter.header_pairs(),
                    ("x-republished-from", f"{topic}@{item.offset}".encode()),
                ]
                producer.send_raw(
                    letter.source_topic, letter.key_bytes(), letter.payload_bytes(), headers
                ).result(timeout=SEND_TIMEOUT_S)
                if not filtered:
                    consumer.commit(
                        offsets=[TopicPartition(topic, item.partition, item.offset + 1)],
                        asynchronous=False,
                    )
            rows.append(_row(item))
    finally:
        producer.close()
        consumer.close()
    _print(rows, args.format)
    if args.command == "republish" and args.format == "table":
        verb = "would re-publish" if args.dry_run else "re-published"
        print(f"{verb} {len(rows)} letter(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
