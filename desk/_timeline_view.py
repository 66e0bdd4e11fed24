"""The timeline as a DPO reads it: a few columns that every event has, a summary that fits each event
type, sorting, filters by event type and purpose, counts per event type, and the findings marked on
the rows they are about.

The whole period is read once (up to ``desk.max_page_size`` events), then filtered, sorted and paged
here, so counts and filters speak of the period and not of one page.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pdtrail.queries._labels import say

SORTS = {
    "time": ("occurred_at", "event_id"),
    "type": ("event_type", "occurred_at"),
    "actor": ("actor_id", "occurred_at"),
    "purpose": ("purpose", "occurred_at"),
}
COLUMNS = ("occurred_at", "event_type", "purpose", "legal_basis", "data_categories", "actor", "summary")


@dataclass
class TimelineView:
    rows: list[dict[str, Any]]  # this page's rows, each with "summary", "actor" and "findings"
    counts: list[tuple[str, int]]  # (event type, rows) in the period, most first
    purposes: list[str]  # the purposes present in the period, for the filter
    total: int  # rows that pass the filters
    shown_from: int  # 1-based position of the first row shown
    read: int  # rows read from the store for the period
    capped: bool  # the period holds more events than were read
    marked: int = 0  # rows on this page with a finding
    linked: bool = False  # some row of the period was found through an identity link: show "found via"
    chosen: dict[str, str] = field(default_factory=dict)  # the filters and sort in force


def _party(row: dict[str, Any]) -> str:
    name = row.get("party_name") or ""
    country = row.get("party_country") or ""
    return f"{name} ({country})" if name and country else name


def summary(row: dict[str, Any], labels: dict[str, Any] | None) -> str:
    """What happened, in the words that fit the event's type (the timeline's one type-specific column)."""
    kind, party = row.get("event_type", ""), _party(row)
    if kind == "personal_data.collected":
        source = say(labels, "collection_sources", row.get("collection_source") or "", "en")
        return f"{source}: {party}" if party else source
    if kind == "personal_data.accessed":
        return f"{row.get('access_kind', '')} {row.get('resource', '')}".strip()
    if kind == "personal_data.shared":
        return f"to {party}" + (f" as {row['party_role']}" if row.get("party_role") else "")
    if kind in ("subject.identifiers_linked", "subject.identifiers_unlinked"):
        verb = "linked to" if kind.endswith("_linked") else "unlinked from"
        key = str(row.get("reference") or "")
        said = f"{verb} its {row.get('action') or 'other'} identifier (key {key[:12]}…)"
        return f"{said}: {row['reason']}" if row.get("reason") else said
    if kind == "credit_check.performed":
        bits = [f"at {party}" if party else "", f"ref {row['reference']}" if row.get("reference") else "",
                row.get("outcome") or ""]  # fmt: skip
        return ", ".join(b for b in bits if b)
    bits = [party, *(str(row.get(f) or "") for f in ("gdpr_right", "action", "outcome", "reference", "reason"))]
    return ", ".join(b for b in bits if b)


def build(
    rows: list[dict[str, Any]], *, findings: list[dict[str, Any]], labels: dict[str, Any] | None,
    event_type: str, purpose: str, sort: str, descending: bool, offset: int, size: int, capped: bool,
) -> TimelineView:  # fmt: skip
    """The page of the timeline at ``offset`` after filtering (``event_type``/``purpose``, empty: all)
    and sorting (a key of :data:`SORTS`) the period's ``rows``."""
    by_event: dict[str, list[dict[str, Any]]] = {}
    for finding in findings:
        by_event.setdefault(str(finding.get("event_id", "")), []).append(finding)
    counts = Counter(r.get("event_type", "") for r in rows if not purpose or r.get("purpose") == purpose)
    chosen = [r for r in rows if (not event_type or r.get("event_type") == event_type)
              and (not purpose or r.get("purpose") == purpose)]  # fmt: skip
    keys = SORTS.get(sort, SORTS["time"])
    chosen.sort(key=lambda r: tuple(str(r.get(k) or "") for k in keys), reverse=descending)
    page = []
    for row in chosen[offset : offset + size]:
        page.append({
            **row, "summary": summary(row, labels),
            "actor": f"{row.get('actor_id', '')} ({row.get('actor_role', '')})" if row.get("actor_role")
            else row.get("actor_id", ""),
            "findings": by_event.get(str(row.get("event_id", "")), []),
        })  # fmt: skip
    return TimelineView(
        rows=page, counts=counts.most_common(), purposes=sorted({r.get("purpose", "") for r in rows} - {""}),
        total=len(chosen), shown_from=offset + 1, read=len(rows), capped=capped,
        marked=sum(1 for r in page if r["findings"]), linked=any(r.get("found_via") for r in rows),
        chosen={"type": event_type, "purpose": purpose, "sort": sort if sort in SORTS else "time",
                "order": "desc" if descending else "asc"},
    )  # fmt: skip
