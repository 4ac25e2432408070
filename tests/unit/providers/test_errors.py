"""The shared status table every client uses, and key redaction."""

from __future__ import annotations

import pytest

from providers.errors import (
    AuthenticationFailed,
    BadRequest,
    ContextTooLong,
    InvalidQuery,
    ModelNotFound,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    error_for_status,
    redact,
)

STATUS_TABLE = [
    (400, "invalid field", BadRequest, False),
    (401, "bad key", AuthenticationFailed, False),
    (403, "forbidden", AuthenticationFailed, False),
    (404, "no such model", ModelNotFound, False),
    (408, "request timeout", ProviderTimeout, True),
    (413, "payload too large", ContextTooLong, False),
    (400, "maximum context length exceeded", ContextTooLong, False),
    (422, "unprocessable", BadRequest, False),
    (429, "slow down", RateLimited, True),
    (500, "internal", ProviderUnavailable, True),
    (502, "bad gateway", ProviderUnavailable, True),
    (503, "unavailable", ProviderUnavailable, True),
    (504, "gateway timeout", ProviderUnavailable, True),
]


@pytest.mark.parametrize(("status", "message", "expected", "retryable"), STATUS_TABLE)
def test_error_for_status(status, message, expected, retryable):
    err = error_for_status("gemini", status, message)
    assert type(err) is expected
    assert err.retryable is retryable
    assert err.fails_over, "an HTTP error is one provider's answer; another may accept"
    assert err.provider == "gemini"
    assert message in str(err)


def _tree(cls: type[ProviderError]) -> set[type[ProviderError]]:
    return {cls}.union(*(_tree(sub) for sub in cls.__subclasses__()))


def test_only_the_callers_own_input_stops_a_route() -> None:
    """The tree answers "does this fail over?": every class but InvalidQuery says yes."""
    stoppers = {cls for cls in _tree(ProviderError) if not cls.fails_over}
    assert stoppers == {InvalidQuery}
    assert InvalidQuery.__doc__ and "no provider" in InvalidQuery.__doc__


def test_rate_limited_carries_retry_after():
    err = error_for_status("perplexity", 429, "slow down", retry_after_s=2.5)
    assert isinstance(err, RateLimited) and err.retry_after_s == 2.5


@pytest.mark.parametrize(
    "message",
    [
        "GET https://x.test/v1beta/models?key=AIzaSyFAKEKEY0123456789abcdefghij failed",
        "Authorization: Bearer pplx-abcdefghijklmnop rejected",
        "key AIzaSyFAKEKEY0123456789abcdefghij is invalid",
        "pplx-abcdefghijklmnop is invalid",
    ],
)
def test_redact_removes_key_shapes(message):
    cleaned = redact(message)
    assert "FAKEKEY0123" not in cleaned and "abcdefghijklmnop" not in cleaned
    assert "[redacted]" in cleaned


def test_redact_removes_known_secrets_and_bounds_length():
    assert redact("token s3cr3t-value here", secrets=("s3cr3t-value",)) == "token [redacted] here"
    assert len(redact("x" * 10_000)) <= 300
