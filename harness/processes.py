"""Start our own processes (services, app, emulator) as real subprocesses for tests,
benchmarks and chaos runs.

Each run gets a unique topic namespace, so runs never see each other's events and
never collide with a stack started by `make up`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil

REPO_ROOT = Path(__file__).resolve().parents[1]
LOG_DIR = REPO_ROOT / "var" / "log" / "tests"
STOP_TIMEOUT_S = 15.0


CREATED_NAMESPACES: set[str] = set()
"""Every namespace handed out in this process; the test session deletes them at its end."""


def unique_namespace(prefix: str = "test") -> str:
    namespace = f"{prefix}-{uuid.uuid4().hex[:10]}"
    CREATED_NAMESPACES.add(namespace)
    return namespace


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def infra_env(namespace: str, **extra: str) -> dict[str, str]:
    """Environment for a child process: the test broker/Redis and a namespace."""
    env = dict(os.environ)
    env.setdefault("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    env["TOPIC_NAMESPACE"] = namespace
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class ManagedProcess:
    """A child process with its own log file; stop() is graceful, kill() is a crash."""

    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.args = args
        self.env = env
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = LOG_DIR / f"{name}-{uuid.uuid4().hex[:6]}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ManagedProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.args, env=self.env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait_until(self, ready: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Poll `ready` until true; fail with the log tail if the process dies or time runs out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
            with contextlib.suppress(Exception):
                if ready():
                    return
            time.sleep(0.2)
        raise TimeoutError(f"{self.name}: {what} not ready in {timeout_s}s:\n{self.log_tail()}")

    def wait_for_log(self, text: str, timeout_s: float = 30.0) -> None:
        self.wait_until(
            lambda: text in self.log_path.read_text(errors="replace"),
            timeout_s,
            f"log line {text!r}",
        )

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL: a crash with no chance to commit or flush."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT_S)

    def kill_tree(self) -> None:
        """SIGKILL the process and every process it started (a gunicorn master and its
        workers): the whole app crashes at once and its open connections drop. The master
        goes first, so it cannot start a worker in place of a killed one."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            children = []
        self.kill()
        for child in children:
            with contextlib.suppress(psutil.Error):
                child.kill()
        psutil.wait_procs(children, timeout=STOP_TIMEOUT_S)


ASGI_WORKER_CONNECTIONS = 10_000


def gunicorn_app(
    name: str,
    env: dict[str, str],
    port: int,
    *,
    workers: int = 2,
    threads: int = 8,
    server: str = "asgi",
) -> ManagedProcess:
    """The strategist app under gunicorn on 127.0.0.1:`port`, as `make up` runs it (with
    its config: each app gets its own Prometheus multiprocess directory). `server`:
    `gthread` (a thread per connection) or `asgi` (strategist/asgi.py: requests read on an
    event loop, a thread per request in progress)."""
    if server == "asgi":
        return ManagedProcess(
            name,
            [
                sys.executable, "-m", "gunicorn",
                "--config", str(REPO_ROOT / "strategist" / "gunicorn_conf.py"),
                "--worker-class", "asgi",
                "--worker-connections", str(ASGI_WORKER_CONNECTIONS),
                "--workers", str(workers),
                "--bind", f"127.0.0.1:{port}",
                "--graceful-timeout", "5",
                "strategist.asgi:create_asgi_app()",
            ],  # fmt: skip
            env,
        )
    return ManagedProcess(
        name,
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            str(REPO_ROOT / "strategist" / "gunicorn_conf.py"),
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--bind",
            f"127.0.0.1:{port}",
            "--graceful-timeout",
            "5",
            "strategist:create_app()",
        ],
        env,
    )


def python_module(name: str, module: str, env: dict[str, str], *args: str) -> ManagedProcess:
    return ManagedProcess(name, [sys.executable, "-m", module, *args], env)


@contextlib.contextmanager
def running(*processes: ManagedProcess) -> Iterator[tuple[ManagedProcess, ...]]:
    """Start all, stop all (reverse order) however the block ends."""
    started: list[ManagedProcess] = []
    try:
        for process in processes:
            started.append(process.start())
        yield processes
    finally:
        for process in reversed(started):
            process.stop()
