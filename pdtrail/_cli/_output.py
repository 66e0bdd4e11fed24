"""Printing query results: a Rich table for people, JSON lines or CSV for machines."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pdtrail.queries import QueryResult, to_json_value

FORMATS = ("table", "json", "csv")


def progress_bar(console: Console, *, transient: bool = False) -> Progress:
    """Progress for long runs; silent when the output is not a terminal (pipes, CI, files)."""
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=transient, disable=not console.is_terminal,
    )  # fmt: skip


def _cell(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


_TABLE_HIDDEN = {"event_id", "correlation_id", "source_system", "register_version"}  # in json/csv; too long
_DETAIL_COLUMNS = ("collection_source", "access_kind", "resource", "party_name", "party_org_no",
                   "party_country", "party_role", "reference", "outcome", "action", "gdpr_right",
                   "reason")  # fmt: skip


def _detail(row: dict[str, Any]) -> str:
    """One readable phrase for the type-specific columns of a timeline row."""
    kind = row.get("event_type", "")
    party = row.get("party_name", "")
    if party:
        party += f" ({row['party_country']} {row['party_org_no']})".replace("  ", " ").replace(" )", ")")
    if kind == "personal_data.collected":
        return f"from {row['collection_source']}" + (f": {party}" if party else "")
    if kind == "personal_data.accessed":
        return f"{row['access_kind']} {row['resource']}"
    if kind == "personal_data.shared":
        return f"to {party} as {row['party_role']}"
    if kind == "credit_check.performed":
        return f"at {party}, ref {row['reference']}" + (f", {row['outcome']}" if row.get("outcome") else "")
    return _vocabulary_detail(kind, row, party)


def _vocabulary_detail(kind: str, row: dict[str, Any], party: str) -> str:
    reason = f": {row['reason']}" if row.get("reason") else ""
    case = f" (case {row['reference']})" if row.get("reference") else ""
    phrases = {
        "rights_request.received": f"{row.get('gdpr_right', '')} request{case}",
        "rights_request.answered": f"{row.get('gdpr_right', '')} request {row.get('outcome', '')}{case}{reason}",
        "consent.given": f"consent to {row.get('purpose', '')}",
        "consent.withdrawn": f"consent to {row.get('purpose', '')} withdrawn{case}",
        "data.rectified": f"rectified{case}",
        "processing.restricted": f"restricted{case}{reason}",
        "restriction.lifted": f"restriction lifted{case}{reason}",
        "data.erased": f"erased{case}",
        "erasure.refused": f"erasure refused{case}{reason}",
        "retention.expired": f"retention ended: {row.get('action', '')}",
        "subject.checked": f"{row.get('action', '')} check {row.get('outcome', '')}" + (f" by {party}" * bool(party)),
        "lead.received": f"lead from {party}",
        "public_register.looked_up": f"looked up in {party}",
        "marketing.sent": f"{row.get('action', '')}: {row.get('reference', '')}",
        "identifiers.collected": f"identifiers {row.get('resource', '')}",
        # The other key itself stays out of a person's view: its kind says enough.
        "subject.identifiers_linked": f"linked to a {row.get('action', '')} key{reason}",
        "subject.identifiers_unlinked": f"link to a {row.get('action', '')} key undone{reason}",
    }
    return phrases.get(kind, "")


def for_screen(result: QueryResult) -> QueryResult:
    """The columns a person reads: ids hidden, type-specific columns folded into one 'detail'."""
    rows = result.as_dicts()
    fold = "event_type" in result.columns and any(c in result.columns for c in _DETAIL_COLUMNS)
    keep = [c for c in result.columns if c not in _TABLE_HIDDEN and not (fold and c in _DETAIL_COLUMNS)]
    if not any(r.get("found_via") for r in rows):  # nothing found through a link: the column says nothing
        keep = [c for c in keep if c != "found_via"]
    columns = [*keep, "detail"] if fold else keep
    table_rows = [tuple(r[c] for c in keep) + ((_detail(r),) if fold else ()) for r in rows]
    return QueryResult(columns, [], table_rows)


def print_result(result: QueryResult, fmt: str, title: str, console: Console) -> None:
    if fmt == "json":
        for row in result.rows:
            print(json.dumps(dict(zip(result.columns, (to_json_value(v) for v in row), strict=True))))
        return
    if fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(result.columns)
        writer.writerows([_cell(v) for v in row] for row in result.rows)
        return
    result = for_screen(result)
    table = Table(title=title, title_justify="left", show_lines=False)
    for column in result.columns:
        table.add_column(column.replace("_", " "), overflow="fold")
    for row in result.rows:
        table.add_row(*(_cell(v) for v in row))
    console.print(table)
    console.print(f"{len(result.rows)} rows", style="dim")
