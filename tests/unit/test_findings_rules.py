"""One person's findings judged in Python: the parts the SQL leaves to the engine (the integration test of
the findings scenario checks the whole answer against the SQL, kind by kind)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from pdtrail.queries import QueryResult, findings
from pdtrail.queries import _findings as findings_module
from pdtrail.queries._rights_cases import add_months as _add_months

T0 = dt.datetime(2025, 1, 31, 10, 0, 0, 500_000, tzinfo=dt.UTC)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def test_add_months_clamps_to_the_last_day_as_the_engine_does() -> None:
    assert _add_months(T0, 1) == dt.datetime(2025, 2, 28, 10, 0, 0, 500_000, tzinfo=dt.UTC)
    assert _add_months(T0.replace(year=2024), 1).day == 29  # a leap year
    assert _add_months(T0, 11) == T0.replace(month=12, day=31)
    assert _add_months(T0, 13) == T0.replace(year=2026, month=2, day=28)


class _Pages:
    """A person's rows, served a page at a time as person_rows.sql serves them."""

    def __init__(self, rows: list[tuple[object, ...]]) -> None:
        self.rows = rows
        self.reads: list[tuple[int, int]] = []

    def run(self, name: str, params: dict[str, object]) -> QueryResult:
        assert name == "person_rows"
        limit, offset = int(params["limit"]), int(params["offset"])  # type: ignore[call-overload]
        self.reads.append((limit, offset))
        # From since on, given as seconds since the epoch (the rows are in time order).
        since = int(Decimal(str(params["since"])) * 1_000_000)
        rest = [r for r in self.rows if (r[1] - _EPOCH) // dt.timedelta(microseconds=1) >= since]
        return QueryResult([], [], rest[offset : offset + limit])


def _event(day: int, purpose: str) -> tuple[object, ...]:
    at = T0 + dt.timedelta(days=day)
    return (uuid.uuid4(), at, "personal_data.accessed", purpose, "contract", "a1", "customer_service", [], "", "",
            "", "", "", "")  # fmt: skip


def test_a_long_history_is_read_to_its_end_in_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(findings_module, "PERSON_PAGE", 2)
    rows = [_event(day, "not.in.the.register") for day in range(5)]
    backend = _Pages(rows)
    found = findings(backend, ["k" * 64])
    assert backend.reads == [(2, 0), (2, 1), (2, 1)]  # each page from the last row read, that row skipped
    unregistered = [f for f in found if f.kind == "purpose_not_registered"]
    assert [f.event_id for f in unregistered] == [str(r[0]) for r in rows]  # every page judged, oldest first
    assert all(f.subject_key == "k" * 64 for f in found)


def test_rows_of_one_moment_across_pages_are_each_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(findings_module, "PERSON_PAGE", 2)
    rows = [_event(0, "not.in.the.register"), *(_event(1, "not.in.the.register") for _ in range(4))]
    rows[1:] = sorted(rows[1:], key=lambda r: r[0])  # one moment: in event id order, as the store orders them
    backend = _Pages(rows)
    found = [f.event_id for f in findings(backend, ["k" * 64]) if f.kind == "purpose_not_registered"]
    assert found == [str(r[0]) for r in rows]
    assert backend.reads == [(2, 0), (2, 1), (2, 3)]  # the moment's rows already read are skipped
