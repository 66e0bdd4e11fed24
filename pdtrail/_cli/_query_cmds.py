"""The DPO's questions from the command line: one command per lineage query.

Every subject lookup is itself recorded as an access event (actor ``--as``, purpose ``--purpose``)
through the SDK, so the lookups a DPO makes are answered by the same queries.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from pdtrail._cli._output import print_result
from pdtrail.config import Settings
from pdtrail.producers import Pseudonymiser
from pdtrail.queries import (
    COMPLAINT_HANDLING,
    QueryResult,
    RetentionRules,
    SubjectLineage,
    actor_activity,
    record_activity_lookup,
    record_lookup,
)
from pdtrail.store import open_query_backend

# command -> (SubjectLineage method, title of the answer)
SUBJECT_QUERIES: dict[str, tuple[str, str]] = {
    "who-accessed": ("who_accessed", "Who accessed this subject's data"),
    "timeline": ("timeline", "Subject timeline"),
    "shared-with": ("shared_with", "What was shared with whom"),
    "sources": ("sources", "Where the subject's data came from"),
    "credit-checks": ("credit_checks", "Credit checks on the subject"),
    "consent": ("consent_state", "Consent per purpose"),
    "retention-status": ("retention_status", "Retention status per purpose and category"),
}


def parse_moment(text: str) -> dt.datetime:
    """``2026-03-01`` or ``2026-03-01T12:00`` (UTC unless an offset is given)."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a date or ISO time: {text!r} (use 2026-03-01 or 2026-03-01T12:00)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def returned_categories(*results: QueryResult) -> list[str]:
    """What a lookup showed the DPO: the audit log itself, and the data categories in its rows."""
    found: set[str] = set()
    for result in results:
        if "data_categories" in result.columns:
            at = result.columns.index("data_categories")
            found.update(c for row in result.rows for c in row[at])
        if "category" in result.columns:
            at = result.columns.index("category")
            found.update(row[at] for row in result.rows)
    return ["audit_log", *sorted(found - {"audit_log"})]


def record(
    args: argparse.Namespace, settings: Settings, console: Console, what: str, categories: list[str], **extra: Any
) -> None:
    """Record the lookup before the answer is shown. Delivered, or kept in the SDK's spool while the broker is
    away (a warning says so), it is answered; otherwise LookupNotRecordedError refuses the answer, as the
    desk does: the audit log must show every lookup."""
    record_lookup(
        settings, args.actor, args.purpose, args.identifier, args.kind, what,
        categories=categories, wait_s=5.0, **extra,
    )  # fmt: skip


def _span(args: argparse.Namespace) -> str:
    span = f" from {args.since:%Y-%m-%d}" if getattr(args, "since", None) else ""
    span += f" until {args.until:%Y-%m-%d}" if getattr(args, "until", None) else ""
    span += f" at {args.at:%Y-%m-%d %H:%M}" if getattr(args, "at", None) else ""
    return span


def lineage(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    """Any per-subject query: the command names it."""
    subject = SubjectLineage(open_query_backend(settings), Pseudonymiser.from_settings(settings))
    method, title = SUBJECT_QUERIES[args.command]
    ask: Callable[..., QueryResult] = getattr(subject, method)
    window: dict[str, Any] = {"kind": args.kind, "limit": args.limit, "offset": args.offset}
    if hasattr(args, "at"):
        window["at"] = args.at
    else:
        window.update(since=args.since, until=args.until)
    if method == "retention_status":
        window["rules"] = RetentionRules.from_register(settings.processing_register.path)
    result = ask(args.identifier, **window)
    record(args, settings, console, method, returned_categories(result))
    if not result.rows and args.format == "table":
        console.print(f"{title}{_span(args)}: nothing recorded (an unknown subject is an empty answer)")
        return 0
    print_result(result, args.format, title + _span(args), console)
    if method == "retention_status" and args.format == "table":
        rules = window["rules"]
        console.print(f"retention periods: {rules.note or 'processing register ' + rules.version}", style="dim")
    return 0


def graph(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    """``pdtrail lineage``: sources → purposes → recipients, as tables, JSON or an SVG picture."""
    from pdtrail.queries.reports import lineage_picture

    subject = SubjectLineage(open_query_backend(settings), Pseudonymiser.from_settings(settings))
    answer = subject.lineage_graph(args.identifier, kind=args.kind, since=args.since, until=args.until)
    categories = sorted({c for e in answer.edges for c in e.categories})
    record(args, settings, console, "lineage_graph", ["audit_log", *categories])
    if args.svg:
        Path(args.svg).write_bytes(lineage_picture(answer))
        console.print(f"lineage picture written to {args.svg}")
    if args.format == "json":
        print(json.dumps(answer.as_dict()))
        return 0
    nodes = QueryResult(["kind", "label", "detail"], [], [(n.kind, n.label, n.detail) for n in answer.nodes])
    labels = {n.id: n.label for n in answer.nodes}
    edges = QueryResult(
        ["from", "to", "categories", "events", "first_at", "last_at"], [],
        [(labels[e.source], labels[e.target], e.categories, e.events, e.first_at, e.last_at) for e in answer.edges],
    )  # fmt: skip
    print_result(nodes, args.format, "Lineage: sources, purposes, recipients" + _span(args), console)
    print_result(edges, args.format, "Data flows", console)
    return 0


def actor(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    """``pdtrail actor-activity``: every subject one employee or service touched (pseudonymous keys).
    Answered once the lookup is recorded for each of those subjects, as every lookup is."""
    result = actor_activity(open_query_backend(settings), args.actor_id, args.since, args.until,
                            limit=args.limit, offset=args.offset)  # fmt: skip
    record_activity_lookup(settings, args.actor, args.actor_id, result.as_dicts(), wait_s=5.0)
    print_result(result, args.format, f"Subjects touched by {args.actor_id}" + _span(args), console)
    return 0


def write_out(path: str, payload: bytes, console: Console) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(payload)
    console.print(f"written: {target} ({len(payload):,} bytes)")


__all__ = ["COMPLAINT_HANDLING", "SUBJECT_QUERIES", "actor", "graph", "lineage", "parse_moment", "record"]
