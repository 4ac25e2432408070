"""`python -m chaos` (`make chaos`): kill -9 every part of the stack under load, then count.

Needs the broker, Redis and PostgreSQL for the API key it makes (`make chaos` provides
them through scripts/with-infra.sh, so the run can restart the broker and Redis).
Every third caller (`--stream-every`) reads its answer live, in turn on the strategist
event stream (resuming with Last-Event-ID when its connection breaks) and on the `/v1`
stream (chaos/streams.py). Prints the figures;
exit code 0 only when nothing was lost, answered twice, paid twice or forgotten, and no
stream was a truncated success, showed repeated or missing text, or was left hanging.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from chaos.run import FAULT_SCHEDULE, STREAM_EVERY, ChaosReport, run_chaos
from services.common.logs import configure_logging
from services.common.settings import DEFAULT_BOOTSTRAP_SERVERS, DEFAULT_REDIS_URL, InfraSettings


def _table(report: ChaosReport, every: int) -> str:
    lines = [
        f"queries sent                  {report.sent}  ({report.rate_per_s:g}/s for "
        f"{report.duration_s:g}s)",
        f"answered                      {report.answered}  (of which failed: "
        f"{report.answered_failed})",
        f"lost (never answered)         {report.lost}",
        f"answered twice                {report.answered_twice}",
        f"provider calls paid twice     {report.paid_twice}",
        f"forgotten after Redis restart {report.forgotten_after_redis_restart}",
        f"time to answer p95 / worst    {report.p95_time_to_answer_s}s / "
        f"{report.worst_time_to_answer_s}s",
        "faults (worst time to answer of queries sent in the 10 s after each):",
    ]
    streams, chats = report.streams, report.chat_streams
    stream_lines = [
        f"callers reading live           one in {every}, in turn the event stream and /v1",
        f"event streams read live        {streams.streams}  ({streams.reconnected} resumed "
        "with Last-Event-ID)",
        f"  completed seamlessly         {streams.completed_seamlessly}",
        f"  completed after a restart    {streams.completed_after_restart}",
        f"  clean errors                 {streams.clean_errors}",
        f"  truncated successes          {streams.truncated_successes}",
        f"  repeated or missing text     {streams.repeated_or_missing_text}",
        f"  left hanging                 {streams.hanging}",
        f"/v1 streams read live          {chats.streams}",
        f"  completed (text = answer)    {chats.completed}",
        f"  clean errors                 {chats.clean_errors}",
        f"  connection lost (raised)     {chats.connection_lost}",
        f"  truncated successes          {chats.truncated_successes}",
        f"  repeated or missing text     {chats.repeated_or_missing_text}",
        f"  left hanging                 {chats.hanging}",
    ]
    lines[-1:-1] = stream_lines
    for fault in report.faults:
        worst = "-" if fault.worst_answer_after_s is None else f"{fault.worst_answer_after_s}s"
        lines.append(f"  t={fault.at_s:6.1f}s  {fault.outcome:<60} worst {worst}")
    if report.client_errors:
        lines.append(f"client-side errors (retried): {report.client_errors}")
    for name, code in report.exited.items():
        lines.append(f"{name} DIED during the run (exit code {code}); its last lines:")
        lines.extend(f"  | {line}" for line in report.exit_logs[name].splitlines())
    lines.append("CLEAN" if report.clean else "NOT CLEAN")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--duration", type=float, default=100.0, help="seconds of load")
    parser.add_argument("--rate", type=float, default=10.0, help="queries per second")
    parser.add_argument(
        "--stream-every",
        type=int,
        default=STREAM_EVERY,
        help="every n-th caller reads its answer live instead of polling, in turn on the "
        "event stream and the /v1 stream "
        f"(0: none; default {STREAM_EVERY})",
    )
    parser.add_argument("--format", choices=["table", "json"], default="table")
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated faults to leave out: "
        + ", ".join(name for _, name in FAULT_SCHEDULE),
    )
    args = parser.parse_args(argv)
    configure_logging("WARNING")  # the run logs what it finds wrong
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        parser.error("DATABASE_URL is not set (API keys live in PostgreSQL; make chaos sets it)")
    report = run_chaos(
        duration_s=args.duration,
        rate=args.rate,
        bootstrap=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP_SERVERS),
        security=InfraSettings().kafka_security,
        redis_url=os.environ.get("REDIS_URL", DEFAULT_REDIS_URL),
        database_url=database_url,
        skip=frozenset(name.strip() for name in args.skip.split(",") if name.strip()),
        stream_every=args.stream_every,
    )
    print(
        json.dumps(report.as_dict(), indent=2)
        if args.format == "json"
        else _table(report, args.stream_every)
    )
    return 0 if report.clean else 1


if __name__ == "__main__":
    sys.exit(main())
