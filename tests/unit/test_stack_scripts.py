"""The shell plumbing behind make up/down and CI, run for real on tiny local processes.

No network: `start_bg`/`pid_alive`/`stop_pid` from scripts/lib.sh with a private
VAR_DIR, and .ci/run with a stand-in `make` on PATH.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT_TIMEOUT_S = 60.0
EXEC_SETTLE_S = 0.5
EXECS_INTO_SLEEP = 'import os; os.execv("/bin/sleep", ["sleep", "30"])'


def bash(script: str, var_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", f'set -euo pipefail; source scripts/lib.sh\n{script}'],
                          cwd=ROOT, env={**os.environ, "VAR_DIR": str(var_dir)},
                          capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_S)


def running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_process_that_execs_into_another_program_is_still_ours_and_is_stopped(
    tmp_path: Path,
) -> None:
    """providers/local_server.py execs into llama_cpp.server: its command line no longer
    holds the launcher's marker, but stop_pid must still stop it (make down)."""
    started = bash(f"""
        start_bg model "$LOG_DIR/model.log" {sys.executable} -c '{EXECS_INTO_SLEEP}'
        sleep {EXEC_SETTLE_S}
        read_pid model
        pid_alive model providers.local_server && echo alive-before-stop
    """, tmp_path)
    assert started.returncode == 0, started.stderr
    pid = int(started.stdout.split()[0])
    try:
        assert Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"sleep\0")
        assert "alive-before-stop" in started.stdout
        stopped = bash("stop_pid model providers.local_server", tmp_path)
        assert stopped.returncode == 0, stopped.stderr
        deadline = time.monotonic() + 5
        while running(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not running(pid), "stop_pid left the exec'd process running"
        assert not (tmp_path / "run" / "model.pid").exists()
    finally:
        if running(pid):
            os.kill(pid, 9)


def test_a_recycled_pid_is_not_taken_for_ours(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir(parents=True)
    (tmp_path / "run" / "model.pid").write_text(f"{os.getpid()}\n")  # this pytest: not ours
    result = bash("pid_alive model providers.local_server && echo ours || echo not-ours",
                  tmp_path)
    assert result.stdout.strip() == "not-ours"


def fake_make(bin_dir: Path, failing: set[str]) -> Path:
    """A `make` that records its target and fails for the targets in `failing`."""
    calls = bin_dir / "calls"
    bin_dir.mkdir(parents=True)
    script = bin_dir / "make"
    script.write_text(
        "#!/usr/bin/env bash\n"
        f'echo "$1" >>"{calls}"\n'
        'if [[ "$1" == test ]]; then echo "===== 3 passed, 1 failed in 1.00s ====="; fi\n'
        f'case "$1" in {"|".join(sorted(failing)) or "__none__"}) exit 2 ;; esac\n'
    )
    script.chmod(0o755)
    return calls


def run_ci(tmp_path: Path, failing: set[str]) -> tuple[subprocess.CompletedProcess[str], str]:
    calls = fake_make(tmp_path / "bin", failing)
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
           "VAR_DIR": str(tmp_path / "var")}
    result = subprocess.run(["bash", ".ci/run"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=SCRIPT_TIMEOUT_S)
    return result, calls.read_text()


def test_ci_runs_tests_then_lint_and_fails_when_either_fails(tmp_path: Path) -> None:
    for failing, expected_rc in [(set(), 0), ({"test"}, 1), ({"lint"}, 1),
                                 ({"test", "lint"}, 1)]:
        result, calls = run_ci(tmp_path / "-".join(sorted(failing) or ["none"]), failing)
        assert calls.split() == ["test", "lint"], (failing, calls)  # lint even after a failure
        assert result.returncode == expected_rc, (failing, result.stdout, result.stderr)
        assert result.stdout.splitlines()[-1] == "===== 3 passed, 1 failed in 1.00s ====="
