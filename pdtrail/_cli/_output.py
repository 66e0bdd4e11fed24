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


_TABLE_HIDDEN = {"event_id", "correlation_id", "source_system"}  # in json/csv; too long for a screen
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
    # The rest of the vocabulary: whichever of its columns the event filled, in a fixed order.
    bits = [row.get(c, "") for c in ("gdpr_right", "action", "outcome", "reference", "reason")]
    return ", ".join(b for b in [party, *bits] if b)


def for_screen(result: QueryResult) -> QueryResult:
    """The columns a person reads: ids hidden, type-specific columns folded into one 'detail'."""
    rows = result.as_dicts()
    fold = "event_type" in result.columns and any(c in result.columns for c in _DETAIL_COLUMNS)
    keep = [c for c in result.columns if c not in _TABLE_HIDDEN and not (fold and c in _DETAIL_COLUMNS)]
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
