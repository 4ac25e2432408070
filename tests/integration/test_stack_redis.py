"""Stored answers survive a Redis restart: scripts/redis.sh runs Redis with an append-only file.

Each test runs its own redis-server through the script, on a free port with its own
VAR_DIR (pid file, log, data), never the shared server on 6379.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from harness.processes import REPO_ROOT, free_port

SCRIPT_TIMEOUT_S = 60.0
FSYNC_WAIT_S = 2.5
"""appendfsync everysec: after this long a write is on disk even if Redis is killed."""
GONE_TIMEOUT_S = 10.0


class PrivateRedis:
    """scripts/redis.sh start/stop on a private port and VAR_DIR."""

    def __init__(self, var_dir: Path) -> None:
        self.var_dir = var_dir
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        self.env.update(VAR_DIR=str(var_dir), REDIS_PORT=str(self.port))
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def script(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(REPO_ROOT / "scripts" / "redis.sh"), command], env=self.env,
                              cwd=REPO_ROOT, capture_output=True, text=True,
                              timeout=SCRIPT_TIMEOUT_S, check=True)

    def client(self) -> redis.Redis:
        # The script's own URL: it carries the password the server was started with.
        return redis.Redis.from_url(self.script("url").stdout.strip(), socket_timeout=5)

    def pid(self) -> int:
        return int((self.var_dir / "run" / "redis.pid").read_text())


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (scripts/setup.sh installs it)")
    server = PrivateRedis(tmp_path / "var")
    server.script("start")
    try:
        yield server
    finally:
        server.script("stop")


def running(pid: int) -> bool:
    """The process exists and is not a zombie (a daemon's parent is PID 1, which may
    reap it late)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pid: int) -> None:
    deadline = time.monotonic() + GONE_TIMEOUT_S
    while time.monotonic() < deadline:
        if not running(pid):
            return
        time.sleep(0.1)
    raise AssertionError(f"redis-server {pid} still running")


@pytest.mark.integration
def test_a_key_survives_a_restart_through_the_script(private_redis: PrivateRedis) -> None:
    client = private_redis.client()
    client.set("strategist:result:answered", "the answer")
    client.close()
    old_pid = private_redis.pid()

    private_redis.script("stop")
    wait_gone(old_pid)
    private_redis.script("start")

    assert private_redis.pid() != old_pid
    client = private_redis.client()
    assert client.get("strategist:result:answered") == b"the answer"
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
    client.close()
    assert list((private_redis.var_dir / "redis").rglob("*.aof")), "no append-only file"


@pytest.mark.integration
def test_a_key_survives_a_crash_after_the_next_fsync(private_redis: PrivateRedis) -> None:
    client = private_redis.client()
    client.set("strategist:result:crash", "kept")
    client.close()
    time.sleep(FSYNC_WAIT_S)
    pid = private_redis.pid()
    os.kill(pid, signal.SIGKILL)
    wait_gone(pid)

    private_redis.script("start")
    client = private_redis.client()
    assert client.get("strategist:result:crash") == b"kept"
    client.close()
