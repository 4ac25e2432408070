"""The OpenAPI 3.1 document of the API, generated from the code (`GET /api/v1/openapi.json`).

Bodies come from the pydantic models the handlers use (`AnalysisRequest`,
`AnalysisResponded`, `PendingBody`, `ErrorBody`, `ProvidersBody`, `FeedbackRequest`,
`FeedbackAccepted`, `AnalysisWithFeedback`, `UsageBody`); the operations
and their status codes are listed once, in `OPERATIONS`, next to the Flask
endpoint that serves each. Every operation needs a bearer API key (the `bearer`
security scheme) and may answer 401, 403, 429 and 503 for it (`_with_auth`).
A unit test checks that every route of the app under /api/v1 is documented with
its methods and status codes and that nothing else is, and schemathesis checks the
live app against the document in CI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from flask import Blueprint, Response, jsonify
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from schemas.response import AnalysisResponded
from strategist.analysis.feedback import AnalysisWithFeedback, FeedbackAccepted
from strategist.analysis.ids import ANALYSIS_ID
from strategist.errors import ErrorBody
from strategist.provider_view import ProvidersBody
from strategist.request import STREAM_MODE_DESCRIPTION, AnalysisRequest, FeedbackRequest
from strategist.router import PendingBody
from strategist.streams.events import EVENT_NAMES
from strategist.usage import UsageBody

API_PREFIX = "/api/v1"
OPENAPI_PATH = f"{API_PREFIX}/openapi.json"
API_VERSION = "1.0.0"
REF = "#/components/schemas/{model}"

bp = Blueprint("openapi", __name__)

Method = Literal["get", "post"]


@dataclass(frozen=True)
class Reply:
    """One documented status: what it means, its body model, the headers it carries."""

    description: str
    body: type[BaseModel] | None = None
    headers: tuple[str, ...] = ()
    media_type: str = "application/json"


@dataclass(frozen=True)
class Operation:
    path: str
    """OpenAPI path template, e.g. /api/v1/strategist/analyses/{analysis_id}."""
    method: Method
    endpoint: str
    """The Flask endpoint that serves it."""
    summary: str
    replies: dict[int, Reply]
    request_body: type[BaseModel] | None = None
    path_parameters: tuple[str, ...] = field(default=())
    query_parameters: tuple[str, ...] = field(default=())


_PENDING_HEADERS = ("Location", "Retry-After")
_HEADERS: dict[str, dict[str, Any]] = {
    "Location": {"description": "The status URL to poll.", "schema": {"type": "string"}},
    "Retry-After": {
        "description": "Seconds to wait before polling or retrying.",
        "schema": {"type": "string"},
    },
    "WWW-Authenticate": {
        "description": "The scheme to authenticate with: Bearer.",
        "schema": {"type": "string"},
    },
}
SECURITY_SCHEME = "bearer"
_UNAUTHORIZED = Reply(
    "No API key, not `Authorization: Bearer <key>`, or an unknown key.",
    ErrorBody,
    ("WWW-Authenticate",),
)
_FORBIDDEN = Reply(
    "The key is revoked or expired, or the request names another campaign than the key's.",
    ErrorBody,
)
_RATE_LIMITED = Reply(
    "The key's requests per minute are used up; retry after `Retry-After` seconds.",
    ErrorBody,
    ("Retry-After",),
)
_NO_KEY_STORE = Reply(
    "API keys cannot be checked (the key store is unreachable); retry.",
    ErrorBody,
    ("Retry-After",),
)
_BUDGET_EXHAUSTED = Reply(
    "The campaign's monthly budget cannot cover the query (`error` starts with "
    "`budget_exhausted`; same shape as 200).",
    AnalysisResponded,
)
_BAD_JSON = Reply(
    "The body is not JSON, not sent as JSON, nested too deeply, or holds an "
    "integer that is too long.",
    ErrorBody,
)
_TOO_LARGE = Reply("The body exceeds STRATEGIST_MAX_BODY_BYTES.", ErrorBody)
_INVALID = Reply(
    "A field is invalid; `error.field` names it, `error.details` lists all.", ErrorBody
)
_BLOCKED = Reply(
    "The provider's safety filter refused the query: `error.code` is `content_blocked`, "
    "`error.message` names the model and its reason, `error.analysis_id` the analysis. "
    "Not failed over to another model; rephrase the query.",
    ErrorBody,
)
_INVALID_OR_BLOCKED = Reply(
    f"{_INVALID.description} Or (`error.code` `content_blocked`): {_BLOCKED.description}",
    ErrorBody,
)
_NO_STORE = Reply(
    "The result store (Redis) or the key store is unreachable, or (error code "
    "`spend_unavailable`) the campaign's budget books were, so no paid call was made; retry.",
    ErrorBody,
    ("Retry-After",),
)
_PENDING = Reply(
    "Accepted; the analysis goes on. Poll `status_url`.", PendingBody, _PENDING_HEADERS
)

STRATEGIST = f"{API_PREFIX}/strategist"
OPERATIONS: tuple[Operation, ...] = (
    Operation(
        path=f"{STRATEGIST}/analyze",
        method="post",
        endpoint="strategist_api.analyze",
        summary="Analyse a question and wait for the answer (up to STRATEGIST_SYNC_TIMEOUT_S); "
        "with `Accept: text/event-stream`, the analysis's event stream instead.",
        request_body=AnalysisRequest,
        replies={
            200: Reply("The answer.", AnalysisResponded),
            402: _BUDGET_EXHAUSTED,
            202: Reply(
                "Not answered within the deadline, or every synchronous wait slot "
                "of this process is busy: accepted; poll `status_url`.",
                PendingBody,
                _PENDING_HEADERS,
            ),
            400: _BAD_JSON,
            413: _TOO_LARGE,
            422: _INVALID_OR_BLOCKED,
            502: Reply(
                "No provider could answer (status `failed`, same shape as 200).", AnalysisResponded
            ),
            503: _NO_STORE,
        },
    ),
    Operation(
        path=f"{STRATEGIST}/analyses",
        method="post",
        endpoint="strategist_api.submit_analysis",
        summary="Accept an analysis and return its status URL at once.",
        request_body=AnalysisRequest,
        replies={202: _PENDING, 400: _BAD_JSON, 413: _TOO_LARGE, 422: _INVALID, 503: _NO_STORE},
    ),
    Operation(
        path=f"{STRATEGIST}/analyses/{{analysis_id}}",
        method="get",
        endpoint="strategist_api.get_analysis",
        summary="An analysis: finished (status completed or failed) or still pending.",
        path_parameters=("analysis_id",),
        replies={
            200: Reply(
                "Finished: `status` is completed or failed; `feedback` lists the feedback "
                "received.",
                AnalysisWithFeedback,
            ),
            202: Reply("Still pending.", PendingBody, _PENDING_HEADERS),
            402: _BUDGET_EXHAUSTED,
            422: _BLOCKED,
            404: Reply(
                "Unknown or expired analysis id, or another campaign's analysis.", ErrorBody
            ),
            503: _NO_STORE,
        },
    ),
    Operation(
        path=f"{STRATEGIST}/analyses/{{analysis_id}}/events",
        method="get",
        endpoint="strategist_api.analysis_events",
        summary="The analysis as server-sent events (routing, attempt, delta, restart, "
        "confidence, then done or error; strategist/streams/events.py), its text shown as "
        "`options.stream_mode` says. `Last-Event-ID` resumes after that event. POST /analyze "
        "and POST /analyses answer the same stream to `Accept: text/event-stream`.",
        path_parameters=("analysis_id",),
        replies={
            200: Reply(
                "Server-sent events; every event has an `id:`; the last is done or error.",
                media_type="text/event-stream",
            ),
            400: Reply("`Last-Event-ID` is not an id of this stream.", ErrorBody),
            404: Reply(
                "Unknown or expired analysis id, or another campaign's analysis.", ErrorBody
            ),
            503: _NO_STORE,
        },
    ),
    Operation(
        path=f"{STRATEGIST}/analyses/{{analysis_id}}/feedback",
        method="post",
        endpoint="strategist_api.give_feedback",
        summary="Grade a finished analysis (correct, partially_correct, incorrect).",
        path_parameters=("analysis_id",),
        request_body=FeedbackRequest,
        replies={
            202: Reply(
                "Recorded on the feedback topic; the scorer's historical accuracy of the "
                "model that answered counts it.",
                FeedbackAccepted,
                ("Location",),
            ),
            400: _BAD_JSON,
            404: Reply(
                "Unknown or expired analysis id, or another campaign's analysis.", ErrorBody
            ),
            409: Reply("The analysis has no answer yet.", ErrorBody, ("Retry-After",)),
            413: _TOO_LARGE,
            422: _INVALID,
            503: Reply(
                "The broker, the result store or the key store is unreachable; retry.",
                ErrorBody,
                ("Retry-After",),
            ),
        },
    ),
    Operation(
        path=f"{STRATEGIST}/providers",
        method="get",
        endpoint="strategist_api.providers",
        summary="Latest health of every provider, with its models and prices.",
        replies={
            200: Reply(
                "Providers (state `unknown` before the first report). Raw provider error "
                "texts are shown to admin keys only.",
                ProvidersBody,
            )
        },
    ),
    Operation(
        path=f"{STRATEGIST}/usage",
        method="get",
        endpoint="strategist_api.usage",
        summary="The key's campaign's spend this month and its monthly limit "
        "(admin keys: any campaign with ?campaign=).",
        query_parameters=("campaign",),
        replies={
            200: Reply("Spend, reservations in flight, limit and remaining.", UsageBody),
            503: _NO_STORE,
        },
    ),
    Operation(
        path=OPENAPI_PATH,
        method="get",
        endpoint="openapi.openapi_json",
        summary="This document.",
        replies={200: Reply("The OpenAPI 3.1 document.")},
    ),
)


AUTH_REPLIES: dict[int, Reply] = {
    401: _UNAUTHORIZED,
    403: _FORBIDDEN,
    429: _RATE_LIMITED,
    503: _NO_KEY_STORE,
}
"""What the key check (auth/gate.py) may answer on any operation; an operation's own reply for
a status (a 403 of its own, a 503 of its store) is kept and covers both."""


def _with_auth(replies: dict[int, Reply]) -> dict[int, Reply]:
    return dict(sorted({**AUTH_REPLIES, **replies}.items()))


JsonSchemaMode = Literal["validation", "serialization"]
Refs = dict[tuple[type[BaseModel], JsonSchemaMode], dict[str, Any]]


def _response(reply: Reply, refs: Refs) -> dict[str, Any]:
    response: dict[str, Any] = {"description": reply.description}
    schema = refs[(reply.body, "serialization")] if reply.body else {"type": "object"}
    if reply.media_type == "text/event-stream":  # each event: its id, name and JSON text
        schema = {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "event": {"type": "string", "enum": list(EVENT_NAMES)},
                "data": {"type": "string", "contentMediaType": "application/json"},
            },
            "required": ["data"],
        }
    response["content"] = {reply.media_type: {"schema": schema}}
    if reply.headers:
        response["headers"] = {name: _HEADERS[name] for name in reply.headers}
    return response


def _operation(op: Operation, refs: Refs) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "operationId": op.endpoint.replace(".", "_"),
        "summary": op.summary,
        "responses": {
            str(status): _response(reply, refs) for status, reply in _with_auth(op.replies).items()
        },
    }
    if op.path_parameters:
        doc["parameters"] = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": ANALYSIS_ID.pattern},
            }
            for name in op.path_parameters
        ]
    if op.query_parameters:
        doc.setdefault("parameters", []).extend(
            {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
            for name in op.query_parameters
        )
    if op.request_body is not None:
        doc["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(op.request_body, "validation")]}},
        }
    return doc


def _schemas() -> tuple[Refs, dict[str, Any]]:
    """A `$ref` per (model, mode) and the component schemas they point into."""
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = []
    for op in OPERATIONS:
        if op.request_body is not None:
            models.append((op.request_body, "validation"))
        models.extend(
            (reply.body, "serialization")
            for reply in _with_auth(op.replies).values()
            if reply.body
        )
    refs, definitions = models_json_schema(list(dict.fromkeys(models)), ref_template=REF)
    schemas: dict[str, Any] = definitions.get("$defs", {})
    by_model: Refs = {
        (model, mode): ref for (model, mode), ref in refs.items() if issubclass(model, BaseModel)
    }
    return by_model, dict(sorted(schemas.items()))


@cache
def openapi_document() -> dict[str, Any]:
    """The whole document (built once per process)."""
    refs, schemas = _schemas()
    schemas["QueryOptions"]["properties"]["stream_mode"]["description"] = STREAM_MODE_DESCRIPTION
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Strategist API",
            "version": API_VERSION,
            "description": "Multi-model AI analysis for campaign strategists. Errors are "
            '`{"error": {"code", "message", "field"}}`. Every request needs an API key: '
            "`Authorization: Bearer <key>` (`flask --app strategist keys create CAMPAIGN`).",
        },
        "security": [{SECURITY_SCHEME: []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key of the strategist API (prefix `csk_`).",
                }
            },
        },
    }


@bp.get(OPENAPI_PATH)
def openapi_json() -> Response:
    return jsonify(openapi_document())
