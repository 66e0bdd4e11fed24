"""A batch decoded one message at a time, as rows: dropped when stored already, inserted month by month.

ClickHouse writes an insert one partition (month) at a time, so on a table partitioned by month an
insert spanning months is not atomic. One insert per month is: it lands whole or not at all, and its
deduplication token (topic, partition, offset range, month: ``_planner.insert_token``) makes a replay of
the same batch after a crash a no-op for the months that landed. Since migration 0006 ``events`` is not
partitioned: there, a batch is one insert (``ALL_MONTHS``), atomic all the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client

from pdtrail.consumers._decode import Poison
from pdtrail.consumers._planner import insert_token
from pdtrail.integrity._canonical import row_leaves
from pdtrail.store._columns import COLUMNS
from pdtrail.store._consistency import StoreConsistency

__all__ = ["ALL_MONTHS", "RowBatch", "by_month", "insert_token", "stored_ids_parameters", "without_duplicates"]

_OCCURRED = COLUMNS.index("occurred_at")
_EVENT_ID, _SUBJECT_KEY, _OFFSET = (
    COLUMNS.index("event_id"),
    COLUMNS.index("subject_key"),
    COLUMNS.index("kafka_offset"),
)
STORED_IDS_SQL = (Path(__file__).parent / "stored_ids.sql").read_text()
_ONE_SERVER = StoreConsistency()  # one server or the embedded store: no settings beyond the token


# The insert unit of a store whose ``events`` table is not partitioned (migration 0006): one insert holds
# every month of a batch and lands whole, so a batch is one insert, not one per month.
ALL_MONTHS = 0


def in_unit(row: Sequence[Any], month: int) -> bool:
    """Whether ``row`` belongs to the insert of ``month`` (every row, for ALL_MONTHS)."""
    return month == ALL_MONTHS or month_of(row) == month


def month_of(row: Sequence[Any]) -> int:
    moment = row[_OCCURRED]
    return int(moment.year * 100 + moment.month)


def by_month(rows: Sequence[Sequence[Any]]) -> dict[int, list[Sequence[Any]]]:
    """Rows grouped by yyyymm of occurred_at, in order of first appearance; offset order kept inside."""
    months: dict[int, list[Sequence[Any]]] = {}
    for row in rows:
        months.setdefault(month_of(row), []).append(row)
    return months


def stored_ids_parameters(rows: Sequence[Sequence[Any]]) -> dict[str, list[str]]:
    """The parameters of stored_ids.sql for a batch: its subject keys and event ids."""
    return {
        "keys": sorted({str(r[_SUBJECT_KEY]) for r in rows}),
        "ids": sorted({str(r[_EVENT_ID]) for r in rows}),
    }


def without_duplicates(rows: Sequence[Sequence[Any]], stored: set[str]) -> list[Sequence[Any]]:
    """The first row of each event_id that is not in ``stored``, in order."""
    seen: set[str] = set(stored)
    kept = []
    for row in rows:
        event_id = str(row[_EVENT_ID])
        if event_id not in seen:
            seen.add(event_id)
            kept.append(row)
    return kept


@dataclass
class RowBatch:
    """Rows (values in ``COLUMNS`` order, offset order) and the poison of one batch."""

    rows: list[list[Any]] = field(default_factory=list)
    poison: list[Poison] = field(default_factory=list)

    def stored_ids(self, client: Client, consistency: StoreConsistency = _ONE_SERVER) -> set[str]:
        """The event ids of these rows that are stored already."""
        params = stored_ids_parameters(self.rows)
        result = client.query(STORED_IDS_SQL, parameters=params, settings=consistency.read_settings())
        return {r[0] for r in result.result_rows}

    def drop_stored(self, client: Client, consistency: StoreConsistency = _ONE_SERVER) -> int:
        """Keep the first row of each event_id not stored yet; the number dropped."""
        if not self.rows:
            return 0
        stored = self.stored_ids(client, consistency)
        kept = without_duplicates(self.rows, stored)
        dropped = len(self.rows) - len(kept)
        if dropped:
            self.rows = [list(row) for row in kept]
        return dropped

    def months(self) -> dict[int, int]:
        return {month: len(rows) for month, rows in by_month(self.rows).items()}

    def insert(self, client: Client, month: int, token: str, consistency: StoreConsistency = _ONE_SERVER) -> None:
        rows = [row for row in self.rows if in_unit(row, month)]
        if rows:
            client.insert("events", rows, column_names=COLUMNS, settings=consistency.insert_settings(token))

    def leaves(self) -> tuple[list[int], list[bytes], list[str]]:
        """Offsets, leaves and canonical occurred_at of the rows, in offset order."""
        leaves, occurred = row_leaves(self.rows)
        return [int(r[_OFFSET]) for r in self.rows], leaves, occurred

    def close(self) -> None:
        pass
