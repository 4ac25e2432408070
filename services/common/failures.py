"""The per-message failure policy, in one place.

A message that cannot be decoded is poison: dead-letter it at once. A handler
error marked retryable is retried a few times with backoff, then dead-lettered.
Anything else is dead-lettered at once. The worker never crashes on a message;
it crashes only when Kafka itself is unusable.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum

from pydantic import ValidationError

MAX_HANDLER_ATTEMPTS = 3
INITIAL_RETRY_DELAY_S = 0.2
MAX_RETRY_DELAY_S = 2.0


class TransientHandlerError(Exception):
    """Raised by a handler when trying the same message again may succeed (e.g. Redis blip)."""


class Action(Enum):
    RETRY = "retry"
    DEAD_LETTER = "dead_letter"


@dataclass(frozen=True)
class Decision:
    action: Action
    delay_s: float = 0.0


def decide(error: BaseException, attempt: int) -> Decision:
    """What to do after `attempt` (1-based) failed with `error`."""
    if isinstance(error, ValidationError | UnicodeDecodeError):
        return Decision(Action.DEAD_LETTER)
    if _is_transient(error) and attempt < MAX_HANDLER_ATTEMPTS:
        return Decision(Action.RETRY, retry_delay_s(attempt))
    return Decision(Action.DEAD_LETTER)


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, TransientHandlerError | TimeoutError | ConnectionError):
        return True
    # redis-py's errors do not derive from the builtins; match them by module.
    return type(error).__module__.startswith("redis") and "Error" in type(error).__name__


def retry_delay_s(attempt: int) -> float:
    """Exponential backoff with full jitter, bounded."""
    ceiling = min(MAX_RETRY_DELAY_S, INITIAL_RETRY_DELAY_S * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)
