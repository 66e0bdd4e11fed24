"""The DPO's open cases: every rights request in the log without a final answer, with its deadline.

GDPR Art. 12(3): a request is answered "without undue delay and in any event within one month of
receipt", extendable "by two further months" — calendar months, not 30 days. A month after 31 January
is the last day of February (28 or 29), never 3 March; the finding ``late_answer`` counts the same way
(ClickHouse's ``addMonths``), so a case the desk calls overdue is the case the findings call late.
An extension counts when it was given within the first month, as the findings judge it.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Any

from pdtrail.queries._lineage import _window
from pdtrail.queries._runner import QueryBackend

OPEN_REQUESTS = "rights_requests_open"
MAX_CASES = 10_000  # open requests one answer lists; a desk with more says so ("truncated")


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """``moment`` plus whole calendar months, the day clamped to the target month's last day."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def deadline(received_at: dt.datetime, extended_at: dt.datetime | None = None) -> dt.datetime:
    """One month after receipt; three when the deadline was extended within that first month."""
    first = add_months(received_at, 1)
    if extended_at is not None and extended_at <= first:
        return add_months(received_at, 3)
    return first


@dataclass(frozen=True)
class RightsCase:
    subject_key: str
    key_version: int
    subject_kind: str
    right: str
    request_id: str
    received_at: dt.datetime
    extended_at: dt.datetime | None
    deadline: dt.datetime
    overdue: bool

    @property
    def days_left(self) -> int:
        """Whole days until the deadline (negative: days past it), as of when the case was listed."""
        return (self.deadline.date() - dt.datetime.now(dt.UTC).date()).days

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject_key": self.subject_key, "key_version": self.key_version, "subject_kind": self.subject_kind,
            "right": self.right, "request_id": self.request_id, "received_at": self.received_at.isoformat(),
            "extended": self.extended_at is not None,
            "extended_at": self.extended_at.isoformat() if self.extended_at else None,
            "deadline": self.deadline.isoformat(), "overdue": self.overdue,
            "status": "overdue" if self.overdue else ("extended" if self.extended_at else "open"),
        }  # fmt: skip


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def order_cases(cases: list[RightsCase]) -> list[RightsCase]:
    """Overdue first, then by deadline (the nearest first), then by receipt."""
    return sorted(cases, key=lambda c: (not c.overdue, c.deadline, c.received_at, c.request_id))


def open_cases(backend: QueryBackend, *, now: dt.datetime | None = None) -> tuple[list[RightsCase], bool]:
    """Every open rights request of the log, overdue first; and whether the list was cut at MAX_CASES."""
    at = now or dt.datetime.now(dt.UTC)
    rows = backend.run(OPEN_REQUESTS, _window(None, None, MAX_CASES + 1, 0)).as_dicts()
    cases = []
    for row in rows[:MAX_CASES]:
        key = row["subject_key"]
        received = _utc(row["received_at"])
        extended = _utc(row["extended_at"]) if row.get("extended") else None
        due = deadline(received, extended)
        subject_key = key.decode() if isinstance(key, bytes) else str(key)
        kind, right, request_id = str(row["subject_kind"]), str(row["gdpr_right"]), str(row["request_id"])
        version = int(row["key_version"])
        cases.append(RightsCase(subject_key, version, kind, right, request_id, received, extended, due, due < at))
    return order_cases(cases), len(rows) > MAX_CASES


def counts(cases: list[RightsCase]) -> dict[str, Any]:
    per_right: dict[str, int] = {}
    for case in cases:
        per_right[case.right] = per_right.get(case.right, 0) + 1
    return {
        "open": len(cases),
        "overdue": sum(c.overdue for c in cases),
        "extended": sum(c.extended_at is not None for c in cases),
        "per_right": dict(sorted(per_right.items())),
    }
