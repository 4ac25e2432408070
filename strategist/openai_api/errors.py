"""Errors of the `/v1` endpoints in OpenAI's shape: `{"error": {message, type, param, code}}`.

The official SDKs pick their exception class from the HTTP status and show `message`;
`code` is ours (the same codes as the strategist API's errors, so one table explains
both). Status and `type` per case:

  400 invalid_request_error  bad body (OpenAI answers 400 where the strategist API says
                             422), unsupported parameter, content blocked by the provider
  401 authentication_error   no key, not Bearer, unknown key
  402 insufficient_quota     the campaign's monthly budget is exhausted
  403 permission_error       revoked or expired key
  404 invalid_request_error  unknown model (`model_not_found`, as OpenAI), unknown path
  413 invalid_request_error  body over the size limit
  429 rate_limit_error       over the key's rate (with Retry-After)
  502 api_error              no provider could answer (`x_routing` says what was tried)
  503 api_error              key store, Redis or broker unavailable (with Retry-After)
  504 api_error              the analysis goes on past the wait (`analysis_pending`; the
                             body names the analysis id; `x-should-retry: false` so the
                             SDK does not start and pay for a second analysis)
  500 api_error              a defect; logged, nothing internal shown
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from strategist.errors import ApiError

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
}
SERVER_ERROR_TYPE = "api_error"
SHOULD_RETRY_HEADER = "x-should-retry"
"""Read by the official SDKs: "false" stops their automatic retries."""


def error_type(status: int) -> str:
    return _TYPES.get(status, SERVER_ERROR_TYPE if status >= 500 else "invalid_request_error")


class OpenAIError(Exception):
    """An error a `/v1` caller should see, rendered in OpenAI's shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})
        """Fields beside `error` in the body (e.g. `x_routing` of a failed analysis)."""

    def body(self) -> dict[str, Any]:
        error = {
            "message": self.message,
            "type": error_type(self.status),
            "param": self.param,
            "code": self.code,
        }
        return {"error": error, **self.extra}

    def response(self) -> Response:
        response = jsonify(self.body())
        response.status_code = self.status
        response.headers.update(self.headers)
        return response

    @classmethod
    def from_api_error(cls, err: ApiError, *, param: str | None = None) -> OpenAIError:
        """The strategist API's error (auth, body limits) as OpenAI's: 422 becomes 400;
        `param` names the OpenAI parameter when it differs from the field."""
        status = 400 if err.status == 422 else err.status
        return cls(
            status, err.message, code=err.code, param=param or err.field, headers=err.headers
        )


def model_not_found(model: str) -> OpenAIError:
    shown = model if len(model) <= 80 else model[:80] + "..."
    return OpenAIError(
        404,
        f"The model '{shown}' does not exist; GET /v1/models lists the models you can use "
        "('auto' lets the router choose).",
        code="model_not_found",
        param="model",
    )
