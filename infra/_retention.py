"""Retention: the log forgets by whole months, never by row.

``events`` is partitioned by month of ``occurred_at``; a retention run drops the partitions of the
months before a cutoff and records the run in ``retention_log`` first, so ``pdtrail verify`` knows
which signed rows were entitled to go. This is the one place pdtrail removes stored rows; on a
ClickHouse server it needs a role with the right to drop partitions (an administrator's, not the
writer's or reader's of infra/clickhouse/roles.sql).
"""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

from pdtrail.infra._cluster_ddl import ClusterLayout, render_statement

_PARTITIONS = """
SELECT partition, sum(rows)
FROM system.parts
WHERE database = currentDatabase() AND table = 'events' AND active AND toUInt32(partition) < {cutoff:UInt32}
GROUP BY partition
ORDER BY partition
"""


# On a cluster the parts are the shards' (events_local); the Distributed table counts the rows of every
# shard once (one replica each), and the partition key prunes the scan to the expired months.
_CLUSTER_PARTITIONS = """
SELECT toString(toYYYYMM(occurred_at)) AS partition, count()
FROM events
WHERE toYYYYMM(occurred_at) < {cutoff:UInt32}
GROUP BY partition
ORDER BY partition
"""


def expired_partitions(
    client: Client, cutoff_month: int, cluster: ClusterLayout | None = None
) -> list[tuple[str, int]]:
    """(yyyymm, rows) of every month before ``cutoff_month``."""
    sql = _PARTITIONS if cluster is None else _CLUSTER_PARTITIONS
    return [(str(p), int(n)) for p, n in client.query(sql, parameters={"cutoff": cutoff_month}).result_rows]


def apply_retention(client: Client, cutoff_month: int, cluster: ClusterLayout | None = None) -> list[tuple[str, int]]:
    """Drop the months before ``cutoff_month`` (yyyymm); returns what was dropped. ``cluster``: drop
    them from every shard's and replica's ``events_local`` (ON CLUSTER)."""
    expired = expired_partitions(client, cutoff_month, cluster)
    if not expired:
        return []
    write = dict(cluster.insert_settings) if cluster else {}
    client.insert(
        "retention_log",
        [[cutoff_month, [p for p, _ in expired], sum(n for _, n in expired)]],
        column_names=["cutoff_month", "partitions", "rows"],
        settings=write or None,
    )
    for partition, _ in expired:
        # A yyyymm integer checked by the query above, never free text.
        drop = f"ALTER TABLE events DROP PARTITION {int(partition)}"
        for statement in [drop] if cluster is None else render_statement(drop, cluster):
            client.command(statement)
    return expired


def retention_cutoff(client: Client) -> int:
    """The highest cutoff month ever applied (0: none)."""
    return int(client.query("SELECT max(cutoff_month) FROM retention_log").result_rows[0][0] or 0)
