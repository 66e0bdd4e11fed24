"""ClickHouse DDL as numbered ``.sql`` migrations, applied once each and recorded."""

from __future__ import annotations

from pathlib import Path

from clickhouse_connect.driver.client import Client

MIGRATIONS_DIR = Path(__file__).parent / "clickhouse" / "migrations"

_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations
(
    version    UInt32,
    name       String,
    applied_at DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = MergeTree ORDER BY version
"""


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every shipped migration, in order."""
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        version = int(path.name.split("_", 1)[0])
        found.append((version, path.stem, path.read_text()))
    return found


def apply_migrations(client: Client, *, until: int | None = None) -> list[str]:
    """Apply the migrations the database has not seen (up to version ``until``, default all); returns their
    names. Safe to run again."""
    client.command(_LEDGER)
    applied = {row[0] for row in client.query("SELECT version FROM schema_migrations").result_rows}
    done = []
    for version, name, sql in migrations():
        if version in applied or (until is not None and version > until):
            continue
        # Comments go first: a semicolon in prose must not split a statement.
        code = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
        for statement in (s.strip() for s in code.split(";")):
            if statement:
                client.command(statement)
        client.insert("schema_migrations", [[version, name]], column_names=["version", "name"])
        done.append(name)
    return done
