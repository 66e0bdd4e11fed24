"""How a batch of one Kafka partition reaches ClickHouse: one insert per month, each with its own token.

ClickHouse writes an insert one partition (month) at a time, so an insert spanning months is not
atomic. One insert per month is: it lands whole or not at all, and its deduplication token
(topic, partition, offset range, month) makes a replay of the same batch after a crash a no-op for
the months that landed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pdtrail.consumers._rows import COLUMNS

_OCCURRED = COLUMNS.index("occurred_at")


def by_month(rows: Sequence[Sequence[Any]]) -> dict[int, list[Sequence[Any]]]:
    """Rows grouped by yyyymm of occurred_at, in order of first appearance; offset order kept inside."""
    months: dict[int, list[Sequence[Any]]] = {}
    for row in rows:
        moment = row[_OCCURRED]
        months.setdefault(moment.year * 100 + moment.month, []).append(row)
    return months


def insert_token(topic: str, partition: int, first_offset: int, last_offset: int, month: int) -> str:
    return f"{topic}/{partition}/{first_offset}-{last_offset}/{month}"


_EVENT_ID, _SUBJECT_KEY = COLUMNS.index("event_id"), COLUMNS.index("subject_key")


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
