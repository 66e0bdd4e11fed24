"""Retention status per purpose and category: the log's dates against the processing register's periods."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pdtrail.errors import PdtrailError
from pdtrail.queries._runner import QueryResult
from pdtrail.schemas import ProcessingRegister, RetentionPeriod, load_register

logger = logging.getLogger("pdtrail.queries")
_NEVER = dt.datetime(1971, 1, 1, tzinfo=dt.UTC)  # the store's "no such row" for minIf/maxIf is the epoch

COLUMNS = ["purpose", "category", "first_processed", "last_processed", "retention_days", "due_at", "status",
           "ended_at", "ended_by", "retention"]  # fmt: skip
TYPES = ["String", "String", "DateTime64(6, 'UTC')", "DateTime64(6, 'UTC')", "Nullable(Int64)",
         "Nullable(DateTime64(6, 'UTC'))", "String", "Nullable(DateTime64(6, 'UTC'))", "String", "String"]  # fmt: skip


@dataclass(frozen=True)
class RetentionRules:
    """How long each purpose keeps data, from the processing register (GDPR Art. 30).

    ``period_for`` is None when no register could be loaded: every status is then ``unknown`` and
    ``note`` says why."""

    period_for: Callable[[str], dt.timedelta | RetentionPeriod | None] | None
    version: str = ""
    note: str = ""
    register: ProcessingRegister | None = None

    @classmethod
    def from_mapping(cls, periods: Mapping[str, dt.timedelta], version: str = "") -> RetentionRules:
        return cls(periods.get, version)

    @classmethod
    def from_register(cls, path: Path | str | None = None) -> RetentionRules:
        """The periods of the register at ``path`` (default: the shipped one); ``unknown`` if it cannot be read."""
        try:
            register = load_register(path)
        except (PdtrailError, OSError, ValueError) as exc:
            logger.warning("processing register not loaded: %s", exc)
            return cls(None, note=f"processing register not loaded: {exc}")
        # The period as written ("3 years"), so the due date is calendar arithmetic: 3 years after
        # 2024-02-29 is 2027-02-28, not 1095.75 days later at a quarter past six in the evening.
        return cls(register.retention_period, str(register.version), register=register)


def _when(value: object) -> dt.datetime | None:
    return value if isinstance(value, dt.datetime) and value >= _NEVER else None


def due_at(last: dt.datetime, period: dt.timedelta | RetentionPeriod) -> dt.datetime:
    """When data last processed at ``last`` must be gone: calendar months and days for a register period."""
    return period.end(last) if isinstance(period, RetentionPeriod) else last + period


def _days(period: dt.timedelta | RetentionPeriod) -> int:
    return period.approximate().days if isinstance(period, RetentionPeriod) else period.days


def _written(period: Any) -> str:
    if isinstance(period, RetentionPeriod):
        return str(period)
    return f"{period.days} days" if isinstance(period, dt.timedelta) else ""


def retention_rows(used: QueryResult, rules: RetentionRules, at: dt.datetime) -> QueryResult:
    """One row per (purpose, category) of ``used`` (the category_use query) with its status at ``at``:
    ``erased`` (an erasure or expiry came after the last processing), ``overdue`` (the period has run
    out and nothing ended it), ``retained`` (within the period), ``not declared`` (the register has no
    period for the purpose) or ``unknown`` (no register)."""
    rows = []
    for row in used.as_dicts():
        last, ended = _when(row["last_processed"]), _when(row["last_ended"])
        period = rules.period_for(row["purpose"]) if rules.period_for else None
        due = due_at(last, period) if (last and period is not None) else None
        if ended and (last is None or ended >= last):
            status = "erased"
        elif rules.period_for is None:
            status = "unknown"
        elif period is None:
            status = "not declared"
        else:
            status = "overdue" if due is not None and due <= at else "retained"
        rows.append((
            row["purpose"], row["category"], _when(row["first_processed"]), last,
            _days(period) if period is not None else None, due, status, ended, row["ended_by"] if ended else "",
            _written(period),
        ))  # fmt: skip
    return QueryResult(list(COLUMNS), list(TYPES), rows)
