"""The per-message failure policy, in one place.

    what failed                                    what the worker does
    ---------------------------------------------  ----------------------------------------
    the bytes are not a valid event (poison)       dead-letter at once (+ a failed answer)
    infrastructure that comes back by itself:       retry the same message with backoff,
      Kafka delivery (broker briefly unreachable),  for as long as it takes; the offset stays
      Redis (restart, full pool), timeouts,         uncommitted, so a crash or a stop
      connections, TransientHandlerError            redelivers it
    anything else (a bug, a catalogue mismatch)    dead-letter at once (+ a failed answer)
    dead-lettering itself fails (Kafka down)       retry it with backoff, like a transient

The worker never crashes on one message and never leaves an offset in flight
without a way to finish it: either the message finishes (answered, or
dead-lettered with a failed answer) or it is retried until the stop, and then
redelivered to whoever owns the partition next.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum

from pydantic import ValidationError
from redis.exceptions import DataError, RedisError, ResponseError

from services.common.producer import DeliveryError

INITIAL_RETRY_DELAY_S = 0.2
MAX_RETRY_DELAY_S = 5.0


class TransientHandlerError(Exception):
    """Raised by a handler when trying the same message again may succeed (e.g. Redis blip)."""


class Action(Enum):
    RETRY = "retry"
    DEAD_LETTER = "dead_letter"


@dataclass(frozen=True)
class Decision:
    action: Action
    delay_s: float = 0.0


def decide_failure(error: BaseException, attempt: int) -> Decision:
    """What to do after `attempt` (1-based) of one message failed with `error`."""
    if isinstance(error, ValidationError | UnicodeDecodeError):
        return Decision(Action.DEAD_LETTER)
    if is_transient(error):
        return Decision(Action.RETRY, retry_delay_s(attempt))
    return Decision(Action.DEAD_LETTER)


def is_transient(error: BaseException) -> bool:
    """Errors of infrastructure that recovers by itself: worth waiting for, never final."""
    if isinstance(error, TransientHandlerError | DeliveryError | TimeoutError | ConnectionError):
        return True
    # A Redis reply error (wrong type, bad script) will fail the same way again.
    return isinstance(error, RedisError) and not isinstance(error, ResponseError | DataError)


def retry_delay_s(attempt: int) -> float:
    """Exponential backoff with jitter (half to full of the ceiling), bounded."""
    ceiling = min(MAX_RETRY_DELAY_S, INITIAL_RETRY_DELAY_S * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)
