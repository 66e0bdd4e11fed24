"""Printing query results: a Rich table for people, JSON lines or CSV for machines."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from pdtrail.queries import QueryResult, to_json_value

FORMATS = ("table", "json", "csv")


def _cell(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


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
    table = Table(title=title, title_justify="left", show_lines=False)
    for column in result.columns:
        table.add_column(column.replace("_", " "), overflow="fold")
    for row in result.rows:
        table.add_row(*(_cell(v) for v in row))
    console.print(table)
    console.print(f"{len(result.rows)} rows", style="dim")
