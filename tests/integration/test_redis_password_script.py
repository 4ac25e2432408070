"""scripts/redis.sh starts Redis with a generated password and never shows it.

Each test runs its own redis-server on a free port with its own VAR_DIR, never the
shared server on 6379.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from harness.processes import REPO_ROOT, free_port

SCRIPT_TIMEOUT_S = 60.0
SCRIPT = REPO_ROOT / "scripts" / "redis.sh"


@pytest.fixture(autouse=True)
def _needs_redis_server() -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (scripts/setup.sh installs it)")


class ScriptRun:
    """scripts/redis.sh on a private port and VAR_DIR; keeps everything it printed."""

    def __init__(self, var_dir: Path, port: int) -> None:
        self.var_dir = var_dir
        self.port = port
        self.env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "REDIS_PASSWORD")}
        self.env.update(VAR_DIR=str(var_dir), REDIS_PORT=str(port))
        self.printed: list[str] = []

    def __call__(self, command: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(SCRIPT), command], env=self.env, cwd=REPO_ROOT, capture_output=True,
            text=True, timeout=SCRIPT_TIMEOUT_S, check=False,
        )  # fmt: skip
        self.printed += [done.stdout, done.stderr]
        return done


@pytest.fixture
def script(tmp_path: Path) -> Iterator[ScriptRun]:
    run = ScriptRun(tmp_path / "var", free_port())
    yield run
    run("stop")


def test_first_start_generates_a_password_the_server_requires_and_no_output_shows(
    script: ScriptRun,
) -> None:
    assert script("start").returncode == 0
    password_file = script.var_dir / "redis" / "password"
    password = password_file.read_text().strip()
    assert len(password) >= 32
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    url = script("url").stdout.strip()
    assert url == f"redis://:{password}@127.0.0.1:{script.port}/0"

    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=script.port, socket_timeout=5).ping()
    client = redis.Redis.from_url(url, socket_timeout=5)
    client.set("kept", "yes")

    pid = (script.var_dir / "run" / "redis.pid").read_text().strip()
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    assert script("status").returncode == 0
    assert script("start").returncode == 0  # already running
    log = (script.var_dir / "log" / "redis.log").read_text()
    shown = script.printed[:2] + script.printed[3:] + [cmdline, log]  # all but `url`'s stdout
    assert not [text for text in shown if password in text]
    assert "redis://:***@127.0.0.1" in "".join(script.printed)

    assert script("stop").returncode == 0
    assert script("start").returncode == 0
    assert password_file.read_text().strip() == password  # reused, not regenerated
    assert redis.Redis.from_url(url, socket_timeout=5).get("kept") == b"yes"


def test_a_passwordless_server_from_an_older_checkout_is_used_as_it_is_and_not_restarted(
    tmp_path: Path,
) -> None:
    port = free_port()
    old = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        client = redis.Redis(port=port, socket_timeout=5)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                subprocess.run(["sleep", "0.1"], check=True)
        script = ScriptRun(tmp_path / "var", port)
        started = script("start")
        assert started.returncode == 0
        assert "requires no password" in started.stderr
        status = script("status")
        assert status.returncode == 0 and "WITHOUT a password" in status.stdout
        assert script("url").stdout.strip() == f"redis://127.0.0.1:{port}/0"
        assert old.poll() is None  # the same server, still running
        assert not (tmp_path / "var" / "redis" / "password").exists()
    finally:
        old.terminate()
        old.wait(timeout=SCRIPT_TIMEOUT_S)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:s3cret@127.0.0.1:6380/0", "redis://:***@127.0.0.1:6380/0"),
        ("rediss://app:s3cret@cache.example:6379/1", "rediss://app:***@cache.example:6379/1"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    ],
)
def test_log_lines_show_urls_with_the_password_redacted(
    tmp_path: Path, url: str, shown: str
) -> None:
    done = subprocess.run(
        ["bash", "-c", 'source scripts/lib.sh && redact_url "$1"', "redact", url],
        env={**os.environ, "VAR_DIR": str(tmp_path)}, cwd=REPO_ROOT, capture_output=True,
        text=True, timeout=SCRIPT_TIMEOUT_S, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == shown
