"""The classifier's verdict and the ordered route (topic: classified queries)."""

from __future__ import annotations

from pydantic import Field

from schemas.base import EventModel
from schemas.parts import Classification, RouteStep
from schemas.query import QueryRequested


class QueryClassified(EventModel):
    """Published by the classifier; keyed by `query.query_id`."""

    query: QueryRequested
    classification: Classification
    route: list[RouteStep] = Field(min_length=1)
