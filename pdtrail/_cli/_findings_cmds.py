"""``pdtrail findings`` and ``pdtrail register``: the log checked against the processing register."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table

from pdtrail._cli._output import print_result
from pdtrail.config import Settings
from pdtrail.producers import Pseudonymiser
from pdtrail.queries import FINDING_KINDS, QueryResult, SubjectLineage, findings, person_findings
from pdtrail.schemas import load_register
from pdtrail.store import open_query_backend


def find(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    register = load_register(args.register or settings.processing_register.path)
    backend = open_query_backend(settings)
    keys: list[str] = []
    lineage = SubjectLineage(backend, Pseudonymiser.from_settings(settings))
    if args.identifier and not args.only:  # the whole linked person, their rows read with their links
        found = person_findings(
            lineage, args.identifier, args.kind, register=register, since=args.since, until=args.until,
            as_of=args.as_of,
        )  # fmt: skip
    else:
        if args.identifier:
            keys = lineage.linked_set(args.identifier, args.kind, args.until).keys  # the whole linked person
        found = findings(
            backend, keys, register=register, since=args.since, until=args.until, as_of=args.as_of, kinds=args.only
        )
    if args.format == "json":
        for finding in found:
            print(json.dumps(finding.as_dict(), ensure_ascii=False))
    else:
        columns = ["kind", "occurred_at", "event_type", "purpose", "legal_basis", "actor_id", "actor_role", "detail"]
        if args.format == "csv":
            columns += ["subject_key", "event_id"]
        rows = [tuple(getattr(f, c) for c in columns) for f in found]
        scope = "one subject" if args.identifier else "all subjects"
        title = f"Findings for {scope}, checked against register {register.version}"
        print_result(QueryResult(columns, [], rows), args.format, title, console)
    if args.format == "table" and found:
        counts: dict[str, int] = {}
        for finding in found:
            counts[finding.kind] = counts.get(finding.kind, 0) + 1
        for kind, count in counts.items():
            console.print(f"  {count:>6}  {kind}: {FINDING_KINDS[kind]}")
    return 1 if found else 0


def register(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    loaded = load_register(args.path or settings.processing_register.path)
    if args.action == "check":
        counts = (len(loaded.purposes), len(loaded.recipients), len(loaded.sources), len(loaded.roles))
        console.print(f"register {loaded.version} is valid: %d purposes, %d recipients, %d sources, %d roles" % counts)
        return 0
    table = Table(title=f"Processing register {loaded.version} (GDPR Art. 30)", title_justify="left")
    for column in ("purpose", "legal bases", "categories", "recipients", "sources", "retention"):
        table.add_column(column, overflow="fold")
    for name, entry in loaded.purposes.items():
        table.add_row(
            f"{name}\n[dim]{entry.description}[/]",
            ", ".join(b.value for b in entry.legal_bases),
            ", ".join(entry.categories),
            ", ".join(loaded.recipients[r].name for r in entry.recipients),
            ", ".join(loaded.sources[s].name for s in entry.sources),
            str(entry.retention),
        )
    console.print(table)
    return 0
