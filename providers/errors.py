"""The provider error tree: it answers "what should the caller do?".

Two questions, two class attributes:

- `retryable`: may *this* provider succeed with the same request later?
- `fails_over`: may *another* provider in the route accept this request? An error
  about the caller's own input says no, and so does a safety refusal (the caller
  must see it, not a fallback's answer); everything a provider refuses for its own
  reasons (an unsupported parameter, a precondition, a 400 that another provider
  may not give, its context window) says yes.

    ProviderError                                retryable  fails_over
    ├── RetryableProviderError   -> next provider now; this one later
    │   ├── ProviderTimeout                      yes        yes   total deadline passed
    │   │   ├── FirstTokenTimeout                yes        yes   silent: never retry it now
    │   │   └── StreamStalled                    yes        yes   gap between chunks too long
    │   ├── ProviderUnavailable  (refused, reset) yes      yes
    │   │   ├── ServerError      (5xx)           yes        yes   carries `status`
    │   │   └── StreamTruncated                  yes        yes   dropped before the end
    │   └── RateLimited          (429)           yes        yes   carries Retry-After
    └── PermanentProviderError   -> fails the same way at this provider again
        ├── BadRequest           (400/422)       no         yes   this provider refused it
        ├── ModelNotFound        (404)           no         yes   this provider lacks it
        ├── AuthenticationFailed (401/403)       no         yes   our key for this provider
        ├── ContextTooLong                       no         yes   a larger window may answer
        ├── ContentBlocked                       no         no    a safety refusal: the caller
        │                                                         sees it as it is
        └── InvalidQuery                         no         no    the caller's own input

`retryable` says the same model may answer later; how often the dispatcher retries it
in one request is its own policy (a 500 once, a silent model never: see each class).

Decide by the attributes (`error.fails_over`), never by `type(error) is X`, so a
new subclass inherits the right answer. Clients translate SDK exceptions into
these at the boundary with `raise ... from err`. Messages never contain API keys:
`redact()` strips anything that looks like one.
"""

from __future__ import annotations

import re

_KEY_PATTERNS = [
    re.compile(r"(key=)[^&\s\"']+", re.IGNORECASE),
    re.compile(r"(Bearer\s+)[A-Za-z0-9._\-]+"),
    re.compile(r"(AIza)[0-9A-Za-z_\-]{20,}"),
    re.compile(r"(pplx-)[0-9A-Za-z]{8,}"),
]
MAX_MESSAGE_CHARS = 300


def redact(message: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove API keys (known values and key-shaped strings) and bound the length."""
    for secret in secrets:
        if secret:
            message = message.replace(secret, "[redacted]")
    for pattern in _KEY_PATTERNS:
        message = pattern.sub(r"\1[redacted]", message)
    return message[:MAX_MESSAGE_CHARS]


class ProviderError(Exception):
    """Base of every failure from a provider call."""

    kind = "provider_error"
    retryable = False
    fails_over = True
    """True when another provider may accept the same request (see the tree above)."""

    def __init__(self, provider: str, message: str) -> None:
        self.provider = provider
        self.message = redact(message)
        super().__init__(f"{provider}: {self.message}")


class RetryableProviderError(ProviderError):
    """Transient: another provider (or this one later) may well succeed."""

    retryable = True


class ProviderTimeout(RetryableProviderError):
    """The attempt's total deadline (`CompletionRequest.timeout_s`) passed."""

    kind = "timeout"


class FirstTokenTimeout(ProviderTimeout):
    """No response, or no first token, within the first-token limit: the model is silent.

    A silent upstream usually stays silent for a while, so the dispatcher never calls the
    same model again in the same request after this error; it moves to the fallback.
    """

    kind = "first_token_timeout"


class StreamStalled(ProviderTimeout):
    """The stream started, then no chunk came within the stall limit between chunks."""

    kind = "stream_stalled"


class ProviderUnavailable(RetryableProviderError):
    """Refused or reset connections, and the 5xx family (see `ServerError`)."""

    kind = "unavailable"


class ServerError(ProviderUnavailable):
    """An HTTP 5xx from the provider; `status` lets the caller treat 500 and 503 apart
    (a 500 is often a one-off worth one more try; a 503 is an overload)."""

    kind = "server_error"

    def __init__(self, provider: str, message: str, status: int) -> None:
        super().__init__(provider, message)
        self.status = status


class StreamTruncated(ProviderUnavailable):
    """The connection dropped before the stream's final event, and neither a finish reason
    nor the usage said the answer was complete. The partial text is never an answer."""

    kind = "stream_truncated"


class RateLimited(RetryableProviderError):
    kind = "rate_limited"

    def __init__(self, provider: str, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(provider, message)
        self.retry_after_s = retry_after_s


class PermanentProviderError(ProviderError):
    """Retrying the same request at the same provider will not help."""


class BadRequest(PermanentProviderError):
    """This provider refused the request (unsupported parameter, precondition): a 400 that
    another provider, with other parameters and limits, may well not give."""

    kind = "bad_request"


class ModelNotFound(PermanentProviderError):
    kind = "not_found"


class AuthenticationFailed(PermanentProviderError):
    kind = "auth_failed"


class ContextTooLong(PermanentProviderError):
    kind = "context_too_long"


class ContentBlocked(PermanentProviderError):
    """A content filter or safety refusal. Returned to the caller as it is: answering it
    through another provider would route around a refusal the caller must see."""

    kind = "content_blocked"
    fails_over = False


class InvalidQuery(PermanentProviderError):
    """The caller's own input, which no provider can accept (e.g. a blank question).

    Found before any call is made; trying other providers only spends time and money.
    """

    kind = "invalid_query"
    fails_over = False


def error_for_status(
    provider: str, status: int, message: str, retry_after_s: float | None = None
) -> ProviderError:
    """Map an HTTP status from any provider to the error tree (one table for all clients)."""
    if status == 429:
        return RateLimited(provider, message, retry_after_s)
    if status in (401, 403):
        return AuthenticationFailed(provider, message)
    if status == 408:
        return ProviderTimeout(provider, message)
    if status == 413 or "context" in message.lower() and "length" in message.lower():
        return ContextTooLong(provider, message)
    if status == 404:
        return ModelNotFound(provider, message)
    if 400 <= status < 500:
        return BadRequest(provider, message)
    if 500 <= status < 600:
        return ServerError(provider, message, status)
    return ProviderUnavailable(provider, message)
