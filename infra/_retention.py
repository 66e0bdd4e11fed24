"""Retention: the log forgets by whole months, never by row.

``events`` is partitioned by month of ``occurred_at``; a retention run drops the partitions of the
months before a cutoff and records the run in ``retention_log`` first, so ``pdtrail verify`` knows
which signed rows were entitled to go. This is the one place pdtrail removes stored rows; on a
ClickHouse server it needs a role with the right to drop partitions (an administrator's, not the
writer's or reader's of infra/clickhouse/roles.sql).
"""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

_PARTITIONS = """
SELECT partition, sum(rows)
FROM system.parts
WHERE database = currentDatabase() AND table = 'events' AND active AND toUInt32(partition) < {cutoff:UInt32}
GROUP BY partition
ORDER BY partition
"""


def expired_partitions(client: Client, cutoff_month: int) -> list[tuple[str, int]]:
    """(yyyymm, rows) of every month before ``cutoff_month``."""
    return [(str(p), int(n)) for p, n in client.query(_PARTITIONS, parameters={"cutoff": cutoff_month}).result_rows]


def apply_retention(client: Client, cutoff_month: int) -> list[tuple[str, int]]:
    """Drop the months before ``cutoff_month`` (yyyymm); returns what was dropped."""
    expired = expired_partitions(client, cutoff_month)
    if not expired:
        return []
    client.insert(
        "retention_log",
        [[cutoff_month, [p for p, _ in expired], sum(n for _, n in expired)]],
        column_names=["cutoff_month", "partitions", "rows"],
    )
    for partition, _ in expired:
        # A yyyymm integer checked by the query above, never free text.
        client.command(f"ALTER TABLE events DROP PARTITION {int(partition)}")
    return expired


def retention_cutoff(client: Client) -> int:
    """The highest cutoff month ever applied (0: none)."""
    return int(client.query("SELECT max(cutoff_month) FROM retention_log").result_rows[0][0] or 0)
