"""`python -m evaluation.routine` (`make eval-routine`): usable rate per model and task kind.

    python -m evaluation.routine [--split dev|test] [--limit N] [--url URL]
                                 [--output PATH] [--answers PATH] [--format table|json]

Asks the configured local model every task of the split for real (`local_run`), grades
each answer (`grading`), lists the catalogue's hosted models as counted usable
(their answers come from the emulator and cannot be judged), prints a table per kind
and writes `data/routine/capability.json`. Progress goes to stderr.

The default file is written only by a full dev run: the router must read dev figures
(the test split is for the final measurement), and a `--limit` run is a smoke test.
Other runs write only where `--output` says.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from evaluation.routine.capability import (
    CapabilityFile,
    ModelCapability,
    hosted_model,
    measured_model,
    table,
)
from evaluation.routine.grading import grade
from evaluation.routine.local_run import answer_all, configured_gguf, gguf_identity, served_gguf
from evaluation.routine.tasks import DATA_DIR, ROOT, SPLITS, load_tasks, split_path
from providers.catalogue import DEFAULT_CATALOGUE, LOCAL_MODEL

CAPABILITY_PATH = DATA_DIR / "capability.json"
DEFAULT_SPLIT = "dev"


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation.routine",
        description="Measure each model's usable rate per routine task kind (data/routine/).",
    )
    parser.add_argument("--split", choices=SPLITS, default=DEFAULT_SPLIT)
    parser.add_argument("--limit", type=int, default=None, help="only the first N tasks")
    parser.add_argument(
        "--url", default=None,
        help="a running local model server (…/v1) instead of starting one for the run",
    )  # fmt: skip
    parser.add_argument(
        "--output", type=Path, default=None,
        help=f"where to write the rates (default: {CAPABILITY_PATH.relative_to(ROOT)}, "
        "written only by a full dev run)",
    )  # fmt: skip
    parser.add_argument("--answers", type=Path, default=None, help="also save every answer (JSONL)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    args = parser.parse_args(argv)

    tasks = load_tasks(args.split)
    if args.limit is not None:
        tasks = tasks[: args.limit]
    gguf = configured_gguf()
    identity = gguf_identity(gguf)
    _say(f"{len(tasks)} {args.split} tasks; local model {identity.file} ({identity.bytes} bytes)")
    started = time.monotonic()
    if args.url:
        prompt_format, answers = asyncio.run(answer_all(args.url, gguf, tasks, _say))
    else:
        with served_gguf(gguf) as base_url:
            prompt_format, answers = asyncio.run(answer_all(base_url, gguf, tasks, _say))
    _say(f"answered in {time.monotonic() - started:.0f}s")

    grades = [grade(task, answer.text) for task, answer in zip(tasks, answers, strict=True)]
    local = measured_model(
        provider="local", model_id=LOCAL_MODEL, gguf=identity, prompt_format=prompt_format,
        graded=list(zip(tasks, grades, strict=True)),
        seconds_per_task=round(sum(a.seconds for a in answers) / max(len(answers), 1), 2),
    )  # fmt: skip
    hosted: list[ModelCapability] = [
        hosted_model(spec.provider, spec.model_id, tasks)
        for spec in DEFAULT_CATALOGUE.models
        if spec.provider != "local"
    ]
    path = split_path(args.split)
    capability = CapabilityFile(
        split=args.split,
        measured_at=datetime.now(UTC).replace(microsecond=0),
        tasks_file=str(path.relative_to(ROOT)),
        tasks=len(tasks),
        tasks_sha256_prefix=hashlib.sha256(path.read_bytes()).hexdigest()[:16],
        limit=args.limit,
        models=[local, *hosted],
    )
    output = args.output
    if output is None and args.split == DEFAULT_SPLIT and args.limit is None:
        output = CAPABILITY_PATH
    if output is not None:
        output.write_text(capability.model_dump_json(indent=2) + "\n", encoding="utf-8")
        _say(f"wrote {output}")
    if args.answers is not None:
        with args.answers.open("w", encoding="utf-8") as file:
            for task, answer, result in zip(tasks, answers, grades, strict=True):
                failed = [asdict(failure) for failure in result.failed]
                row = {**asdict(answer), "kind": task.kind, "usable": result.usable}
                file.write(json.dumps({**row, "failed": failed}, ensure_ascii=False) + "\n")
    if args.format == "json":
        print(capability.model_dump_json(indent=2))
    else:
        print(f"routine set, {args.split} split: usable answers per kind\n")
        print(table(capability))
    return 0


if __name__ == "__main__":
    sys.exit(main())
