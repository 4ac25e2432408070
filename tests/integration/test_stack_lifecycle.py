"""`scripts/stack.sh down` (make down) stops everything `scripts/stack.sh up` (make up) started.

The whole stack runs here on free ports, with its own VAR_DIR and topic namespace, on
the shared broker and Redis (given by KAFKA_BOOTSTRAP_SERVERS / REDIS_URL, so it starts
neither). The local model server replaces its launcher with providers.local_logprobs (execv):
before the fix, `down` no longer recognised it and left it running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.kafka import delete_namespace
from harness.processes import REPO_ROOT, free_port, unique_namespace

UP_TIMEOUT_S = 420.0
"""Only to catch a hang: the stack takes 30-60 s, the local model most of it."""
DOWN_TIMEOUT_S = 180.0
GONE_TIMEOUT_S = 20.0
TAG_VAR = "STACK_PROCESS_TAG"


def running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def tagged_processes(run_dir: Path) -> dict[int, str]:
    """Live processes whose environment says they belong to the stack of `run_dir`."""
    prefix = f"{TAG_VAR}={run_dir}/".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if any(item.startswith(prefix) for item in environ.split(b"\0")) and running(
            int(entry.name)
        ):
            found[int(entry.name)] = cmdline
    return found


class Stack:
    def __init__(self, var_dir: Path, kafka_bootstrap: str, redis_url: str) -> None:
        self.var_dir = var_dir
        self.namespace = unique_namespace("stack")
        self.app_bind = f"127.0.0.1:{free_port()}"
        self.env = dict(os.environ)
        self.env.update(
            VAR_DIR=str(var_dir),
            KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
            REDIS_URL=redis_url,
            TOPIC_NAMESPACE=self.namespace,
            APP_BIND=self.app_bind,
            APP_WORKERS="1",
            APP_THREADS="2",
            EMULATOR_URL=f"http://127.0.0.1:{free_port()}",
            LOCAL_MODEL_URL=f"http://127.0.0.1:{free_port()}/v1",
            SERVICE_INSTANCE_ID=self.namespace,
        )
        for inherited in ("EMULATOR_PORT", "LOCAL_MODEL_PORT", "GEMINI_API_KEY",
                          "PERPLEXITY_API_KEY"):
            self.env.pop(inherited, None)

    @property
    def run_dir(self) -> Path:
        return self.var_dir / "run"

    def script(self, command: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(REPO_ROOT / "scripts" / "stack.sh"), command], env=self.env,
                              cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout_s)

    def pids(self) -> dict[str, int]:
        return {f.stem: int(f.read_text()) for f in self.run_dir.glob("*.pid")}

    def log(self) -> str:
        logs = sorted((self.var_dir / "log").glob("*.log"))
        return "\n".join(f"--- {f.name}\n" + "\n".join(f.read_text(errors="replace")
                                                         .splitlines()[-15:]) for f in logs)


@pytest.fixture
def stack(tmp_path: Path, kafka_bootstrap: str, redis_url: str) -> Iterator[Stack]:
    started = Stack(tmp_path / "var", kafka_bootstrap, redis_url)
    try:
        yield started
    finally:
        started.script("down", DOWN_TIMEOUT_S)
        for pid in tagged_processes(started.run_dir):  # whatever down missed: no orphans
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        delete_namespace(kafka_bootstrap, redis_url, started.namespace)


@pytest.mark.integration
def test_down_stops_everything_up_started(stack: Stack) -> None:
    up = stack.script("up", UP_TIMEOUT_S)
    assert up.returncode == 0, f"stack up failed:\n{up.stderr}\n{stack.log()}"
    started = stack.pids()
    assert {"emulator", "local-model", "classifier", "dispatcher", "scorer", "health",
            "app"} <= set(started), started
    assert not {"kafka", "redis"} & set(started)  # the shared ones were used, not started
    assert all(running(pid) for pid in started.values())
    model_cmdline = Path(f"/proc/{started['local-model']}/cmdline").read_bytes()
    assert b"providers.local_logprobs" in model_cmdline  # the launcher has exec'd into the server

    status = stack.script("status", 60)
    assert "local-model: running" in status.stdout, status.stdout

    down = stack.script("down", DOWN_TIMEOUT_S)
    assert down.returncode == 0, down.stderr
    assert "stopped local-model" in down.stderr, down.stderr
    deadline = time.monotonic() + GONE_TIMEOUT_S
    while time.monotonic() < deadline and any(running(p) for p in started.values()):
        time.sleep(0.2)
    left = {name: pid for name, pid in started.items() if running(pid)}
    assert not left, f"still running after down: {left}"
    assert tagged_processes(stack.run_dir) == {}  # no children left behind either
    assert not list(stack.run_dir.glob("*.pid"))
