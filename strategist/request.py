"""The request body of the analysis endpoints, validated at the edge.

`parse_analysis_request` turns the raw HTTP request into an `AnalysisRequest` or
raises `ApiError`: 400 for a body that is not JSON (or not sent as JSON), 413
(from Flask) for one over the size limit, 422 naming the field for anything the
model rejects, including unknown fields.

JSON that parses but that the rest of the system cannot carry is refused here
too, before anything is published: nesting deeper than `MAX_JSON_DEPTH` (Python's
parser raises RecursionError long before the size limit), integers longer than
`MAX_INTEGER_DIGITS` (Python refuses to convert 4,300 digits or more), the
non-standard constants NaN and Infinity, and strings holding a lone surrogate
such as "\\udc00" (valid in JSON's escapes, not encodable as UTF-8, so the event
could never be serialised).

`check_routable` refuses (422, naming `options.providers.<i>`) a provider the catalogue
does not know: provider names are open strings, so only the catalogue can tell.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from flask import Request
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, field_validator
from werkzeug.exceptions import RequestEntityTooLarge

from providers.catalogue import Catalogue
from schemas.feedback import MAX_COMMENT_CHARS, MAX_GRADER_CHARS, Rating
from schemas.query import (
    MAX_CONTEXT_CHARS,
    MAX_QUERY_CHARS,
    QueryOptions,
    QueryRequested,
    StreamMode,
)
from strategist.errors import ApiError, validation_error

STREAM_MODE_DESCRIPTION = (
    "How this analysis's event stream shows the answer (docs/streaming.md), for a caller "
    "who reads it: `Accept: text/event-stream` on POST /analyze or POST /analyses, or "
    "GET /analyses/{analysis_id}/events after POST /analyses. `live`: as it is written; a "
    "failover after text was shown either continues it (a model that accepts a "
    "continuation) or sends `restart` and the fallback's whole answer. `buffered`: an "
    "attempt's text once it succeeded, so a failover is invisible. `auto`: live where the "
    "model that would take over first can continue a cut answer, buffered otherwise. An "
    "answer the scorer may still replace is held until it is final in every mode. null: "
    "the server's default (STRATEGIST_STREAM_MODE, `auto` unless set). Any other value is "
    "422. A JSON POST /analyze (no event stream) always runs `buffered`; its answer is the "
    "same in every mode."
)
"""`options.stream_mode` as the API's caller reads it (the OpenAPI document's; the event
schema's own description speaks to the pipeline's services)."""


class AnalysisRequest(BaseModel):
    """What a strategist sends; the API contract the existing clients rely on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    query: str = Field(
        min_length=1, max_length=MAX_QUERY_CHARS, json_schema_extra={"pattern": r"\S"}
    )
    analysis_type: str | None = Field(default=None, min_length=1, max_length=64)
    campaign_id: str | None = Field(default=None, min_length=1, max_length=128)
    context: str | dict[str, JsonValue] | None = None
    options: QueryOptions = Field(default_factory=QueryOptions)

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("context")
    @classmethod
    def _bounded_context(
        cls, value: str | dict[str, JsonValue] | None
    ) -> str | dict[str, JsonValue] | None:
        if value is None:
            return value
        size = len(value) if isinstance(value, str) else len(json.dumps(value))
        if size > MAX_CONTEXT_CHARS:
            raise ValueError(f"must be at most {MAX_CONTEXT_CHARS} characters (got {size})")
        return value

    def streamed_as(self, mode: StreamMode) -> AnalysisRequest:
        """The request as it runs for a caller reading it `mode` (`options.stream_mode`,
        which the dispatcher reads to decide when each attempt's text may be shown)."""
        if self.options.stream_mode == mode:
            return self
        options = self.options.model_copy(update={"stream_mode": mode})
        return self.model_copy(update={"options": options})

    def to_event(self, analysis_id: str) -> QueryRequested:
        """The event that enters the pipeline (or the direct path) for this request: the
        caller's first round, so its `query_id` is the analysis id."""
        return QueryRequested(
            query_id=analysis_id,
            query=self.query,
            analysis_type=self.analysis_type,
            campaign_id=self.campaign_id,
            context=self.context,
            options=self.options,
        )


