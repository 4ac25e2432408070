"""The recorder's migrations are additive only: no script drops, alters or renames.

The tables are a copy of the topics; a destructive change would lose what a rebuild
cannot bring back the same way (and break readers of the old columns). This test reads
the `upgrade()` of every migration script and refuses any operation that is not an
addition; the checker itself is tested on a migration that drops a column.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from services.common.database import MIGRATIONS_DIR

VERSIONS = MIGRATIONS_DIR / "versions"
ADDITIVE_OPS = frozenset({"create_table", "add_column", "create_index", "create_foreign_key",
                          "create_unique_constraint", "create_check_constraint",
                          "create_primary_key", "create_table_comment", "f", "inline_literal"})
"""`op.*` calls an upgrade may make; anything else (drop_*, alter_column, rename_table,
batch_alter_table, execute of non-literal SQL, ...) is refused."""
DESTRUCTIVE_SQL = re.compile(r"\b(DROP|ALTER|RENAME|TRUNCATE|DELETE|UPDATE)\b", re.IGNORECASE)


def destructive_operations(source: str) -> list[str]:
    """What in this migration's `upgrade()` is not purely additive (empty when fine)."""
    tree = ast.parse(source)
    upgrades = [node for node in tree.body
                if isinstance(node, ast.FunctionDef) and node.name == "upgrade"]
    if not upgrades:
        return ["no upgrade() function"]
    found = []
    for node in ast.walk(upgrades[0]):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "op"):
            continue
        name = node.func.attr
        if name == "execute":
            literal = node.args[0] if node.args else None
            if not (isinstance(literal, ast.Constant) and isinstance(literal.value, str)):
                found.append(f"line {node.lineno}: op.execute of SQL that cannot be checked")
            elif DESTRUCTIVE_SQL.search(literal.value):
                found.append(f"line {node.lineno}: op.execute({literal.value!r})")
        elif name not in ADDITIVE_OPS:
            found.append(f"line {node.lineno}: op.{name}")
    return found


def migration_scripts() -> list[Path]:
    return sorted(VERSIONS.glob("*.py"))


def test_there_are_migrations_to_check() -> None:
    assert migration_scripts(), f"no migration scripts in {VERSIONS}"


@pytest.mark.parametrize("script", migration_scripts(), ids=lambda p: p.name)
def test_every_migration_only_adds(script: Path) -> None:
    assert destructive_operations(script.read_text()) == []


@pytest.mark.parametrize("body", [
    'op.drop_column("analyses", "query")',
    'op.drop_table("feedback")',
    'op.alter_column("analyses", "status", type_=sa.String(8))',
    'op.rename_table("feedback", "grades")',
    'op.execute("ALTER TABLE analyses DROP COLUMN query")',
    'op.execute(sql)',
    'with op.batch_alter_table("analyses") as batch:\n        batch.drop_column("query")',
])
def test_the_check_refuses_a_migration_that_drops_or_alters(body: str) -> None:
    source = f"import sqlalchemy as sa\nfrom alembic import op\n\n\ndef upgrade() -> None:\n" \
             f"    {body}\n"
    assert destructive_operations(source), body


def test_the_check_accepts_additions() -> None:
    source = ('from alembic import op\nimport sqlalchemy as sa\n\n\ndef upgrade() -> None:\n'
              '    op.add_column("analyses", sa.Column("tier", sa.String(32), nullable=True))\n'
              '    op.create_index("ix_tier", "analyses", ["tier"])\n\n\n'
              'def downgrade() -> None:\n    op.drop_column("analyses", "tier")\n')
    assert destructive_operations(source) == []


def test_the_revisions_form_one_line() -> None:
    """One head, each script revising the one before: no branches to merge."""
    revisions: dict[str, str | None] = {}
    for script in migration_scripts():
        values = {}
        for node in ast.parse(script.read_text()).body:
            if not isinstance(node, ast.Assign):
                continue
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in {"revision", "down_revision"}:
                values[target.id] = ast.literal_eval(node.value)
        revisions[values["revision"]] = values["down_revision"]
    parents = list(revisions.values())
    assert parents.count(None) == 1, "more than one first migration"
    assert len(set(parents)) == len(parents), "two migrations revise the same one (a branch)"
    assert all(p is None or p in revisions for p in parents), "a migration revises a missing one"
