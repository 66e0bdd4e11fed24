"""``pdtrail report access|complaint``: the document a DPO sends, from an identifier, in one command."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

from rich.console import Console

from pdtrail._cli._query_cmds import record, write_out
from pdtrail.config import Settings
from pdtrail.errors import PdtrailError
from pdtrail.producers import Pseudonymiser
from pdtrail.queries import ACCESS_REQUEST, COMPLAINT_HANDLING, LocalQueries, RetentionRules, SubjectLineage
from pdtrail.queries.exceptions import InvalidQueryParameterError
from pdtrail.schemas import load_register
from pdtrail.store import open_query_backend


def _integrity(args: argparse.Namespace, settings: Settings, lineage: SubjectLineage, console: Console
               ) -> dict[str, Any] | None:  # fmt: skip
    """``pdtrail verify`` over the subject's period, when this process holds the store itself."""
    if args.no_verify or not isinstance(lineage.backend, LocalQueries):
        return None  # the store's owner holds it: the report gives the commands instead
    from pdtrail.queries.reports import integrity_check

    times = lineage.timeline(args.identifier, kind=args.kind, since=args.since, until=args.until)
    if not times.rows:
        return None
    with console.status("verifying the signed checkpoints of the period…"):
        return integrity_check(
            settings, lineage.backend.client, args.since or times.rows[0][0],
            args.until or times.rows[-1][0] + dt.timedelta(seconds=1),
            event_ids=[str(r["event_id"]) for r in times.as_dicts()],
        )  # fmt: skip


def report(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    from pdtrail.queries.reports import access_report, complaint_report, render_pdf

    suffix = Path(args.out).suffix.lower()
    if suffix not in (".pdf", ".json"):
        raise InvalidQueryParameterError("out", "must end in .pdf (the document) or .json (machine-readable)")
    lineage = SubjectLineage(open_query_backend(settings), Pseudonymiser.from_settings(settings))
    window = {"kind": args.kind, "since": args.since, "until": args.until}
    register_path = settings.processing_register.path
    if args.which == "access":
        document = access_report(lineage, args.identifier, **window, rules=RetentionRules.from_register(register_path))
        args.purpose = ACCESS_REQUEST
    else:
        try:
            checked = _integrity(args, settings, lineage, console)
        except PdtrailError as exc:
            console.print(f"[yellow]integrity not checked here: {exc}[/]")
            checked = None
        document = complaint_report(
            lineage, args.identifier, **window, integrity=checked, reference=args.reference,
            register=load_register(register_path),
        )  # fmt: skip
        args.purpose = COMPLAINT_HANDLING
    categories = ["audit_log", *sorted({c for p in document["purposes"] for c in p["data_categories"]})]
    record(args, settings, console, f"{args.which}_report", categories, access_kind="export")
    if suffix == ".json":
        payload = json.dumps(document, indent=2, ensure_ascii=False).encode()
    else:
        payload = render_pdf(document, lang=args.lang)
    write_out(args.out, payload, console)
    console.print(
        f"{len(document['events'])} events, {len(document['recipients'])} recipients, "
        f"{len(document['purposes'])} purposes"
    )
    return 0
