"""ClickHouse DDL as numbered ``.sql`` migrations, applied once each and recorded.

With a :class:`~pdtrail.infra._cluster_ddl.ClusterLayout` (``store.cluster``), every statement is
rendered for the cluster first (replicated tables and a Distributed table, ``ON CLUSTER``); the files
themselves are written for one server only.
"""

from __future__ import annotations

from pathlib import Path

from clickhouse_connect.driver.client import Client

from pdtrail.infra._cluster_ddl import ClusterLayout, create_database, render_migration, split_statements

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


def apply_migrations(client: Client, cluster: ClusterLayout | None = None, *, until: int | None = None) -> list[str]:
    """Apply the migrations the database has not seen (up to version ``until``, default all); returns their
    names. Safe to run again.

    ``cluster``: render every statement for that cluster (see infra/_cluster_ddl.py); None for one
    server or the embedded store.
    """

    def statements(sql: str) -> list[str]:
        return split_statements(sql) if cluster is None else render_migration(sql, cluster)

    # One server needs no settings; a cluster reads the ledger back from a replica that has every write.
    write = dict(cluster.insert_settings) if cluster else {}
    read = dict(cluster.read_settings) if cluster else {}
    # On a cluster the ledger DDL is a distributed DDL task on every node: not run by every process start.
    if cluster is None or str(client.command("EXISTS TABLE schema_migrations")).strip() != "1":
        first = [create_database(cluster)] if cluster else []
        for statement in first + statements(_LEDGER):
            client.command(statement, settings=write or None)
    rows = client.query("SELECT version FROM schema_migrations", settings=read or None).result_rows
    applied = {row[0] for row in rows}
    done = []
    for version, name, sql in migrations():
        if version in applied or (until is not None and version > until):
            continue
        for statement in statements(sql):
            client.command(statement, settings=write or None)
        client.insert("schema_migrations", [[version, name]], column_names=["version", "name"], settings=write or None)
        done.append(name)
    return done
