"""The two reports a DPO sends, as JSON-able dicts: the access report for the data subject (GDPR
Art. 15, also their portable copy) and the complaint response for the supervisory authority."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import pdtrail.queries as queries_package
from pdtrail.queries._labels import register_labels
from pdtrail.queries._lineage import SubjectLineage
from pdtrail.queries._report_accesses import set_dpo_lookups_apart
from pdtrail.queries._report_art15 import art15_sections
from pdtrail.queries._retention import RetentionRules
from pdtrail.queries._runner import QueryResult, to_json_value
from pdtrail.schemas import ProcessingRegister, SubjectKind, guess_subject_kind, load_register, normalise_identifier

logger = logging.getLogger("pdtrail.queries")
REPORT_ROWS = 10_000  # per section; a report that hits it says so in "truncated"

VERIFY_HOW = [
    "pdtrail verify --since {since} --until {until}",
    "pdtrail prove {event_id} --out proof.json",
    "python integrity/verify_proof.py proof.json",
]


def _rows(result: QueryResult) -> list[dict[str, Any]]:
    return [{k: to_json_value(v) for k, v in row.items()} for row in result.as_dicts()]


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).isoformat() if moment else None


def _subject(identifier: str, kind: SubjectKind | str | None) -> dict[str, str]:
    resolved = SubjectKind(kind) if kind else guess_subject_kind(identifier)
    shown_as = getattr(identifier, "shown_as", None)  # a subject the desk holds by its keys (a str subclass)
    if shown_as is not None:
        return {"kind": resolved.value, "identifier": str(shown_as)}
    shown = normalise_identifier(resolved, identifier)
    if resolved == SubjectKind.PERSONNUMMER and len(shown) == 12:
        shown = f"{shown[:8]}-{shown[8:]}"
    return {"kind": resolved.value, "identifier": shown}


def recipients(shared: QueryResult) -> list[dict[str, Any]]:
    """Disclosures folded per recipient: role, country, purposes, categories, first and last time."""
    folded: dict[tuple[str, str], dict[str, Any]] = {}
    for row in shared.as_dicts():
        key = (row["recipient"], row["recipient_org_no"])
        entry = folded.setdefault(key, {
            "recipient": row["recipient"], "recipient_org_no": row["recipient_org_no"],
            "recipient_country": row["recipient_country"],
            "role": row["recipient_role"], "purposes": set(), "legal_bases": set(), "categories": set(),
            "times": 0, "first_at": row["occurred_at"], "last_at": row["occurred_at"],
        })  # fmt: skip
        entry["purposes"].add(row["purpose"])
        entry["legal_bases"].add(row["legal_basis"])
        entry["categories"].update(row["data_categories"])
        entry["times"] += 1
        entry["first_at"] = min(entry["first_at"], row["occurred_at"])
        entry["last_at"] = max(entry["last_at"], row["occurred_at"])
    return [
        {k: sorted(v) if isinstance(v, set) else to_json_value(v) for k, v in e.items()}
        for e in sorted(folded.values(), key=lambda e: e["first_at"])
    ]


def _common(
    lineage: SubjectLineage, identifier: str, kind: SubjectKind | str | None,
    since: dt.datetime | None, until: dt.datetime | None,
) -> tuple[dict[str, Any], dict[str, QueryResult]]:  # fmt: skip
    window = {"kind": kind, "since": since, "until": until, "limit": REPORT_ROWS}
    asked: dict[str, Callable[..., QueryResult]] = {
        "purposes": lineage.purposes, "sources": lineage.sources, "shared": lineage.shared_with,
        "credit_checks": lineage.credit_checks, "accesses": lineage.who_accessed, "events": lineage.timeline,
    }  # fmt: skip
    results = {name: ask(identifier, **window) for name, ask in asked.items()}
    linked = lineage.linked_set(identifier, kind, until)
    report: dict[str, Any] = {
        "generated_at": _iso(dt.datetime.now(dt.UTC)),
        "subject": _subject(identifier, kind),
        "period": {"since": _iso(since), "until": _iso(until)},
        **{name: _rows(result) for name, result in results.items()},
        "recipients": recipients(results["shared"]),
        "consent": _rows(lineage.consent_state(identifier, kind=kind, at=until)),
        "lineage": lineage.lineage_graph(identifier, kind=kind, since=since, until=until).as_dict(),
        "truncated": sorted(name for name, result in results.items() if len(result.rows) >= REPORT_ROWS),
        # The identifiers linked to the subject at the period's end, counted by key (one per key version);
        # "bounded": the set reached its bound (pdtrail.queries._links.MAX_LINKED_KEYS) and may be larger.
        "linked_keys": {"count": len(linked.keys), "bounded": linked.bounded},
    }
    return report, results


def access_report(
    lineage: SubjectLineage, identifier: str, kind: SubjectKind | str | None = None,
    since: dt.datetime | None = None, until: dt.datetime | None = None, *, rules: RetentionRules | None = None,
    register: ProcessingRegister | None = None, reference: str = "",
) -> dict[str, Any]:  # fmt: skip
    """The data subject's access report (GDPR Art. 15): purposes, categories, recipients, retention,
    sources, credit checks, consent and the event history. JSON-able as it is: the subject's portable
    copy (Art. 20). An unknown subject gives a report with empty sections, and still the controller,
    the DPO, the rights and how to complain. ``register`` (default: the one ``rules`` came from, else
    the shipped one) gives the declared purposes, the contacts and the plain-language labels.
    ``reference``: the case's reference (the request's number), printed on the report. The DPO's own
    lookups are summarised in ``dpo_lookups``, not listed among the accesses (see ``_report_accesses``)."""
    with lineage.one_answer():  # one set of links for the whole report
        report, _ = _common(lineage, identifier, kind, since, until)
        rules = rules if rules is not None else RetentionRules.from_register()
        retention = lineage.retention_status(identifier, kind=kind, at=until, rules=rules)
    set_dpo_lookups_apart(report)
    register = register or rules.register or load_register()
    categories = sorted({c for p in report["purposes"] for c in p["data_categories"]})
    return {
        "report": "access",
        "reference": reference,
        **report,
        "categories": categories,
        "retention": _rows(retention),
        "retention_note": rules.note or (f"processing register version {rules.version}" if rules.version else ""),
        **art15_sections(register, sorted({p["purpose"] for p in report["purposes"]})),
    }


def findings_for(
    lineage: SubjectLineage, keys: list[str], since: dt.datetime | None, until: dt.datetime | None,
    register: ProcessingRegister | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Findings of the compliance checks for the subject, if this pdtrail has them."""
    find = getattr(queries_package, "findings", None)
    if find is None:
        return {"available": False, "items": [], "note": "findings not available in this version of pdtrail"}
    items = find(lineage.backend, subject_keys=keys, since=since, until=until, register=register)
    fields = ("kind", "event_id", "occurred_at", "event_type", "purpose", "legal_basis", "actor_id", "detail")
    return {
        "available": True,
        "items": [
            {
                **{f: to_json_value(getattr(item, f, None)) for f in fields},
                "description": getattr(item, "description", ""),
            }
            for item in items
        ],
        "note": "",
    }


