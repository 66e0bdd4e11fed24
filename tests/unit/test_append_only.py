"""The code never changes or removes a stored event: no UPDATE, DELETE, ALTER, TRUNCATE or DROP on the log."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
CODE_DIRS = ("producers", "consumers", "schemas", "queries", "infra", "integrity", "pdtrail")
WRITE_VERBS = re.compile(
    r"\b(ALTER\s+TABLE|ALTER\s+\w+\s+UPDATE|UPDATE\s+\w+\s+SET|DELETE\s+FROM|ALTER\s+TABLE\s+\S+\s+DELETE|"
    r"TRUNCATE|DROP\s+TABLE|DROP\s+PARTITION|OPTIMIZE\s+TABLE)\b",
    re.IGNORECASE,
)


ADD_COLUMN = re.compile(r"ALTER\s+TABLE\s+\w+\s+ADD\s+COLUMN\s+IF\s+NOT\s+EXISTS\b", re.IGNORECASE)
# The one sanctioned type change (migration 0007): when a row was written, to the millisecond. It is no part of
# an event: outside every leaf (asserted below), so no stored event, checkpoint or proof changes.
MODIFY_INGESTED_AT = re.compile(
    r"ALTER\s+TABLE\s+events\s+MODIFY\s+COLUMN\s+ingested_at\s+DateTime64\(3,\s*'UTC'\)", re.IGNORECASE
)


def test_the_one_column_a_migration_may_retype_is_outside_every_leaf() -> None:
    from pdtrail.integrity._canonical import HASHED_COLUMNS

    assert "ingested_at" not in HASHED_COLUMNS


def _sources() -> list[Path]:
    found = []
    for folder in CODE_DIRS:
        found += [p for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".sql") and "lib" not in p.parts]
    return found


def test_there_is_code_to_scan() -> None:
    assert len(_sources()) > 30


# The one sanctioned removal: whole months, by an administrator, recorded before it happens.
RETENTION = ROOT / "infra" / "_retention.py"


def test_retention_removes_only_whole_months() -> None:
    text = RETENTION.read_text()
    statements = WRITE_VERBS.findall(text)
    assert statements and {" ".join(s.upper().split()) for s in statements} == {"ALTER TABLE"}
    # One statement: every row before the first day of the cutoff month, and nothing else.
    (forget,) = re.findall(r'"(ALTER TABLE[^"]*)"', text)
    assert forget == "ALTER TABLE events DELETE WHERE occurred_at < {cutoff_at:DateTime64(6, 'UTC')}"
    assert '-{month:02d}-01 00:00:00.000000"' in text and "retention_log" in text


# The SDK's spool is a local SQLite queue of events not yet in Kafka, not the log: a row leaves it once Kafka
# confirmed the event. It must not name the log's table.
SPOOL = ROOT / "producers" / "_spool.py"


def test_the_spool_deletes_only_from_its_own_queue() -> None:
    text = SPOOL.read_text()
    assert {" ".join(s.upper().split()) for s in WRITE_VERBS.findall(text)} == {"DELETE FROM"}
    assert "DELETE FROM spooled" in text
    assert not re.search(r"(FROM|INTO|TABLE)\s+events\b", text, re.IGNORECASE)


# Cluster mode rewrites the migrations' own statements (scanned above and below) for a cluster; it runs
# none of its own. What it renders from the shipped migrations still only creates tables and adds columns.
CLUSTER_DDL = ROOT / "infra" / "_cluster_ddl.py"


def test_the_cluster_rendering_of_the_migrations_only_creates_and_adds_columns() -> None:
    from pdtrail.infra import ClusterLayout, migrations, render_migration

    rendered = [s for _, _, sql in migrations() for s in render_migration(sql, ClusterLayout("c", "pdtrail"))]
    assert rendered
    for statement in rendered:
        cluster_add_column = re.sub(r"^ALTER TABLE `\w+`\.`(\w+)` ON CLUSTER `c`", r"ALTER TABLE \1", statement)
        as_one_server = re.sub(r"^ALTER TABLE events_local\b", "ALTER TABLE events", cluster_add_column)
        if MODIFY_INGESTED_AT.fullmatch(as_one_server):
            continue
        assert statement.startswith("CREATE TABLE") or ADD_COLUMN.match(cluster_add_column), statement
        assert not WRITE_VERBS.findall(ADD_COLUMN.sub("", cluster_add_column)), statement


@pytest.mark.parametrize(
    "path",
    [p for p in _sources() if p not in (RETENTION, SPOOL, CLUSTER_DDL)],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_no_statement_changes_or_removes_stored_rows(path: Path) -> None:
    text = path.read_text()
    if path.name == "roles.sql":  # names the privileges it withholds
        text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    if path.parent.name == "migrations":  # a migration may add a column (old rows read its default)
        text = MODIFY_INGESTED_AT.sub("", ADD_COLUMN.sub("", text))
    assert not WRITE_VERBS.findall(text), f"{path.name} changes stored rows"


def test_no_role_may_change_or_remove_rows() -> None:
    grants = [
        line
        for line in (ROOT / "infra" / "clickhouse" / "roles.sql").read_text().splitlines()
        if line.startswith("GRANT")
    ]
    assert len(grants) >= 4
    for grant in grants:
        privileges = {p.strip() for p in grant.removeprefix("GRANT ").split(" ON ")[0].split(",")}
        assert not privileges & {"ALL", "ALTER", "ALTER UPDATE", "ALTER DELETE", "DELETE", "TRUNCATE", "DROP",
                                 "DROP TABLE", "OPTIMIZE"}, grant  # fmt: skip
        if "events" in grant or "checkpoints" in grant:
            assert privileges <= {"INSERT", "SELECT"}, grant
