"""The request body of the analysis endpoints, validated at the edge.

`parse_analysis_request` turns the raw HTTP request into an `AnalysisRequest` or
raises `ApiError`: 400 for a body that is not JSON (or not sent as JSON), 413
(from Flask) for one over the size limit, 422 naming the field for anything the
model rejects, including unknown fields.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Request
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, field_validator
from werkzeug.exceptions import RequestEntityTooLarge

from schemas.query import MAX_CONTEXT_CHARS, MAX_QUERY_CHARS, QueryOptions, QueryRequested
from strategist.errors import ApiError, validation_error


class AnalysisRequest(BaseModel):
    """What a strategist sends; the API contract the existing clients rely on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
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

    def to_event(self, query_id: str) -> QueryRequested:
        """The event that enters the pipeline (or the direct path) for this request."""
        return QueryRequested(
            query_id=query_id,
            query=self.query,
            analysis_type=self.analysis_type,
            campaign_id=self.campaign_id,
            context=self.context,
            options=self.options,
        )


def _json_body(request: Request) -> Any:
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
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ApiError(400, "invalid_json", f"request body is not valid JSON: {err}") from err


def parse_analysis_request(request: Request) -> AnalysisRequest:
    """Validate the HTTP request body; raises ApiError (400/422) or RequestEntityTooLarge."""
    body = _json_body(request)
    if not isinstance(body, dict):
        raise ApiError(422, "validation_error", "request body must be a JSON object")
    try:
        return AnalysisRequest.model_validate(body)
    except ValidationError as err:
        raise validation_error(err) from err
