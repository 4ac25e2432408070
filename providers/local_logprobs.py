"""Per-token log-probabilities from llama-cpp-python without `logits_all`.

llama-cpp-python (0.3.x) returns `logprobs` only for a model built with
`logits_all=True`, which makes the server compute and copy the logits of every
prompt position into an n_ctx x n_vocab array and costs about 30 times the
generation time here. Yet sampling already needs the logits of the last position:
after `Llama.sample` picks a token, llama.cpp still holds that row
(`llama_get_logits_ith`). `TokenLogprobLlama` reads it there and keeps the chosen
token's log-probability (log-softmax of the raw logits: the model's own
distribution at temperature 1 before penalties, the same quantity the
`logits_all` path reports, equal to it within 1e-3 in
tests/integration/test_local_model_certainty.py) and, when asked, the top-N
alternatives. It costs one log-sum-exp over the vocabulary per generated token.

Measured (docs/local_model.md, same prompts, servers interleaved on this 2-core
machine under load): SmolLM2 4.7 tokens/s without logprobs, 6.7 with ours (no cost
within the noise), 3.0 with llama-cpp's `logits_all` logprobs; Gemma 3 270M 5.5
without, 5.6 with ours, 0.5 (11 times slower) with `logits_all`.

A non-streaming completion or chat request with `logprobs` then answers in the
OpenAI format (`choices[0].logprobs`: `token_logprobs` for completions,
`content[i].logprob` for chat), where the stock server would have raised.
Streaming requests, and models built with `logits_all=True`, take the stock path.

`python -m providers.local_logprobs <llama_cpp.server arguments>` is the server with
this class installed; `providers.local_server` execs it.
"""

from __future__ import annotations

import math
from typing import Any

import llama_cpp
import numpy as np
from llama_cpp.server.__main__ import main as llama_server_main

LOGPROBS_ARG = "logprobs"
STREAM_ARG = "stream"


def chosen_logprob(logits: np.ndarray, token: int, top_n: int = 0) -> tuple[float, list[int]]:
    """log-softmax of `logits` at `token`, and the ids of the `top_n` most likely tokens.

    exp in float32 (after subtracting the maximum, so nothing overflows) and the sum in
    float64: within 1e-7 of an all-float64 computation and several times faster on a 262k
    vocabulary (Gemma), since this runs once per generated token.
    """
    peak = float(logits.max())
    total = float(np.exp(logits - np.float32(peak)).sum(dtype=np.float64))
    top: list[int] = []
    if top_n > 0:
        candidates = np.argpartition(logits, -top_n)[-top_n:]
        top = [int(i) for i in candidates[np.argsort(logits[candidates])[::-1]]]
    return float(logits[token]) - peak - math.log(total), top


class TokenLogprobLlama(llama_cpp.Llama):
    """`llama_cpp.Llama` that records each sampled token's log-probability."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._top_n = 0
        self._sampled: list[tuple[int, float, dict[int, float]]] = []

    def sample(self, *args: Any, **kwargs: Any) -> int:
        """The stock sampler; then the chosen token's log-probability from the same row."""
        token = int(super().sample(*args, **kwargs))
        idx = kwargs.get("idx")
        row_index = idx - self.n_tokens if idx is not None else -1
        n_vocab = self.n_vocab()
        logits = np.ctypeslib.as_array(self._ctx.get_logits_ith(row_index), shape=(n_vocab,))
        logprob, top = chosen_logprob(logits, token, self._top_n)
        alternatives = {i: chosen_logprob(logits, i)[0] for i in top}
        self._sampled.append((token, logprob, alternatives))
        return token

    def create_completion(self, *args: Any, **kwargs: Any) -> Any:
        """Stock completion; with `logprobs` requested (not streaming) fill them from the
        recorded samples instead of refusing for lack of `logits_all`."""
        requested = kwargs.get(LOGPROBS_ARG)
        if self._logits_all or requested is None or kwargs.get(STREAM_ARG) or len(args) > 6:
            return super().create_completion(*args, **kwargs)
        self._top_n = max(0, int(requested))
        self._sampled = []
        try:
            completion: Any = super().create_completion(*args, **{**kwargs, LOGPROBS_ARG: None})
        finally:
            self._top_n = 0
        completion["choices"][0]["logprobs"] = self._logprobs(
            completion["usage"]["completion_tokens"]
        )
        return completion

    def _logprobs(self, n_tokens: int) -> dict[str, Any]:
        """The completion-format `logprobs` of the first `n_tokens` samples (the end-of-
        generation token, never part of the text, is left out as the stock path does)."""
        sampled = self._sampled[:n_tokens]
        ids = [token for token, _, _ in sampled]
        tokens: list[str] = []
        offsets: list[int] = []
        top_logprobs: list[dict[str, float] | None] = []
        offset = 0
        for i, (token, logprob, alternatives) in enumerate(sampled):
            text = self._piece(token, ids[:i])
            tokens.append(text)
            offsets.append(offset)
            offset += len(text)
            top = {self._piece(alt, ids[:i]): value for alt, value in alternatives.items()}
            top[text] = logprob
            top_logprobs.append(top)
        return {
            "tokens": tokens,
            "text_offset": offsets,
            "token_logprobs": [logprob for _, logprob, _ in sampled],
            "top_logprobs": top_logprobs,
        }

    def _piece(self, token: int, previous: list[int]) -> str:
        return self.detokenize([token], prev_tokens=previous).decode("utf-8", errors="ignore")


def main() -> None:
    """llama-cpp-python's server (same arguments) with `TokenLogprobLlama` as its model class.

    The server's model loader calls `llama_cpp.Llama(...)` by attribute at load time,
    so replacing that attribute before it runs is enough.
    """
    llama_cpp.Llama = TokenLogprobLlama  # type: ignore[misc]
    llama_server_main()


if __name__ == "__main__":
    main()
