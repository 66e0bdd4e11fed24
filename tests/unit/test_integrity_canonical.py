"""The canonical form of a stored row: the consumer's values and ClickHouse's answer give the same leaf."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from pdtrail.consumers import COLUMNS, LATER_COLUMNS
from pdtrail.consumers._rows import event_row
from pdtrail.integrity._canonical import HASHED_COLUMNS, canonical_row, leaf_and_time, row_leaf, values_as_row
from pdtrail.integrity.verify_proof import canonical_json, leaf_hash
from pdtrail.schemas import SchemaCatalog
from pdtrail.simulate import simulate_company

from ._factories import pseudonymiser

INGESTED = dt.datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)
TOPIC = "pdtrail.events"


def leaf_of_values(values: list[Any]) -> bytes:
    """The leaf of a row as the consumer inserts it (values in COLUMNS order), the way the recorder computes it."""
    return leaf_and_time(values_as_row(values))[0]


def consumer_values(count: int = 12, seed: int = 5) -> list[list[Any]]:
    """Rows as the consumer inserts them (COLUMNS order), of simulated, pseudonymised events."""
    pseudo, catalog = pseudonymiser(), SchemaCatalog.default()
    rows = []
    for offset, (_, event) in enumerate(simulate_company(3, seed=seed)):
        stored = event.model_copy(update={"subject": pseudo.pseudonymise(event.subject)})  # type: ignore[arg-type]
        rows.append(event_row(stored, catalog.current(stored.avro_name), TOPIC, 1, 100 + offset, INGESTED))
        if len(rows) == count:
            break
    return rows


def as_consumer_builds_it(values: list[Any]) -> list[Any]:
    out = list(values)
    out[COLUMNS.index("data_categories")] = tuple(out[COLUMNS.index("data_categories")])
    return out


def as_clickhouse_returns_it(values: list[Any]) -> dict[str, Any]:
    """Naive datetimes meaning UTC, FixedString as bytes, arrays as lists, a later ingested_at."""
    row = dict(zip(COLUMNS, values, strict=True))
    for column in ("occurred_at", "ingested_at"):
        row[column] = row[column].astimezone(dt.UTC).replace(tzinfo=None)
    row["ingested_at"] += dt.timedelta(minutes=5)
    row["subject_key"] = row["subject_key"].encode()
    row["data_categories"] = list(row["data_categories"])
    row["event_id"] = uuid.UUID(str(row["event_id"]))
    return row


def _changed(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value + dt.timedelta(microseconds=1)
    if isinstance(value, uuid.UUID):
        return uuid.UUID(int=value.int ^ 1)
    if isinstance(value, bool):  # pragma: no cover - no boolean column today
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, bytes):  # a FixedString keeps its length
        return value[:-1] + (b"0" if value[-1:] != b"0" else b"1")
    if isinstance(value, list | tuple):
        return [*value, "extra_category"]
    raise AssertionError(type(value))


@pytest.fixture(scope="module")
def rows() -> list[list[Any]]:
    return consumer_values()


def test_the_simulated_rows_cover_every_column(rows: list[list[Any]]) -> None:
    assert len({row[COLUMNS.index("event_type")] for row in rows}) >= 3
    for column in HASHED_COLUMNS:
        assert any(row[COLUMNS.index(column)] not in ("", None) for row in rows), column


def test_hashed_columns_are_every_column_but_ingested_at() -> None:
    assert set(COLUMNS) - set(HASHED_COLUMNS) == {"ingested_at", *LATER_COLUMNS}
    assert [c for c in COLUMNS if c in HASHED_COLUMNS] == list(HASHED_COLUMNS)  # in table order


def test_the_consumer_and_clickhouse_forms_give_the_same_leaf(rows: list[list[Any]]) -> None:
    for values in rows:
        assert leaf_of_values(as_consumer_builds_it(values)) == row_leaf(as_clickhouse_returns_it(values))
        assert canonical_row(dict(zip(COLUMNS, values, strict=True))) == canonical_row(as_clickhouse_returns_it(values))


def test_the_canonical_form_is_plain_json(rows: list[list[Any]]) -> None:
    canonical = canonical_row(dict(zip(COLUMNS, rows[0], strict=True)))
    assert list(canonical) == list(HASHED_COLUMNS)
    assert json.loads(canonical_json(canonical)) == canonical
    assert isinstance(canonical["event_id"], str) and uuid.UUID(canonical["event_id"]) == rows[0][0]
    assert isinstance(canonical["subject_key"], str) and len(canonical["subject_key"]) == 64
    assert isinstance(canonical["data_categories"], list)
    assert canonical["occurred_at"].endswith("Z") and len(canonical["occurred_at"]) == len(
        "2026-01-01T00:00:00.000000Z"
    )
    assert leaf_of_values(rows[0]) == leaf_hash(canonical)
    assert leaf_and_time(dict(zip(COLUMNS, rows[0], strict=True))) == (leaf_hash(canonical), canonical["occurred_at"])


def test_times_are_utc_with_microseconds() -> None:
    row = dict(zip(COLUMNS, consumer_values(1)[0], strict=True))
    for moment, text in [
        (dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "2026-01-02T03:04:05.000000Z"),
        (dt.datetime(2026, 1, 2, 3, 4, 5, 7), "2026-01-02T03:04:05.000007Z"),
        (
            dt.datetime(2026, 1, 2, 5, 4, 5, 999999, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2026-01-02T03:04:05.999999Z",
        ),
    ]:
        assert canonical_row({**row, "occurred_at": moment})["occurred_at"] == text


@pytest.fixture
def local_time_not_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if not hasattr(time, "tzset"):  # pragma: no cover - Windows
        pytest.skip("no time.tzset")
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_a_naive_time_means_utc_whatever_the_local_zone(local_time_not_utc: None, rows: list[list[Any]]) -> None:
    for values in rows[:3]:
        assert leaf_of_values(values) == row_leaf(as_clickhouse_returns_it(values))


def test_the_same_instant_in_another_zone_gives_the_same_leaf(rows: list[list[Any]]) -> None:
    at = COLUMNS.index("occurred_at")
    for values in rows:
        for hours in (2, -5, 13):
            moved = list(values)
            moved[at] = values[at].astimezone(dt.timezone(dt.timedelta(hours=hours)))
            assert moved[at].hour != values[at].hour
            assert leaf_of_values(moved) == leaf_of_values(values)


def test_ingested_at_does_not_change_the_leaf(rows: list[list[Any]]) -> None:
    at = COLUMNS.index("ingested_at")
    for values in rows:
        later = list(values)
        later[at] = values[at] + dt.timedelta(days=3, microseconds=17)
        assert leaf_of_values(later) == leaf_of_values(values)


@pytest.mark.parametrize("column", LATER_COLUMNS)
def test_a_later_column_counts_only_when_set(column: str, rows: list[list[Any]]) -> None:
    """Rows checkpointed before a column was added read '' there and must keep the leaf they were signed with;
    once set, the column is as protected as any other."""
    at = COLUMNS.index(column)
    for values in rows:
        empty = list(values)
        empty[at] = ""
        without = {c: v for c, v in values_as_row(empty).items() if c != column}
        assert canonical_row({**without, column: ""}) == canonical_row(without | {column: ""})
        assert column not in canonical_row(values_as_row(empty))
        stamped = list(empty)
        stamped[at] = "2026.1+0badc0de"
        assert leaf_of_values(stamped) != leaf_of_values(empty)
        assert canonical_row(values_as_row(stamped))[column] == "2026.1+0badc0de"


@pytest.mark.parametrize("column", HASHED_COLUMNS)
def test_any_other_column_changes_the_leaf(column: str, rows: list[list[Any]]) -> None:
    at = COLUMNS.index(column)
    for values in rows:
        altered = list(values)
        altered[at] = _changed(values[at])
        assert leaf_of_values(altered) != leaf_of_values(values)
        row = as_clickhouse_returns_it(values)
        row[column] = _changed(row[column])
        assert row_leaf(row) != row_leaf(as_clickhouse_returns_it(values))


def test_types_are_not_conflated(rows: list[list[Any]]) -> None:
    row = dict(zip(COLUMNS, rows[0], strict=True))
    assert row_leaf({**row, "kafka_offset": str(row["kafka_offset"])}) != row_leaf(row)
    assert row_leaf({**row, "correlation_id": None}) != row_leaf({**row, "correlation_id": ""})


def test_a_missing_column_is_an_error(rows: list[list[Any]]) -> None:
    row = dict(zip(COLUMNS, rows[0], strict=True))
    del row["purpose"]
    with pytest.raises(KeyError):
        row_leaf(row)
    with pytest.raises(ValueError):
        values_as_row(rows[0][:-1])
