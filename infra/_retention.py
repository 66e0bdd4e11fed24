"""Retention: the log forgets by whole months, never by row.

A retention run removes every row of the months before a cutoff, and records the run in ``retention_log``
first, so ``pdtrail verify`` knows which signed rows were entitled to go. Since migration 0006 the log is one
partition ordered by subject (a lookup reads one range, not one part per month), so the months go by a delete of
their rows, which the engine applies by rewriting the parts that held them: the rows are gone from disk when
it returns. This is the one place pdtrail removes stored rows; on a ClickHouse server it needs a role with the
right to delete (an administrator's, not the writer's or reader's of infra/clickhouse/roles.sql).
"""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

from pdtrail.infra._cluster_ddl import ClusterLayout, render_statement

_MONTHS = """
SELECT toYYYYMM(occurred_at) AS month, count()
FROM events
WHERE occurred_at < {cutoff_at:DateTime64(6, 'UTC')}
GROUP BY month
ORDER BY month
"""

# The engine waits until the rows are gone from every part (mutations_sync = 2), so a run that returns has
# forgotten them; the retention_log row written before says a run was under way if it did not.
_FORGET = "ALTER TABLE events DELETE WHERE occurred_at < {cutoff_at:DateTime64(6, 'UTC')}"


def _cutoff_at(cutoff_month: int) -> str:
    year, month = divmod(int(cutoff_month), 100)
    if not (1970 <= year <= 2200 and 1 <= month <= 12):
        raise ValueError(f"not a month (yyyymm): {cutoff_month}")
    return f"{year:04d}-{month:02d}-01 00:00:00.000000"


def expired_partitions(
    client: Client, cutoff_month: int, cluster: ClusterLayout | None = None
) -> list[tuple[str, int]]:
    """(yyyymm, rows) of every stored month before ``cutoff_month`` (on a cluster, counted through the
    Distributed table: every shard's rows once)."""
    rows = client.query(_MONTHS, parameters={"cutoff_at": _cutoff_at(cutoff_month)}).result_rows
    return [(str(m), int(n)) for m, n in rows]


def apply_retention(client: Client, cutoff_month: int, cluster: ClusterLayout | None = None) -> list[tuple[str, int]]:
    """Forget the months before ``cutoff_month`` (yyyymm); returns what was removed. ``cluster``: from every
    shard's and replica's ``events_local`` (ON CLUSTER)."""
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
    for statement in [_FORGET] if cluster is None else render_statement(_FORGET, cluster):
        client.command(statement, parameters={"cutoff_at": _cutoff_at(cutoff_month)}, settings={"mutations_sync": 2})
    return expired


def retention_cutoff(client: Client) -> int:
    """The highest cutoff month ever applied (0: none)."""
    return int(client.query("SELECT max(cutoff_month) FROM retention_log").result_rows[0][0] or 0)
