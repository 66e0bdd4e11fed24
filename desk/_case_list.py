"""The DPO's day over the whole log: the open rights requests (cases), the findings of every subject,
a subject opened by its pseudonymous key, and who accessed with the audit log's own lookups apart.

A subject met on the case list or the findings page is known to the desk by its key only: the case it
opens is a :class:`KeyedSubject` sealed like any other (:mod:`pdtrail.desk._refs`), so its link survives
a restart, and it is shown as a key prefix, never as an identifier the DPO did not type in.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

from pdtrail.desk._answers import Page
from pdtrail.desk._auth import Permission, Principal
from pdtrail.desk._cases import SubjectCase, dpo_purpose
from pdtrail.desk._refs import Sealed
from pdtrail.desk._service import Desk
from pdtrail.desk.exceptions import invalid, not_found
from pdtrail.queries import FINDING_KINDS, counts, findings, open_cases, scoped_accesses, to_json_value
from pdtrail.queries._lineage import _window
from pdtrail.schemas import SubjectKind, load_register

SUBJECT_KEY = re.compile(r"^[0-9a-f]{64}$")
MAX_FINDINGS = 5_000  # rows one findings page shows; the counts cover every finding


def masked(key: str) -> str:
    """What the desk shows of a subject it holds by key: a prefix, enough to tell two apart."""
    return f"{key[:12]}…"


def open_by_key(desk: Desk, principal: Principal, key: str, purpose: str | None) -> SubjectCase:
    """A case for a subject known by its pseudonymous key (from a case or a finding), recorded as a lookup.
    Its kind and key version come from the log; a key the log does not hold is not found."""
    desk.require(principal, Permission.LINEAGE)
    if not SUBJECT_KEY.match(key):
        raise invalid("subject_key", "must be 64 lower-case hex digits (a pseudonymous key)")
    resolved = dpo_purpose(purpose)
    params = {"subject_keys": [key], **_window(None, None, 1, 0)}
    found = desk.backend.run("subject_by_key", params).as_dicts()
    if not found:
        raise not_found("no subject with this key in the log", "subject_key")
    kind, version = SubjectKind(found[0]["subject_kind"]), int(found[0]["key_version"])
    sealed = Sealed((key,), (key, version), kind.value, principal.identity, resolved, time.time() + desk.cases.ttl_s)
    case = desk.cases.get(principal.identity, desk.cases.keys.seal(sealed))
    with desk.recorded(principal, case, "subject_lookup"):
        pass
    return case


def rights_cases(desk: Desk, principal: Principal) -> dict[str, Any]:
    """Every open rights request, overdue first, with counts. Keys are shown masked."""
    desk.require(principal, Permission.REPORTS)
    found, truncated = open_cases(desk.backend)
    items = [{**case.as_dict(), "subject": masked(case.subject_key)} for case in found]
    return {"items": items, "counts": counts(found), "truncated": truncated}


def rights_case(desk: Desk, principal: Principal, case: SubjectCase, request_id: str) -> dict[str, Any] | None:
    """The open request ``request_id`` of the case's subject, or None when it is answered or unknown."""
    keys = set(case.identifier.keys)
    with desk.recorded(principal, case, "rights_case"):
        found, _ = open_cases(desk.backend)
    for rights in found:
        if rights.subject_key in keys and rights.request_id == request_id:
            return {**rights.as_dict(), "subject": masked(rights.subject_key)}
    return None


def log_findings(
    desk: Desk, principal: Principal, kind: str | None, purpose: str | None, since: dt.datetime | None,
    until: dt.datetime | None,
) -> dict[str, Any]:  # fmt: skip
    """The findings of every subject in the period, filtered by kind and purpose, with counts per kind
    (of the period and purpose, every kind, so the DPO sees where the rest are)."""
    desk.require(principal, Permission.FINDINGS)
    if kind and kind not in FINDING_KINDS:
        raise invalid("kind", f"must be one of {', '.join(FINDING_KINDS)}")
    register = load_register(desk.settings.processing_register.path)
    every = desk._ask(lambda: findings(desk.backend, None, register=register, since=since, until=until))
    chosen = [f for f in every if not purpose or f.purpose == purpose]
    per_kind = {k: sum(f.kind == k for f in chosen) for k in FINDING_KINDS}
    rows = [
        {**f.as_dict(), "subject": masked(f.subject_key), "description": f.description}
        for f in chosen
        if not kind or f.kind == kind
    ]
    return {
        "items": rows[:MAX_FINDINGS], "counts": per_kind, "total": len(rows), "truncated": len(rows) > MAX_FINDINGS,
        "kinds": dict(FINDING_KINDS), "purposes": sorted({f.purpose for f in every}),
    }  # fmt: skip


def accesses(
    desk: Desk, principal: Principal, case: SubjectCase, scope: str, since: dt.datetime | None,
    until: dt.datetime | None, limit: int | None, offset: int | None,
) -> tuple[Page, dict[str, int]]:  # fmt: skip
    """Who accessed the subject, ``scope`` business / audit_log / all, and the totals of each scope."""
    lim, off = desk.check_page(limit, offset)
    # The whole linked person as at the period's end, as every per-subject view (queries/_links.py).
    linked = desk._ask(lambda: desk.lineage.linked_set(case.identifier, case.kind, until))
    with desk.recorded(principal, case, "who_accessed"):
        found, totals = desk._ask(
            lambda: scoped_accesses(
                desk.backend, linked.keys, scope, since, until, limit=lim + 1, offset=off, found_via=linked.found_via
            )
        )
    rows = [{k: to_json_value(v) for k, v in row.items()} for row in found]
    return Page(rows[:lim], lim, off, len(rows) > lim), totals
