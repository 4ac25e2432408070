"""Sample every Python process of the stack with py-spy during one benchmark run.

For each process group it records a flame graph (`var/bench/<name>.svg`) and the raw
collapsed stacks (`<name>.raw.txt`), then summarises where the CPU went: milliseconds
per query by package (our own modules by their top-level package, libraries by their
distribution, the standard library as `stdlib`) and by function, counting the frame
that was running (self time). Only samples of a thread holding the GIL count
(`--gil`): in these processes the GIL is what one query's Python work competes for,
and a thread blocked in a wait would otherwise pass for busy. Work done in C without
the GIL (librdkafka's own threads, socket I/O) is not in it; the main table's CPU
per query is. py-spy runs non-blocking (the process is not paused while sampled)
and needs root or ptrace rights. The JVM, Redis and PostgreSQL are not
Python: their CPU per query is in the main table, not here.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.processes import Group

logger = logging.getLogger(__name__)

SAMPLE_RATE_HZ = 50
"""Samples per second per sampler (two per process: flame graph and raw)."""
SPY_EXIT_GRACE_S = 30.0
"""How long after its duration a sampler may take to write its files."""
TOP_FUNCTIONS = 12
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*)\)$")


@dataclass(frozen=True)
class Profile:
    """One group's samples: self samples by package and by function."""

    name: str
    samples: int
    by_package: Counter[str]
    by_function: Counter[str]

    def ms_per_query(self, count: int, queries: int) -> float:
        return count / SAMPLE_RATE_HZ * 1000.0 / max(queries, 1)

    def text(self, queries: int) -> str:
        lines = [
            f"{self.name}: {self.ms_per_query(self.samples, queries):.2f} ms CPU per query "
            f"sampled ({self.samples} samples at {SAMPLE_RATE_HZ} Hz, {queries} queries)"
        ]
        lines.append("  by package (self time, ms per query):")
        for package, count in self.by_package.most_common(TOP_FUNCTIONS):
            lines.append(f"    {self.ms_per_query(count, queries):7.2f}  {package}")
        lines.append("  top functions (self time, ms per query):")
        for function, count in self.by_function.most_common(TOP_FUNCTIONS):
            lines.append(f"    {self.ms_per_query(count, queries):7.2f}  {function}")
        return "\n".join(lines)


class Recording:
    """py-spy samplers running against the groups for `duration_s` seconds."""

    def __init__(self, groups: Iterable[Group], out_dir: Path, duration_s: float) -> None:
        self.out_dir = out_dir
        self.groups = list(groups)
        self.duration_s = duration_s
        self._spies: list[subprocess.Popen[bytes]] = []

    def start(self) -> Recording:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for group in self.groups:
            for fmt, suffix in (("flamegraph", "svg"), ("raw", "raw.txt")):
                self._spies.append(
                    subprocess.Popen(
                        [
                            str(Path(sys.executable).with_name("py-spy")),
                            "record",
                            "--pid",
                            str(group.root),
                            "--subprocesses",
                            "--nonblocking",
                            "--gil",
                            "--full-filenames",
                            "--nolineno",
                            "--rate",
                            str(SAMPLE_RATE_HZ),
                            "--duration",
                            str(max(1, round(self.duration_s))),
                            "--format",
                            fmt,
                            "--output",
                            str(self.out_dir / f"{_file_name(group.name)}.{suffix}"),
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE,
                    )
                )
        return self

    def finish(self) -> list[Profile]:
        """Wait for every sampler; the profiles of the groups whose raw file was written."""
        for spy in self._spies:
            try:
                _, err = spy.communicate(timeout=self.duration_s + SPY_EXIT_GRACE_S)
            except subprocess.TimeoutExpired:
                spy.kill()
                _, err = spy.communicate()
            if spy.returncode:
                logger.warning("py-spy exited %s: %s", spy.returncode, err.decode()[-300:])
        profiles = []
        for group in self.groups:
            raw = self.out_dir / f"{_file_name(group.name)}.raw.txt"
            if raw.exists():
                profiles.append(summarise(group.name, raw.read_text().splitlines()))
        return profiles


def summarise(name: str, collapsed: Iterable[str]) -> Profile:
    """Self samples by package and by function from py-spy's collapsed stacks."""
    by_package: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    total = 0
    for stack, count in _stacks(collapsed):
        leaf = stack[-1]
        match = _FRAME.match(leaf)
        function, file = (match["function"], match["file"]) if match else (leaf, "")
        package = package_of(file)
        by_package[package] += count
        by_function[f"{function} ({package})"] += count
        total += count
    return Profile(name, total, by_package, by_function)


def package_of(file: str) -> str:
    """The package a source file belongs to, as the CPU table names it."""
    path = file.replace("\\", "/")
    if "site-packages/" in path:
        top = path.split("site-packages/", 1)[1].split("/", 1)[0]
        return top.removesuffix(".py")
    if "/lib/python3" in path or path.startswith("<frozen"):
        return "stdlib"
    for part in ("/services/", "/strategist/", "/core/", "/providers/", "/schemas/"):
        if part in path:
            rest = path.split(part, 1)[1]
            sub = rest.split("/", 1)[0] if part == "/services/" else ""
            return part.strip("/") + (f".{sub}" if sub and not sub.endswith(".py") else "")
    return "other"


def _stacks(collapsed: Iterable[str]) -> Iterator[tuple[list[str], int]]:
    for line in collapsed:
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        yield stack.split(";"), int(count)


def _file_name(name: str) -> str:
    return re.sub(r"[^a-z0-9_.-]+", "-", name.lower())
