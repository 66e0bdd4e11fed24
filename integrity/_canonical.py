"""The canonical form of a stored row: what a leaf hash is computed over.

Every column of ``events`` except ``ingested_at`` (when a row was written is operational; a retried
insert may carry another value). Values are normalised so that the row as the consumer built it and
the row as ClickHouse returns it give the same bytes: times as UTC ``...ffffffZ``, UUIDs as text,
FixedString as text, arrays as lists.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from pdtrail.consumers import COLUMNS
from pdtrail.integrity.verify_proof import leaf_hash

HASHED_COLUMNS = tuple(c for c in COLUMNS if c != "ingested_at")


def _normalise(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    return value


def canonical_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {column: _normalise(row[column]) for column in HASHED_COLUMNS}


def row_leaf(row: Mapping[str, Any]) -> bytes:
    return leaf_hash(canonical_row(row))


def leaf_of_values(values: Sequence[Any]) -> bytes:
    """Leaf of a row given as values in ``COLUMNS`` order (as the consumer inserts it)."""
    return row_leaf(dict(zip(COLUMNS, values, strict=True)))
