"""The canonical form of a stored row: what a leaf hash is computed over, in Python and in the engine.

Every column of ``events`` except ``ingested_at`` (when a row was written is operational; a retried
insert may carry another value); columns added by later migrations count only when set. Values are
the logical ones, whatever the physical column type: times as UTC ``...ffffffZ``, UUIDs as text, the
subject key as its 64 hex characters, arrays as lists. The leaf is SHA-256 over ``0x00`` and the
canonical JSON of that mapping (sorted keys, no spaces, UTF-8): leaf format 1, the one
``verify_proof.py`` recomputes offline.

The engine computes the same bytes with ``LEAF_SQL`` for every row whose text needs no JSON escaping
(``JSON_PLAIN_SQL``: no quote, backslash or control character); the few others are hashed in Python.
``LOGICAL_SQL`` is the one place that reads a column's logical value from its physical type: a change
of column type (say, the subject key as 32 binary bytes) is an edit of one expression there.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from pdtrail.integrity.verify_proof import leaf_hash
from pdtrail.store._columns import COLUMNS, INTEGER_COLUMNS, LATER_COLUMNS

HASHED_COLUMNS = tuple(c for c in COLUMNS if c != "ingested_at" and c not in LATER_COLUMNS)
LEAF_FORMAT = 1

# The logical value of each column, read from its physical type. Text, integers and the array read as
# they are stored; these do not.
LOGICAL_SQL: dict[str, str] = {c: f"`{c}`" for c in COLUMNS} | {
    "event_id": "toString(event_id)",
    "subject_key": "toString(subject_key)",
    "occurred_at": "formatDateTime(occurred_at, '%Y-%m-%dT%H:%i:%S.%fZ', 'UTC')",
    "ingested_at": "ingested_at",
}
# What the reads of whole rows select (integrity/_sql.py): every column by its logical value.
ROW_SELECT_SQL = ",\n       ".join(
    e if e == f"`{c}`" or c == "ingested_at" else f"{e} AS {c}" for c, e in LOGICAL_SQL.items()
)


def _fragment(column: str) -> str:
    """The arguments of concat() that give ``,"column":value``; a later column gives nothing when unset."""
    value = LOGICAL_SQL[column]
    if column in INTEGER_COLUMNS:
        text = f"',\"{column}\":', toString({value})"
    elif column == "data_categories":
        text = f"',\"{column}\":[', arrayStringConcat(arrayMap(x -> concat('\"', x, '\"'), {value}), ','), ']'"
    else:
        text = f"',\"{column}\":\"', {value}, '\"'"
    return f"if({value} = '', '', concat({text}))" if column in LATER_COLUMNS else text


_TEXT_COLUMNS = [c for c in (*HASHED_COLUMNS, *LATER_COLUMNS) if c not in INTEGER_COLUMNS and c != "data_categories"]
# A UUID's text and a formatted time are hex, digits and punctuation: never a character JSON escapes.
_NEVER_ESCAPED = {"event_id", "occurred_at"}
# The characters JSON escapes, as an RE2 class.
JSON_ESCAPED_SQL = "'[\\\\x00-\\\\x1f\"\\\\\\\\]'"
# True where no value needs escaping in JSON, so that plain concatenation is the canonical JSON. One
# character class, so a match in any column is a match in their concatenation; tested per column because
# the engine then judges a LowCardinality column once per distinct value, not once per row (2.3x cheaper).
JSON_PLAIN_SQL = (
    "NOT ("
    + " OR ".join(f"match({LOGICAL_SQL[c]}, {JSON_ESCAPED_SQL})" for c in _TEXT_COLUMNS if c not in _NEVER_ESCAPED)
    + f" OR arrayExists(x -> match(x, {JSON_ESCAPED_SQL}), data_categories))"
)
# The leaf of a row, as 32 raw bytes, computed by the engine (valid where JSON_PLAIN_SQL holds). One
# concat of every field with a leading comma, the first comma cut: no array of fields to build and filter
# per row (20 % cheaper than arrayFilter over the fields).
LEAF_SQL = (
    "SHA256(concat(char(0), '{', substring(concat("
    + ", ".join(_fragment(c) for c in sorted((*HASHED_COLUMNS, *LATER_COLUMNS)))
    + "), 2), '}'))"
)


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


def row_leaves(rows: Sequence[Sequence[Any]]) -> tuple[list[bytes], list[str]]:
    """The leaves and canonical occurred_at of rows given as values in ``COLUMNS`` order."""
    leaves, occurred = [], []
    for values in rows:
        leaf, moment = leaf_and_time(values_as_row(values))
        leaves.append(leaf)
        occurred.append(moment)
    return leaves, occurred
