"""Art. 12(3) deadlines are calendar months: month ends clamp, leap years count, an extension is three months."""

from __future__ import annotations

import datetime as dt

import pytest

from pdtrail.queries import RightsCase, add_months, counts, deadline
from pdtrail.queries._report_accesses import is_audit_log_lookup, lookup_summary, set_dpo_lookups_apart
from pdtrail.queries._rights_cases import order_cases

UTC = dt.UTC


def at(y: int, m: int, d: int, h: int = 10) -> dt.datetime:
    return dt.datetime(y, m, d, h, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (at(2026, 1, 15), at(2026, 2, 15)),
        (at(2026, 1, 31), at(2026, 2, 28)),  # not 3 March: February has 28 days in 2026
        (at(2028, 1, 31), at(2028, 2, 29)),  # a leap year
        (at(2026, 3, 31), at(2026, 4, 30)),
        (at(2026, 12, 15), at(2027, 1, 15)),  # across the year
        (at(2026, 2, 28), at(2026, 3, 28)),  # not 30 days (30 March)
    ],
)
def test_one_calendar_month_after_receipt(received: dt.datetime, due: dt.datetime) -> None:
    assert deadline(received) == due


def test_an_extension_within_the_first_month_gives_three_months() -> None:
    received = at(2026, 11, 30)
    assert deadline(received, at(2026, 12, 10)) == at(2027, 2, 28)
    assert deadline(at(2027, 11, 30), at(2027, 12, 1)) == at(2028, 2, 29)  # leap year at the far end


def test_an_extension_after_the_deadline_does_not_move_it() -> None:
    received = at(2026, 1, 10)
    assert deadline(received, at(2026, 2, 11)) == at(2026, 2, 10)
    assert deadline(received, at(2026, 2, 10)) == at(2026, 4, 10)  # on the deadline itself: still in time


def test_add_months_keeps_the_time_of_day_and_clamps_the_day() -> None:
    assert add_months(dt.datetime(2024, 8, 31, 23, 59, 59, 999999, tzinfo=UTC), 6) == dt.datetime(
        2025, 2, 28, 23, 59, 59, 999999, tzinfo=UTC
    )
    assert add_months(at(2026, 5, 31), -3) == at(2026, 2, 28)


def _case(request_id: str, received: dt.datetime, now: dt.datetime, extended: dt.datetime | None = None) -> RightsCase:
    due = deadline(received, extended)
    return RightsCase("ab" * 32, 1, "personnummer", "access", request_id, received, extended, due, due < now)


def test_overdue_cases_come_first_then_by_deadline() -> None:
    now = at(2026, 6, 1)
    listed = order_cases(
        [
            _case("due-later", at(2026, 5, 20), now),
            _case("overdue-recent", at(2026, 4, 25), now),  # due 25 May
            _case("due-soon", at(2026, 5, 2), now),  # due 2 June
            _case("overdue-old", at(2026, 3, 1), now),  # due 1 April
            _case("extended", at(2026, 3, 15), now, at(2026, 3, 20)),  # due 15 June: not overdue
        ]
    )
    assert [c.request_id for c in listed] == ["overdue-old", "overdue-recent", "due-soon", "extended", "due-later"]
    assert counts(listed) == {"open": 5, "overdue": 2, "extended": 1, "per_right": {"access": 5}}
    assert listed[0].as_dict()["status"] == "overdue" and listed[3].as_dict()["status"] == "extended"


def _access(purpose: str, categories: list[str], resource: str, when: str) -> dict[str, object]:
    return {
        "event_type": "personal_data.accessed", "occurred_at": when, "purpose": purpose,
        "data_categories": categories, "resource": resource, "actor_id": "someone",
    }  # fmt: skip


def test_the_access_report_summarises_the_dpos_lookups_and_names_no_investigation() -> None:
    business = _access("customer_service", ["contact_details"], "customer-record", "2026-01-02T00:00:00+00:00")
    investigation = _access(
        "dpo.investigation", ["audit_log"], "audit_log/actor_activity/emp-7", "2026-01-03T00:00:00+00:00"
    )
    lookups = [
        _access("dpo.access_request", ["audit_log"], "audit_log/timeline", f"2026-01-0{d}T00:00:00+00:00")
        for d in (4, 5)
    ]
    report = {"accesses": [business, investigation, *lookups], "events": [business, investigation, *lookups]}
    set_dpo_lookups_apart(report)
    assert report["accesses"] == [business] and report["events"] == [business]
    assert "emp-7" not in repr(report)
    assert report["dpo_lookups"] == [
        {"purpose": "dpo.investigation", "times": 1, "first_at": investigation["occurred_at"],
         "last_at": investigation["occurred_at"]},
        {"purpose": "dpo.access_request", "times": 2, "first_at": lookups[0]["occurred_at"],
         "last_at": lookups[1]["occurred_at"]},
    ]  # fmt: skip
    assert not is_audit_log_lookup(_access("dpo.access_request", ["contact_details"], "x", "t"))
    assert lookup_summary([business]) == []
