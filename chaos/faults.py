"""The faults of a chaos run: SIGKILL a process and restart it; restart Kafka or Redis.

Services run with a stable `SERVICE_INSTANCE_ID`, as the scripts run them, so a
restarted consumer takes its partitions back through static membership.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from harness.processes import REPO_ROOT, ManagedProcess, python_module

RUN_DIR = Path(os.environ.get("VAR_DIR", REPO_ROOT / "var")) / "run"
"""Where scripts/*.sh keep their pid files (VAR_DIR moves them, as in scripts/lib.sh)."""
RESTART_PAUSE_S = 1.0
"""Between a kill and the restart (a supervisor's restart delay)."""


def _children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if not children.exists():
        return []
    return [int(c) for c in children.read_text().split()]


def owned_by_scripts(name: str) -> bool:
    """True when scripts/<name>.sh started the local server (its pid file is live)."""
    pid_file = RUN_DIR / f"{name}.pid"
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return True


@dataclass
class Stack:
    env: dict[str, str]
    services: dict[str, ManagedProcess]
    app: ManagedProcess

    def kill_and_restart(self, name: str) -> str:
        process = self.services[name]
        process.kill()
        time.sleep(RESTART_PAUSE_S)
        fresh = python_module(name, f"services.{name}", process.env)
        self.services[name] = fresh.start()
        return f"SIGKILL {name} (pid {process.proc.pid if process.proc else '?'}), restarted"

    def kill_app_worker(self) -> str:
        assert self.app.proc is not None
        workers = _children(self.app.proc.pid)
        if not workers:
            return "no app worker found"
        os.kill(workers[0], signal.SIGKILL)  # gunicorn's master starts a new worker
        return f"SIGKILL app worker {workers[0]} (gunicorn restarts it)"

    def restart_infra(self, name: str) -> str:
        if not owned_by_scripts(name):
            return f"{name} not started by scripts/{name}.sh here: restart skipped"
        script = str(REPO_ROOT / "scripts" / f"{name}.sh")
        started = time.monotonic()
        subprocess.run([script, "stop"], env=self.env, check=True, capture_output=True)
        subprocess.run([script, "start"], env=self.env, check=True, capture_output=True)
        return f"restarted {name} ({time.monotonic() - started:.1f}s down)"

    def stop(self) -> None:
        self.app.stop()
        for process in self.services.values():
            process.stop()
