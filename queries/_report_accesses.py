"""The DPO's own lookups apart from the business accesses.

Every lookup in the audit log is recorded as an access of the subject's data (see ``_meta_audit``):
purpose ``dpo.*``, category ``audit_log``. Listed among the accesses they drown the business ones, and
an investigation of an employee (``audit_log/actor_activity/<employee>``, purpose ``dpo.investigation``)
names a colleague who was investigated — which the subject's access report must never tell. So the
report lists business accesses only and summarises the audit-log lookups: how many, when, what for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from pdtrail.queries._lineage import _window
from pdtrail.queries._runner import QueryBackend
from pdtrail.queries.exceptions import InvalidQueryParameterError

Scope = Literal["business", "audit_log", "all"]
SCOPES: tuple[Scope, ...] = ("business", "audit_log", "all")


def is_audit_log_lookup(row: Mapping[str, Any]) -> bool:
    """A lookup in the audit log itself: by the DPO (purpose ``dpo.*``) of the category ``audit_log``."""
    categories = row.get("data_categories") or ()
    return str(row.get("purpose", "")).startswith("dpo.") and "audit_log" in categories


def in_scope(row: Mapping[str, Any], scope: Scope) -> bool:
    if scope == "all":
        return True
    return is_audit_log_lookup(row) == (scope == "audit_log")


def lookup_summary(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Audit-log lookups per purpose: how many, first and last; never who was investigated, nor by whom."""
    folded: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row.get("event_type", "personal_data.accessed") != "personal_data.accessed" or not is_audit_log_lookup(row):
            continue
        at = row["occurred_at"]
        entry = folded.setdefault(
            row["purpose"], {"purpose": row["purpose"], "times": 0, "first_at": at, "last_at": at}
        )
        entry["times"] += 1
        entry["first_at"], entry["last_at"] = min(entry["first_at"], at), max(entry["last_at"], at)
    return sorted(folded.values(), key=lambda e: str(e["first_at"]))


def set_dpo_lookups_apart(report: dict[str, Any]) -> dict[str, Any]:
    """The access report with the audit-log lookups out of ``accesses`` and ``events``, summarised in
    ``dpo_lookups``. The summary is made from the accesses (the complete list of lookups)."""
    report["dpo_lookups"] = lookup_summary(report["accesses"])
    report["accesses"] = [r for r in report["accesses"] if not is_audit_log_lookup(r)]
    report["events"] = [
        r for r in report["events"] if r.get("event_type") != "personal_data.accessed" or not is_audit_log_lookup(r)
    ]
    return report


def scoped_accesses(
    backend: QueryBackend, keys: Sequence[str], scope: Scope, since: dt.datetime | None,
    until: dt.datetime | None, *, limit: int = 100, offset: int = 0, found_via: Mapping[str, str] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, int]]:  # fmt: skip
    """Who accessed the subject (its ``keys``), newest first, the audit log's lookups apart by ``scope``;
    and the period's totals of each scope (``business``, ``audit_log``, ``all``), read with the rows.
    ``found_via``: key -> the link it was found through (a linked set's), for each row's ``found_via``."""
    if scope not in SCOPES:
        raise InvalidQueryParameterError("scope", f"must be one of {', '.join(SCOPES)}")
    via = dict(found_via or {})
    params = {"subject_keys": list(keys), "scope": scope, **_window(since, until, limit, offset),
              "via_keys": list(via), "via_labels": list(via.values())}  # fmt: skip
    rows = backend.run("who_accessed_scoped", params).as_dicts()
    if not rows:  # an empty page carries no totals: count them alone
        return [], access_totals(backend, keys, since, until)
    totals: dict[str, int] = {s: int(rows[0][f"total_{s}"]) for s in SCOPES}
    return [{k: v for k, v in row.items() if not k.startswith("total_")} for row in rows], totals


def access_totals(
    backend: QueryBackend, keys: Sequence[str], since: dt.datetime | None, until: dt.datetime | None
) -> dict[str, int]:
    """How many accesses of each scope the period holds: ``business``, ``audit_log`` and ``all``."""
    params = {"subject_keys": list(keys), **_window(since, until, 1, 0)}
    (row,) = backend.run("who_accessed_totals", params).as_dicts()
    return {scope: int(row[scope]) for scope in SCOPES}
