"""CPU seconds and resident memory of every process of the stack, per benchmark run.

A group is a named set of processes: the app (gunicorn master and its workers), each
service, the broker (Kafka's JVM), Redis, PostgreSQL (postmaster and its backends), and
apart from the stack the emulator and the load generator itself. The infrastructure is
found by the pid files that `scripts/with-infra.sh` leaves in `$VAR_DIR/run`, or by its
command line; a group that cannot be found (a remote broker) is left out and said so.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil

from harness.processes import ManagedProcess

logger = logging.getLogger(__name__)

MB = 1024 * 1024
INFRA_MARKERS = {"broker": "kafka.Kafka", "redis": "redis-server", "postgres": "postgres"}
"""A word of each infrastructure process's command line, when its pid file is missing."""
INFRA_PID_FILES = {"broker": "kafka.pid", "redis": "redis.pid", "postgres": "postgres.pid"}
NOT_STACK = frozenset({"emulator", "load generator"})
"""Groups measured but not counted in the stack's totals (the provider, the client)."""


@dataclass(frozen=True)
class Group:
    """A named process tree: `root` and, with `children`, everything it started."""

    name: str
    root: int
    children: bool = True

    def processes(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.root)
            return [root, *(root.children(recursive=True) if self.children else [])]
        except psutil.Error:
            return []


def cpu_seconds(groups: Iterable[Group]) -> dict[str, float]:
    """User plus system CPU seconds so far of each group's live processes."""
    totals: dict[str, float] = {}
    for group in groups:
        total = 0.0
        for process in group.processes():
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
        totals[group.name] = total
    return totals


def rss_mb(groups: Iterable[Group]) -> dict[str, float]:
    """Resident memory of each group now, in MiB (shared pages counted in each process)."""
    return _memory_mb(groups, lambda process: process.memory_info().rss)


def pss_mb(groups: Iterable[Group]) -> dict[str, float]:
    """Proportional resident memory of each group now, in MiB: a page shared by n processes
    counts 1/n in each, so the groups sum to what the machine really holds. RSS counts
    PostgreSQL's shared buffers once per backend and a forked worker's inherited pages
    again in every worker."""
    return _memory_mb(groups, lambda process: process.memory_full_info().pss)


def _memory_mb(groups: Iterable[Group], size: Callable[[psutil.Process], int]) -> dict[str, float]:
    sizes: dict[str, float] = {}
    for group in groups:
        total = 0
        for process in group.processes():
            try:
                total += size(process)
            except (psutil.Error, AttributeError):
                continue  # gone, not ours to read, or no PSS on this platform
        sizes[group.name] = total / MB
    return sizes


def cpu_ms_per_query(
    before: Mapping[str, float], after: Mapping[str, float], queries: int
) -> dict[str, float]:
    """CPU milliseconds per query of each group over a run (`queries` answered in it)."""
    if queries <= 0:
        return {name: 0.0 for name in after}
    return {
        name: max(after[name] - before.get(name, 0.0), 0.0) * 1000.0 / queries for name in after
    }


def stack_total(values: Mapping[str, float]) -> float:
    """The sum over the stack's own groups (not the emulator, not the load generator)."""
    return sum(v for name, v in values.items() if name not in NOT_STACK)


def infrastructure(var_dir: Path) -> list[Group]:
    """The broker, Redis and PostgreSQL of this machine, where they can be found."""
    groups = []
    for name, marker in INFRA_MARKERS.items():
        pid = _pid_from_file(var_dir / "run" / INFRA_PID_FILES[name]) or _pid_by_command(marker)
        if pid is None:
            logger.warning("%s: no local process found; its CPU and memory are not counted", name)
            continue
        groups.append(Group(name, pid))
    return groups


def load_generator() -> Group:
    return Group("load generator", os.getpid(), children=False)


def pid_of(process: ManagedProcess) -> int:
    """The pid of a started process (the root of its group)."""
    assert process.proc is not None, f"{process.name} was not started"
    return process.proc.pid


def listening_pid(base_url: str) -> int:
    """The process listening on `base_url`'s port (the emulator); 0 when none is found."""
    port = int(base_url.rsplit(":", 1)[1])
    for conn in psutil.net_connections("tcp"):
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
            return int(conn.pid or 0)
    return 0


def _pid_from_file(path: Path) -> int | None:
    try:
        pid = int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if psutil.pid_exists(pid) else None


def _pid_by_command(marker: str) -> int | None:
    """The oldest process whose command line holds `marker` (a parent before its children)."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline", "create_time"]):
        cmdline = " ".join(process.info.get("cmdline") or [])
        if marker in cmdline:
            found.append((process.info["create_time"], process.info["pid"]))
    return min(found)[1] if found else None
