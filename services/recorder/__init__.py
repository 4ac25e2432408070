"""The recorder: decision records in PostgreSQL, written from the audit topics.

The Kafka log is the system of record; the tables are a queryable copy of it.
`handler.py` turns each event into idempotent upserts (pure), `worker.py` runs one
`EventWorker` per audit topic, `rebuild.py` drops the tables and replays every topic
from the beginning, and `migrations/` holds the additive-only Alembic history.
"""
