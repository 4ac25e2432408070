"""gunicorn settings for the app: Prometheus multiprocess mode (see strategist/metrics.py).

Pass it by file path, `gunicorn -c strategist/gunicorn_conf.py 'strategist:create_app()'`:
gunicorn then loads this file alone, without importing the `strategist` package, so
prometheus-client is first imported in the workers, after `PROMETHEUS_MULTIPROC_DIR` is
set here (the library picks its storage at import).

The directory is `PROMETHEUS_MULTIPROC_DIR` when set (its old `*.db` files are removed at
start, as the library requires), else a fresh temporary one per gunicorn master, removed
when it exits. A worker that exits is marked dead, so its in-flight gauges stop counting.
Command-line flags (`--workers`, `--threads`, `--bind`) still apply.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

_given = os.environ.get(MULTIPROC_DIR_ENV)
_created = None if _given else tempfile.mkdtemp(prefix="strategist-metrics-")
multiproc_dir = Path(_given or _created or "")
os.environ[MULTIPROC_DIR_ENV] = str(multiproc_dir)


def on_starting(server: Any) -> None:
    """Before the first worker: counts left by an earlier run must not be added to ours."""
    multiproc_dir.mkdir(parents=True, exist_ok=True)
    for stale in multiproc_dir.glob("*.db"):
        stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    """A worker exited (or was killed): drop its live gauges from the sums."""
    from prometheus_client import multiprocess  # in the master, only once workers ran

    multiprocess.mark_process_dead(worker.pid, str(multiproc_dir))


def on_exit(server: Any) -> None:
    """Remove the directory this master created (never one it was given)."""
    if _created is not None:
        shutil.rmtree(_created, ignore_errors=True)