class FeedbackRequest(BaseModel):
    """A grade of a finished analysis (`POST /analyses/<id>/feedback`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rating: Rating
    comment: str | None = Field(default=None, max_length=MAX_COMMENT_CHARS)
    grader: str | None = Field(default=None, min_length=1, max_length=MAX_GRADER_CHARS)


Body = TypeVar("Body", bound=BaseModel)
MAX_JSON_DEPTH = 32
"""Arrays and objects nested deeper than this are refused (400 json_too_deep)."""
MAX_INTEGER_DIGITS = 64
"""Integers with more digits than this are refused (400 number_too_large)."""
UNKNOWN_PROVIDER = "unknown_provider"
"""The 422 detail type of `options.providers.<i>` naming no provider of the catalogue."""


def _bounded_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INTEGER_DIGITS:
        raise ApiError(
            400,
            "number_too_large",
            f"an integer in the body has {digits} digits; at most {MAX_INTEGER_DIGITS} are allowed",
        )
    return int(text)


def _no_constant(name: str) -> Any:
    raise ApiError(400, "invalid_json", f"request body is not valid JSON: {name} is not JSON")


def _shown(text: str) -> str:
    """Text safe to put in an error body (lone surrogates escaped)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _check_json_value(body: Any) -> None:
    """Refuse nesting beyond MAX_JSON_DEPTH and lone surrogates, naming where they are.

    Iterative, so the check itself cannot overflow the stack.
    """
    stack: list[tuple[Any, str, int]] = [(body, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            if _has_lone_surrogate(value):
                field = path or None
                raise ApiError(
                    422,
                    "validation_error",
                    f"{_shown(path or 'body')}: contains a lone surrogate (such as \\udc00); "
                    "text must be valid Unicode",
                    field=_shown(field) if field else None,
                )
            continue
        if not isinstance(value, dict | list):
            continue
        if depth >= MAX_JSON_DEPTH:
            raise ApiError(
                400,
                "json_too_deep",
                f"request body nests arrays/objects deeper than {MAX_JSON_DEPTH} levels",
                field=_shown(path) if path else None,
            )
        if isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else key
                if _has_lone_surrogate(key):
                    stack.append((key, child, depth + 1))
                stack.append((item, child, depth + 1))
        else:
            for index, item in enumerate(value):
                stack.append((item, f"{path}.{index}" if path else str(index), depth + 1))


def json_body(request: Request) -> Any:
    limit = request.max_content_length
    if limit is not None and request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()
    if not request.is_json:
        raise ApiError(
            400,
            "invalid_content_type",
            f"send the body as application/json (got {request.mimetype or 'no content type'})",
        )
    raw = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH
    try:
        body = json.loads(raw, parse_int=_bounded_int, parse_constant=_no_constant)
    except RecursionError as err:
        raise ApiError(
            400,
            "json_too_deep",
            f"request body nests arrays/objects deeper than {MAX_JSON_DEPTH} levels",
        ) from err
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ApiError(400, "invalid_json", f"request body is not valid JSON: {err}") from err
    except ValueError as err:  # e.g. Python's own limit on integer digits
        raise ApiError(400, "invalid_json", f"request body cannot be read: {err}") from err
    _check_json_value(body)
    return body


def _parse(request: Request, model: type[Body]) -> Body:
    body = json_body(request)
    if not isinstance(body, dict):
        raise ApiError(422, "validation_error", "request body must be a JSON object")
    try:
        return model.model_validate(body)
    except ValidationError as err:
        raise validation_error(err) from err


def parse_analysis_request(request: Request) -> AnalysisRequest:
    """Validate the HTTP request body; raises ApiError (400/422) or RequestEntityTooLarge."""
    return _parse(request, AnalysisRequest)


def parse_feedback_request(request: Request) -> FeedbackRequest:
    """Validate a feedback body the same way; raises ApiError (400/422) or
    RequestEntityTooLarge."""
    return _parse(request, FeedbackRequest)


def check_routable(body: AnalysisRequest, catalogue: Catalogue) -> AnalysisRequest:
    """`body`, or 422 naming `options.providers.<i>` for a provider the catalogue has no
    model of: provider names are open strings (a catalogue may declare any), so the
    catalogue, not the schema, says which exist."""
    names = body.options.providers or []
    known = catalogue.routable_providers()
    details = [
        {
            "field": f"options.providers.{index}",
            "message": f"options.providers.{index}: no provider {name!r} in the catalogue "
            f"(known: {', '.join(known)})",
            "type": UNKNOWN_PROVIDER,
        }
        for index, name in enumerate(names)
        if name not in known
    ]
    if details:
        first = details[0]
        raise ApiError(
            422, "validation_error", first["message"], field=first["field"], details=details
        )
    return body
