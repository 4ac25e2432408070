"""Alembic migrations of the recorder's tables: additive only (new tables, new nullable
columns, new indexes). Never drop or alter: the tables are rebuilt from the topics instead
(`audit rebuild`), and a unit test reads every script and refuses drops and alters."""
