"""One error type for the API and the handlers that turn every failure into JSON.

Every error body has the same shape, `{"error": {"code", "message", "field"}}`,
so clients branch on `code` and can point at `field`; an error about a finished
analysis (`content_blocked`) also names it in `analysis_id`. How a failed analysis
reads as an error (`blocked_attempt`, `content_blocked`) is here too, so the strategist
API and the OpenAI-compatible one answer it alike. Unexpected exceptions are
logged with their traceback and answered with a generic 500 that reveals nothing
of the internals.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app, jsonify
from pydantic import BaseModel, ConfigDict, ValidationError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from schemas.parts import AttemptSummary
from schemas.response import AnalysisResponded

logger = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    402: "payment_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}
CONTENT_BLOCKED = "content_blocked"
"""The attempt error kind of a safety refusal (providers/errors.py ContentBlocked)."""
CONTENT_BLOCKED_STATUS = 422
"""The request is well formed but its content was refused: not a gateway failure (502)."""
STORE_RETRY_AFTER_S = 5
"""`Retry-After` of a 503 because the result store (Redis) is unreachable, on both APIs."""


class ErrorDetail(BaseModel):
    """One problem of a 422: the field it is about and what is wrong with it."""

    model_config = ConfigDict(extra="forbid")

    field: str | None
    message: str
    type: str


class ErrorInfo(BaseModel):
    """What went wrong: a stable `code` to branch on, a message, the offending field."""

    model_config = ConfigDict(extra="forbid")

    code: str
    message: str
    field: str | None
    details: list[ErrorDetail] | None = None
    analysis_id: str | None = None
    """The analysis the error ended (absent for errors about the request itself)."""


class ErrorBody(BaseModel):
    """The body of every error response (the OpenAPI document is generated from it)."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorInfo


class ApiError(Exception):
    """An error the client should see: HTTP status, stable code, message, offending field."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        analysis_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.details = details
        self.headers = dict(headers or {})
        self.analysis_id = analysis_id

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "field": self.field}
        if self.details:
            error["details"] = self.details
        if self.analysis_id is not None:
            error["analysis_id"] = self.analysis_id
        return {"error": error}

    def response(self) -> Response:
        response = jsonify(self.body())
        response.status_code = self.status
        response.headers.update(self.headers)
        return response


def blocked_attempt(response: AnalysisResponded) -> AttemptSummary | None:
    """The call a provider's safety filter refused, when that is how the analysis failed."""
    if response.status != "failed":
        return None
    attempts = response.routing.failed_attempts
    return next((a for a in attempts if a.error_kind == CONTENT_BLOCKED), None)


def content_blocked(response: AnalysisResponded, attempt: AttemptSummary) -> ApiError:
    """422 `content_blocked`: the model that refused and its reason, the analysis named."""
    reason = attempt.error_message or response.error or "refused by the safety filter"
    return ApiError(
        CONTENT_BLOCKED_STATUS,
        CONTENT_BLOCKED,
        f"{attempt.provider}/{attempt.model} refused the query: {reason}",
        field="query",
        analysis_id=response.analysis_id,
    )


_PRIMITIVE_TAGS = frozenset({"str", "int", "float", "bool", "bytes", "none"})


def _is_union_tag(part: int | str) -> bool:
    """pydantic names the union member that failed (`context.str`, `x.dict[str,...]`)."""
    return isinstance(part, str) and (
        part in _PRIMITIVE_TAGS or "[" in part or part.startswith(("function-", "json-or-"))
    )


def _field_path(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location if not _is_union_tag(part))


def validation_error(err: ValidationError) -> ApiError:
    """422 naming the first offending field, with every problem in `details`.

    The user's input is not echoed back (it may be large, or sensitive).
    """
    by_field: dict[str, dict[str, Any]] = {}
    for item in err.errors(include_input=False, include_url=False):
        field = _field_path(item["loc"])
        if item["type"] == "extra_forbidden":
            problem = f"unknown field {field!r}"
        elif item["type"] == "missing":
            problem = f"{field!r} is required"
        else:
            problem = item["msg"]
        known = by_field.get(field)
        if known is None:  # a union reports once per member: merge them into one line
            by_field[field] = {"field": field or None, "problems": [problem], "type": item["type"]}
        elif problem not in known["problems"]:
            known["problems"].append(problem)
    details: list[dict[str, Any]] = []
    for field, merged in by_field.items():
        problems = " or ".join(merged["problems"])
        bare = merged["type"] in ("extra_forbidden", "missing")
        message = problems if bare else f"{field}: {problems}"
        details.append({"field": merged["field"], "message": message, "type": merged["type"]})
    first = details[0]
    return ApiError(
        422, "validation_error", str(first["message"]), field=first["field"], details=details
    )


def _http_error(err: HTTPException) -> Response:
    status = err.code or 500
    if isinstance(err, RequestEntityTooLarge):
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        message = f"request body exceeds the limit of {limit} bytes"
    else:
        message = str(err.description or err.name)
    code = HTTP_CODES.get(status, err.name.lower().replace(" ", "_"))
    api_error = ApiError(status, code, message)
    response = api_error.response()
    for name, value in err.get_headers():  # e.g. Allow on 405
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _unexpected(err: Exception) -> Response:
    logger.exception("unhandled error: %s", type(err).__name__)
    return ApiError(500, "internal_error", "internal error; it has been logged").response()


def register_error_handlers(app: Flask) -> None:
    """Central handlers: ApiError, every HTTP error (404/405/413/...), then anything else."""
    app.register_error_handler(ApiError, lambda err: err.response())
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
