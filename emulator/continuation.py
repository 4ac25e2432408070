"""An assistant prefill continued: what the emulated model writes after a given beginning.

A request may end with the beginning of an answer (Gemini: a last `model` content; the
OpenAI shape: a last `assistant` message) for the model to continue. The emulated model
continues with the remainder of the answer it would give when that beginning is the start
of it (a cut answer of the same model, continued seamlessly), and otherwise with a short
sentence of its own (another model's beginning). The text is the continuation only, as
the real APIs send it; fault injection applies to it as to any answer.
"""

from __future__ import annotations

from emulator.answers import EmulatedAnswer, estimate_tokens


def continuation(answer: EmulatedAnswer, prefix: str, model: str) -> EmulatedAnswer:
    """`answer` (the model's whole answer to the prompt) as a continuation of `prefix`."""
    if not prefix:
        return answer
    if answer.text.startswith(prefix):
        text = answer.text[len(prefix) :]
    else:
        text = f" [emulated {model} continues] The rest of the plan follows the same reasoning."
    return EmulatedAnswer(
        text=text,
        output_tokens=estimate_tokens(text) if text else 0,
        thinking_tokens=answer.thinking_tokens,
        avg_logprob=answer.avg_logprob,
        truncated=answer.truncated,
    )
