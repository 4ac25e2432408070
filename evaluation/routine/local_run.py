"""The configured local model, asked every routine task exactly as production asks it.

The model is the one production would serve: `LOCAL_MODEL_PATH`, else the built-in
default (`providers.local_server.resolve_model_path`). It runs in the real server
(`python -m providers.local_server`, started on a free port for the run, or a running
one named by `url`) and is called through `providers.local.LocalProvider` with the
request the dispatcher builds (`core.attempt.completion_request`: the system prompt of
`core.prompt`, the local model's output cap and timeout from the catalogue). A failed
call is kept as an empty answer with its error: production would have had nothing to
show either.

`evaluation.local_models` serves built-in models by name only (it unsets
`LOCAL_MODEL_PATH`), so the server here is started with the configured file instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.attempt import completion_request
from evaluation.model_server import served
from evaluation.routine.capability import GgufIdentity
from evaluation.routine.tasks import Task
from providers.catalogue import DEFAULT_CATALOGUE, LOCAL_MODEL
from providers.errors import ProviderError
from providers.local import LocalProvider
from providers.local_server import resolve_model_path
from providers.settings import ProviderSettings
from schemas.query import QueryRequested

PROBE_TIMEOUT_S = 2.0
SHA256_PREFIX_CHARS = 16
HASH_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class LocalAnswer:
    """The local model's answer to one task (empty with `error` when the call failed)."""

    task_id: str
    text: str
    seconds: float
    output_tokens: int = 0
    error: str | None = None


def configured_gguf() -> Path:
    """The GGUF production would serve. Raises FileNotFoundError as the server would."""
    return resolve_model_path(ProviderSettings())


def gguf_identity(path: Path) -> GgufIdentity:
    """File name, size and sha256 prefix of a GGUF (hashing 100 MB takes well under 1 s)."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return GgufIdentity(
        file=path.name,
        bytes=path.stat().st_size,
        sha256_prefix=digest.hexdigest()[:SHA256_PREFIX_CHARS],
    )


@contextlib.contextmanager
def served_gguf(gguf: Path) -> Iterator[str]:
    """`python -m providers.local_server` serving `gguf` for the run; yields its base URL."""
    with served(["-m", "providers.local_server"], env={"LOCAL_MODEL_PATH": str(gguf)}) as server:
        yield server.base_url


async def answer_all(
    base_url: str, gguf: Path, tasks: Sequence[Task], say: Callable[[str], None]
) -> tuple[str, list[LocalAnswer]]:
    """Ask every task in turn (the server answers one at a time); returns the prompt
    format the provider used and the answers, in task order."""
    spec = DEFAULT_CATALOGUE.get("local", LOCAL_MODEL)
    settings = ProviderSettings(local_model_url=base_url, local_model_path=str(gguf))
    provider = LocalProvider(settings=settings)
    answers: list[LocalAnswer] = []
    started = time.monotonic()
    try:
        await provider.probe(PROBE_TIMEOUT_S)
        prompt_format = await provider.prompt_format()
        for number, task in enumerate(tasks, 1):
            request = completion_request(
                QueryRequested(query_id=task.id, query=task.query), spec, spec.timeout_s
            )
            asked = time.monotonic()
            try:
                reply = await provider.complete(request)
                answer = LocalAnswer(
                    task.id, reply.text, time.monotonic() - asked, reply.output_tokens
                )
            except ProviderError as err:
                answer = LocalAnswer(task.id, "", time.monotonic() - asked, error=str(err))
            answers.append(answer)
            elapsed = time.monotonic() - started
            say(
                f"{number}/{len(tasks)} {task.id} {task.kind} {answer.seconds:.1f}s "
                f"({elapsed:.0f}s elapsed) {answer.error or ''}".rstrip()
            )
    finally:
        await provider.aclose()
    return prompt_format, answers
