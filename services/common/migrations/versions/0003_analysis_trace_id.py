"""The trace of each analysis: `analyses.trace_id`.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 19:00:00

Additive only. The W3C trace id (32 hex digits) in the `traceparent` header of the
analysis's query event, so the console can name (and link) the analysis's trace; null
when the app published the query without a trace (tracing off). A rebuild fills it from
the same headers.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("analyses", sa.Column("trace_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("additive migrations are not undone; rebuild from the topics")
