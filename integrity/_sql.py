"""The SQL files beside this module, and running them."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client

from pdtrail.integrity._canonical import JSON_PLAIN_SQL, LEAF_SQL, ROW_SELECT_SQL, row_leaf
from pdtrail.integrity._checkpoint import Checkpoint

_RANGE = """FROM events
WHERE kafka_topic = {topic:String} AND kafka_partition = {partition:UInt16}
  AND kafka_offset >= {first:UInt64} AND kafka_offset <= {last:UInt64}"""
# The leaf of every row of an offset range, computed by the engine where its text needs no escaping.
LEAVES_SQL = f"""SELECT kafka_offset, toString(event_id), formatDateTime(occurred_at, '%Y-%m-%dT%H:%i:%S.%fZ', 'UTC'),
       if({JSON_PLAIN_SQL}, {LEAF_SQL}, '') AS leaf
{_RANGE}
ORDER BY kafka_offset"""
# What verify reads of every row: its offset and its leaf, nothing else (the event ids of rows it names in a
# finding are read again, with LEAVES_SQL, on the rare path that finds something).
OFFSET_LEAVES_SQL = f"""SELECT kafka_offset, if({JSON_PLAIN_SQL}, {LEAF_SQL}, '') AS leaf
{_RANGE}
ORDER BY kafka_offset"""
COUNT_SQL = f"SELECT count()\n{_RANGE}"
# One stored event by id, by its logical values (the table is ordered by subject, so this scans).
FIND_EVENT_SQL = f"SELECT {ROW_SELECT_SQL}\nFROM events\nWHERE events.event_id = {{event_id:UUID}}\nLIMIT 2"
ROWS_SQL = f"SELECT {ROW_SELECT_SQL}\n{_RANGE} AND kafka_offset IN {{offsets:Array(UInt64)}}\nORDER BY kafka_offset"


@cache
def sql(name: str) -> str:
    return (Path(__file__).parent / f"{name}.sql").read_text()


def rows(client: Client, name: str, read: dict[str, Any] | None = None, **params: Any) -> list[dict[str, Any]]:
    """The rows of query ``name``; ``read``: the settings of the read (a cluster's sequential consistency)."""
    result = client.query(sql(name), parameters=params, settings=read)
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def leaves(
    client: Client, topic: str, partition: int, first: int, last: int, read: dict[str, Any] | None = None
) -> list[tuple[int, bytes, str, str]]:
    """(offset, leaf, canonical occurred_at, event id) of the stored rows of an offset range, in offset order."""
    params = {"topic": topic, "partition": partition, "first": first, "last": last}
    result = client.query(LEAVES_SQL, parameters=params, column_formats={"leaf": "bytes"}, settings=read)
    found = [(int(o), _raw(leaf), occurred, event_id) for o, event_id, occurred, leaf in result.result_rows]
    escaped = [offset for offset, leaf, _, _ in found if not leaf]
    if escaped:  # text that JSON escapes: hashed in Python, the reference form
        rows = rows_at(client, topic, partition, first, last, escaped)
        by_id = {(int(r["kafka_offset"]), str(r["event_id"])): row_leaf(r) for r in rows}
        found = [(o, leaf or by_id[(o, event_id)], occurred, event_id) for o, leaf, occurred, event_id in found]
    return found


def offset_leaves(client: Client, topic: str, partition: int, first: int, last: int) -> list[tuple[int, bytes]]:
    """(offset, leaf) of the stored rows of an offset range, in offset order (two rows may share an offset)."""
    params = {"topic": topic, "partition": partition, "first": first, "last": last}
    result = client.query(OFFSET_LEAVES_SQL, parameters=params, column_formats={"leaf": "bytes"})
    # By column: the offsets come as ints and the leaves as bytes already (one zip, not a call per row).
    offsets, leaves = result.result_columns or ([], [])
    found = list(zip(offsets, leaves, strict=True))
    escaped = sorted({offset for offset, leaf in found if not leaf})
    if not escaped:
        return found
    # Text that JSON escapes: every row at those offsets hashed in Python, the reference form.
    hashed = [(int(r["kafka_offset"]), row_leaf(r)) for r in rows_at(client, topic, partition, first, last, escaped)]
    kept = set(escaped)
    return sorted([row for row in found if row[0] not in kept] + hashed, key=lambda row: row[0])


def count(client: Client, topic: str, partition: int, first: int, last: int) -> int:
    params = {"topic": topic, "partition": partition, "first": first, "last": last}
    return int(client.query(COUNT_SQL, parameters=params).result_rows[0][0])


def find_event(client: Client, event_id: str) -> list[dict[str, Any]]:
    result = client.query(FIND_EVENT_SQL, parameters={"event_id": event_id})
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def rows_at(
    client: Client, topic: str, partition: int, first: int, last: int, offsets: list[int]
) -> list[dict[str, Any]]:
    """Whole rows (logical values) of an offset range at these offsets."""
    params = {"topic": topic, "partition": partition, "first": first, "last": last, "offsets": offsets}
    result = client.query(ROWS_SQL, parameters=params)
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def _raw(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode("latin-1")


def checkpoints(
    client: Client, name: str = "checkpoints", read: dict[str, Any] | None = None, **params: Any
) -> Iterator[Checkpoint]:
    for row in rows(client, name, read, **params):
        row["root"], row["signature"] = str(row["root"]), str(row["signature"])
        yield Checkpoint.from_dict(row)
