"""The recorder: decision records in PostgreSQL, written from the audit topics.

The Kafka log is the system of record; the tables are a queryable copy of it.
`handler.py` turns each event into idempotent upserts (pure) of the statements in
`statements.py` (built once, reused); `worker.py` runs one `EventWorker` per audit
topic, and `group_commit.py` writes the events in flight in shared transactions;
`rebuild.py` drops the tables and replays every topic from the beginning. The tables
and their additive-only Alembic history live in `services/common/` (`tables.py`,
`migrations/`, `database.py`), shared with the app's API keys.
"""