def complaint_report(
    lineage: SubjectLineage, identifier: str, kind: SubjectKind | str | None = None,
    since: dt.datetime | None = None, until: dt.datetime | None = None, *,
    integrity: dict[str, Any] | None = None, reference: str = "", register: ProcessingRegister | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The response to the supervisory authority about one subject and period: the timeline with the
    legal basis of each act, recipients, who accessed, credit checks, consent, findings, and how the
    log's integrity can be verified. ``integrity`` is the result of :func:`integrity_check` when the
    caller holds the store; without it the report gives the commands only. ``register`` is the
    processing register the findings are judged against (default: the shipped one)."""
    with lineage.one_answer():  # one set of links for the whole report
        report, results = _common(lineage, identifier, kind, since, until)
        keys = lineage.linked_set(identifier, kind, until).keys  # the whole linked person, at the period's end
    events = results["events"]
    first = min((r[0] for r in events.rows), default=None)
    last = max((r[0] for r in events.rows), default=None)
    span = {
        "since": _iso(since or first) or "<date>",
        "until": _iso(until or (last + dt.timedelta(seconds=1) if last else None)) or "<date>",
        "event_id": report["events"][0]["event_id"] if report["events"] else "<event_id>",
    }
    return {
        "report": "complaint",
        "reference": reference,
        **report,
        "findings": findings_for(lineage, keys, since, until, register),
        "labels": register_labels(register or load_register()),
        "integrity": {
            "how": [line.format(**span) for line in VERIFY_HOW],
            "checked": integrity,
            "note": "" if integrity else "not checked here: run the commands above where the store is",
        },
    }
