"""API keys of the strategist app (hashes only).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 15:20:00

Additive only. The table is not a copy of the topics, so a rebuild (which drops the
recorder's tables and the migration record, then migrates from scratch) leaves it in
place: hence `IF NOT EXISTS`, so migrating again over a kept table is a no-op.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS api_keys (
            key_id VARCHAR(64) NOT NULL,
            key_hash VARCHAR(64) NOT NULL,
            campaign_id VARCHAR(128) NOT NULL,
            role VARCHAR(16) NOT NULL,
            rate_per_minute INTEGER,
            created_at TIMESTAMP WITH TIME ZONE NOT NULL,
            expires_at TIMESTAMP WITH TIME ZONE,
            revoked_at TIMESTAMP WITH TIME ZONE,
            last_used_at TIMESTAMP WITH TIME ZONE,
            CONSTRAINT api_keys_pkey PRIMARY KEY (key_id),
            CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash)
        )
        """
    )
    op.execute("CREATE INDEX IF NOT EXISTS ix_api_keys_campaign_id ON api_keys (campaign_id)")


def downgrade() -> None:
    raise NotImplementedError("additive migrations are not undone; rebuild from the topics")
