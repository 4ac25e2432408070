"""The shared status table every client uses, and key redaction."""

from __future__ import annotations

import pytest

from providers.errors import (
    AuthenticationFailed,
    BadRequest,
    ContentBlocked,
    ContextTooLong,
    FirstTokenTimeout,
    InvalidQuery,
    ModelNotFound,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    ServerError,
    StreamStalled,
    StreamTruncated,
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
    (500, "internal", ServerError, True),
    (502, "bad gateway", ServerError, True),
    (503, "unavailable", ServerError, True),
    (504, "gateway timeout", ServerError, True),
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


def test_only_the_callers_input_and_a_safety_refusal_stop_a_route() -> None:
    """The tree answers "does this fail over?": everything but the caller's own input and
    a content filter's refusal (which the caller must see as it is) says yes."""
    stoppers = {cls for cls in _tree(ProviderError) if not cls.fails_over}
    assert stoppers == {InvalidQuery, ContentBlocked}
    assert InvalidQuery.__doc__ and "no provider" in InvalidQuery.__doc__
    assert ContextTooLong.fails_over, "a fallback with a larger window may answer"


@pytest.mark.parametrize(
    ("cls", "parent", "kind"),
    [
        (FirstTokenTimeout, ProviderTimeout, "first_token_timeout"),
        (StreamStalled, ProviderTimeout, "stream_stalled"),
        (StreamTruncated, ProviderUnavailable, "stream_truncated"),
    ],
)
def test_stream_failures_are_retryable_and_fail_over(cls, parent, kind) -> None:
    err = cls("gemini", "x")
    assert isinstance(err, parent) and err.kind == kind
    assert err.retryable and err.fails_over


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_error_carries_its_status(status: int) -> None:
    err = error_for_status("perplexity", status, "boom")
    assert isinstance(err, ServerError) and err.status == status and err.kind == "server_error"


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
