"""Schemathesis against the live app: no 5xx, every response as the OpenAPI document says.

The whole stack (broker, Redis, the four services, the emulator) with an app whose
sync deadline is short, so a generated valid query is answered 200 or 202 quickly
whichever model it is routed to. Schemathesis runs its coverage and fuzzing phases
with a bounded number of examples per operation, with the stack's admin API key; its
`ignored_auth` check also sends requests without the key and with a wrong one, which
must be refused as the document says (401). Its report is printed on failure.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from strategist.openapi import OPENAPI_PATH
from tests.e2e.stack import App, StackFactory

pytestmark = pytest.mark.e2e

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "ignored_auth",
)
MAX_EXAMPLES = 10
WORKERS = 1
"""Several workers hit a thread-safety bug of Python 3.11's ast.parse inside hypothesis."""
REQUEST_TIMEOUT_S = 20
RUN_TIMEOUT_S = 240
"""A hang guard only: the run takes well under a minute here."""
APP_SYNC_TIMEOUT_S = "1"


@pytest.fixture(scope="module")
def app(stack_factory: StackFactory) -> Iterator[App]:
    with stack_factory(apps={"fuzzed": {"STRATEGIST_SYNC_TIMEOUT_S": APP_SYNC_TIMEOUT_S}}) as stack:
        yield stack.apps["fuzzed"]


def test_schemathesis_finds_no_5xx_and_no_nonconforming_response(app: App, tmp_path: Path) -> None:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{app.base_url}{OPENAPI_PATH}",
        "--checks",
        ",".join(CHECKS),
        "--phases",
        "coverage,fuzzing",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        str(WORKERS),
        "--request-timeout",
        str(REQUEST_TIMEOUT_S),
        "--header",
        f"Authorization: Bearer {app.key.key}",
        "--seed",
        "7",
        "--report-dir",
        str(tmp_path),
    ]
    run = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
        env={"NO_COLOR": "1", "PATH": str(Path(sys.executable).parent)},
    )
    report = run.stdout[-20_000:] + run.stderr[-5_000:]
    print(report)
    assert run.returncode == 0, report
    assert "No issues found" in run.stdout, report
