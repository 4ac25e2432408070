"""scripts/postgres.sh on a private port and VAR_DIR: never the shared server.

The database of the decision records starts like Redis does: initialised once under
VAR_DIR, on 127.0.0.1 only, with a password from POSTGRES_PASSWORD or one generated into
VAR_DIR (never a fixed default), and its data survives a stop and a start.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from harness.processes import REPO_ROOT, free_port

SCRIPT_TIMEOUT_S = 120.0
SCRIPT = str(REPO_ROOT / "scripts" / "postgres.sh")


class PrivatePostgres:
    def __init__(self, var_dir: Path) -> None:
        self.var_dir = var_dir
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items()
                    if k not in {"DATABASE_URL", "POSTGRES_PASSWORD"}}
        self.env.update(VAR_DIR=str(var_dir), POSTGRES_PORT=str(self.port))

    def run(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([SCRIPT, command], env=self.env, cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_S)

    def url(self) -> str:
        return self.run("url").stdout.strip()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    # Under the repo's var/ rather than pytest's tmp_path: run as root, the server runs as
    # `postgres`, which cannot pass through pytest's private (0700) temporary folders.
    (REPO_ROOT / "var" / "tmp").mkdir(parents=True, exist_ok=True)
    var_dir = Path(tempfile.mkdtemp(prefix="postgres-test-", dir=REPO_ROOT / "var" / "tmp"))
    var_dir.chmod(0o755)
    server = PrivatePostgres(var_dir)
    try:
        yield server
    finally:
        server.run("stop")
        shutil.rmtree(var_dir, ignore_errors=True)


def test_start_login_persist_restart_and_stop(private_postgres: PrivatePostgres) -> None:
    started = private_postgres.run("start")
    assert started.returncode == 0, started.stderr

    password_file = private_postgres.var_dir / "postgres" / "password"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    url = private_postgres.url()
    password = password_file.read_text().strip()
    assert len(password) >= 32 and f":{password}@127.0.0.1:{private_postgres.port}/" in url
    with psycopg.connect(url, autocommit=True) as connection:
        listen = connection.execute("SHOW listen_addresses").fetchone()
        connection.execute("CREATE TABLE kept (note text)")
        connection.execute("INSERT INTO kept VALUES ('survives a restart')")
    assert listen == ("127.0.0.1",)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url.replace(password, "not-the-password"), connect_timeout=5).close()

    assert private_postgres.run("status").returncode == 0
    assert private_postgres.run("stop").returncode == 0
    assert private_postgres.run("status").returncode == 3
    again = private_postgres.run("start")
    assert again.returncode == 0, again.stderr
    assert private_postgres.url() == url  # the generated password is reused
    with psycopg.connect(url) as connection:
        assert connection.execute("SELECT note FROM kept").fetchall() == [("survives a restart",)]


def test_the_password_comes_from_the_environment(private_postgres: PrivatePostgres) -> None:
    private_postgres.env["POSTGRES_PASSWORD"] = "from-the-environment"
    started = private_postgres.run("start")
    assert started.returncode == 0, started.stderr
    assert not (private_postgres.var_dir / "postgres" / "password").exists()
    with psycopg.connect(private_postgres.url()) as connection:
        assert connection.execute("SELECT current_user").fetchone() == ("strategist",)
    assert ":from-the-environment@" in private_postgres.url()


def test_a_checkout_under_a_closed_folder_still_gets_a_server() -> None:
    """CI clones into `mktemp -d` (mode 0700): run as root, the `postgres` user cannot pass
    through it, so the server lives in a folder of its own under /var/tmp instead."""
    if os.geteuid() != 0:
        pytest.skip("the closed-folder case only arises when root runs the server as postgres")
    closed = Path(tempfile.mkdtemp(prefix="closed-"))
    assert stat.S_IMODE(closed.stat().st_mode) == 0o700
    server = PrivatePostgres(closed / "var")
    try:
        started = server.run("start")
        assert started.returncode == 0, started.stderr
        assert "/var/tmp/strategist-postgres-" in started.stderr
        with psycopg.connect(server.url(), connect_timeout=5) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        stopped = server.run("stop")
        shutil.rmtree(closed, ignore_errors=True)
        for line in started.stderr.splitlines():
            if "the server lives in " in line:
                shutil.rmtree(line.split("the server lives in ", 1)[1].strip(), ignore_errors=True)
    assert stopped.returncode == 0, stopped.stderr
