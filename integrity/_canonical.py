"""The canonical form of a stored row: what a leaf hash is computed over.

Every column of ``events`` except ``ingested_at`` (when a row was written is operational; a retried
insert may carry another value); columns added by later migrations count only when set. Values are
normalised so that the row as the consumer built it and the row as ClickHouse returns it give the same
bytes: times as UTC ``...ffffffZ``, UUIDs as text, FixedString as text, arrays as lists.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from pdtrail.consumers import COLUMNS, LATER_COLUMNS
from pdtrail.integrity.verify_proof import leaf_hash

HASHED_COLUMNS = tuple(c for c in COLUMNS if c != "ingested_at" and c not in LATER_COLUMNS)


def _normalise(value: Any) -> Any:
    kind = type(value)
    if kind is str or kind is int:  # most columns: nothing to do, and this runs for every column of every row
        return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        # isoformat with fixed microseconds: the same text as strftime("%Y-%m-%dT%H:%M:%S.%fZ"), 10x cheaper.
        return value.isoformat(timespec="microseconds") + "Z"
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    return value


_PLAIN = (str, int)


def canonical_row(row: Mapping[str, Any]) -> dict[str, Any]:
    # Most columns are plain text or numbers; the type test inline saves a call per column per row.
    canonical = {}
    for column in HASHED_COLUMNS:
        value = row[column]
        canonical[column] = value if type(value) in _PLAIN else _normalise(value)
    # Columns added after rows were first checkpointed count only when set, so that the leaves of older
    # rows (which read back '' there) stay what their checkpoints signed.
    for column in LATER_COLUMNS:
        if row.get(column):
            canonical[column] = row[column]
    return canonical


def row_leaf(row: Mapping[str, Any]) -> bytes:
    return leaf_hash(canonical_row(row))


def leaf_and_time(row: Mapping[str, Any]) -> tuple[bytes, str]:
    """The leaf of a row and its canonical occurred_at, from one canonicalisation."""
    canonical = canonical_row(row)
    return leaf_hash(canonical), canonical["occurred_at"]


def values_as_row(values: Sequence[Any]) -> dict[str, Any]:
    """A row given as values in ``COLUMNS`` order (as the consumer inserts it)."""
    return dict(zip(COLUMNS, values, strict=True))
