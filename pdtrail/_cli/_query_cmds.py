"""``pdtrail who-accessed`` and ``pdtrail timeline``: the DPO's questions from the command line."""

from __future__ import annotations

import argparse
import datetime as dt

from rich.console import Console

from pdtrail._cli._output import print_result
from pdtrail.config import Settings
from pdtrail.producers import Pseudonymiser
from pdtrail.queries import SubjectLineage
from pdtrail.store import open_query_backend


def parse_moment(text: str) -> dt.datetime:
    """``2026-03-01`` or ``2026-03-01T12:00`` (UTC unless an offset is given)."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a date or ISO time: {text!r} (use 2026-03-01 or 2026-03-01T12:00)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def lineage(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    subject = SubjectLineage(open_query_backend(settings), Pseudonymiser.from_settings(settings))
    ask = subject.who_accessed if args.command == "who-accessed" else subject.timeline
    result = ask(args.identifier, kind=args.kind, since=args.since, until=args.until, limit=args.limit)
    span = f" from {args.since:%Y-%m-%d}" if args.since else ""
    span += f" until {args.until:%Y-%m-%d}" if args.until else ""
    title = ("Who accessed this subject's data" if args.command == "who-accessed" else "Subject timeline") + span
    print_result(result, args.format, title, console)
    return 0
