"""The ``pdtrail`` command. Each sub-command's ``--help`` says what it does and what it needs."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from rich.console import Console

from pdtrail._files import private_dir, restrict_umask
from pdtrail.config import Settings, load_settings
from pdtrail.errors import PdtrailError

Handler = Callable[[argparse.Namespace, Settings, Console], int]

_EPILOG = """\
configuration: PDTRAIL_* environment variables or pdtrail.toml (see the README), e.g.
  PDTRAIL_KAFKA__BOOTSTRAP_SERVERS=127.0.0.1:9092   PDTRAIL_STORE__DSN=chdb:///var/lib/pdtrail/store
  PDTRAIL_PSEUDONYM__SECRET_FILE=/run/secrets/pdtrail   (without one, a local secret in .pdtrail/ is used)
"""


def _lineage_args(
    parser: argparse.ArgumentParser, *, at: bool = False, paged: bool = True, document: bool = False
) -> None:
    from pdtrail._cli._output import FORMATS
    from pdtrail._cli._query_cmds import parse_moment
    from pdtrail.queries import DPO_PURPOSES

    parser.add_argument("identifier", help="personnummer/samordningsnummer (any form), e-mail or customer id")
    parser.add_argument("--kind", choices=["personnummer", "email", "customer_id"], help="default: guessed")
    if at:
        parser.add_argument("--at", type=parse_moment, help="as it stood at this date/time (default: now, UTC)")
    else:
        parser.add_argument("--since", type=parse_moment, help="from this date/time, inclusive (UTC)")
        parser.add_argument("--until", type=parse_moment, help="up to this date/time, exclusive (UTC)")
    if paged:
        parser.add_argument("--limit", type=int, default=10_000, help="at most this many rows (default 10000)")
        parser.add_argument("--offset", type=int, default=0, help="skip this many rows first (paging)")
    if not document:  # a report's format is its file's, its purpose is the report's
        parser.add_argument("--format", choices=FORMATS, default="table", help="table (default), json lines, csv")
    # Meta-audit: the lookup itself is recorded as an access by this actor, for this purpose.
    parser.add_argument("--as", dest="actor", default="dpo", help="the DPO's actor id, recorded with the lookup")
    if not document:
        parser.add_argument("--purpose", choices=DPO_PURPOSES, default=DPO_PURPOSES[0], help="recorded with the lookup")


def build_parser() -> argparse.ArgumentParser:
    from pdtrail._cli import (
        _demo,
        _findings_cmds,
        _infra_cmds,
        _ingest_cmds,
        _integrity_cmds,
        _query_cmds,
        _report_cmds,
    )
    from pdtrail._cli._query_cmds import parse_moment

    parser = argparse.ArgumentParser(
        prog="pdtrail",
        description="pdtrail: a personal-data audit trail (SDK → Kafka → ClickHouse → DPO answers).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(handler=handler)
        return command

    demo = add("demo", _demo.demo, "Run the whole pipeline on the embedded defaults and answer a DPO question.")
    demo.add_argument("--subjects", type=int, default=300, help="generated data subjects (default 300)")
    demo.add_argument("--seed", type=int, default=7, help="seed of the generated stream")
    demo.add_argument("--keep-broker", action="store_true", help="leave Kafka running afterwards")

    emit = add("emit", _ingest_cmds.emit, "Emit JSON-lines events through the SDK (see the README for the shape).")
    emit.add_argument("--file", required=True, help="a .jsonl file, or - for standard input")
    emit.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for delivery at the end")

    consume = add("consume", _ingest_cmds.consume, "Consume the audit topic into ClickHouse.")
    consume.add_argument("--drain", action="store_true", help="stop once every partition is read to its end")

    serve = add("serve", _ingest_cmds.serve, "Own the store: consume and answer other processes' queries.")
    serve.add_argument("--drain", action="store_true", help=argparse.SUPPRESS)

    for name, text in (
        ("who-accessed", "Who accessed a data subject's data: actor, role, purpose, legal basis, categories, when."),
        ("timeline", "Every processing event for a data subject, oldest first."),
        ("shared-with", "What was shared with whom: recipient, role, country, categories, legal basis, when."),
        ("sources", "Where a data subject's data came from, with dates."),
        ("credit-checks", "Credit checks on a data subject: bureau, reference, decision, legal basis."),
    ):
        _lineage_args(add(name, _query_cmds.lineage, text))
    _lineage_args(add("consent", _query_cmds.lineage, "Consent per purpose at a date: given or withdrawn."), at=True)
    _lineage_args(
        add("retention-status", _query_cmds.lineage, "Retention per purpose and category against the register."),
        at=True,
    )
    graph = add("lineage", _query_cmds.graph, "A subject's data flows: sources -> purposes -> recipients.")
    _lineage_args(graph, paged=False)
    graph.add_argument("--svg", help="also write the picture to this .svg file")
    activity = add("actor-activity", _query_cmds.actor, "Every subject an employee or service touched in a period.")
    activity.add_argument("actor_id", help="the actor's id as recorded, e.g. emp-1042 or a service name")
    activity.add_argument("--since", type=parse_moment, help="from this date/time, inclusive (UTC)")
    activity.add_argument("--until", type=parse_moment, help="up to this date/time, exclusive (UTC)")
    activity.add_argument("--limit", type=int, default=10_000, help="at most this many subjects (default 10000)")
    activity.add_argument("--offset", type=int, default=0, help="skip this many subjects first (paging)")
    activity.add_argument("--format", choices=["table", "json", "csv"], default="table")
    activity.add_argument(
        "--as", dest="actor", default="dpo",
        help="the DPO's actor id: the lookup is recorded for every subject in the answer (purpose dpo.investigation)",
    )  # fmt: skip
    report = add("report", _report_cmds.report, "Write the access report (Art. 15) or a complaint response.")
    report.add_argument("which", choices=["access", "complaint"], help="access: for the subject; complaint: for IMY")
    _lineage_args(report, paged=False, document=True)
    report.add_argument("--out", required=True, help="file.pdf (the document) or file.json (machine-readable)")
    report.add_argument("--lang", choices=["en", "sv"], default="en", help="headings in English or Swedish")
    report.add_argument("--reference", default="", help="the authority's case number, shown on a complaint response")
    report.add_argument("--no-verify", action="store_true", help="complaint: give the verify commands, do not run them")

    from pdtrail._cli import _desk_cmd

    desk = add("desk", _desk_cmd.desk, "Serve the DPO's desk: HTTP API and web UI on 127.0.0.1.")
    desk.add_argument("--port", type=int, help="default: desk.port (8470)")
    desk.add_argument("--new-token", metavar="ROLE:IDENTITY", help="make a token (role dpo|auditor|read_only)")
    desk.add_argument(
        "--behind-tls-proxy", action="store_true",
        help="browsers reach the desk over HTTPS through a proxy on this host: Secure cookies, HSTS "
        "(desk.behind_tls_proxy)",
    )  # fmt: skip
    desk.add_argument("--base-url", help="the desk's address as browsers reach it (desk.base_url)")

    from pdtrail.queries import FINDING_KINDS

    findings = add(
        "findings",
        _findings_cmds.find,
        "Processing the register or the subjects' own choices forbid (exit 1 when there is any).",
    )
    findings.add_argument("identifier", nargs="?", help="one subject (any identifier form); default: all subjects")
    findings.add_argument("--kind", choices=["personnummer", "email", "customer_id"], help="default: guessed")
    findings.add_argument("--only", action="append", choices=list(FINDING_KINDS), metavar="KIND",
                          help=f"only this kind (repeatable): {', '.join(FINDING_KINDS)}")  # fmt: skip
    findings.add_argument("--since", type=parse_moment, help="events from this date/time, inclusive (UTC)")
    findings.add_argument("--until", type=parse_moment, help="events before this date/time (UTC)")
    findings.add_argument("--as-of", type=parse_moment, help="judge unanswered requests at this time (default: now)")
    findings.add_argument("--register", help="check against this register file (default: the configured one)")
    findings.add_argument("--format", choices=["table", "json", "csv"], default="table")
    reg = add("register", _findings_cmds.register, "Show or check the processing register (GDPR Art. 30).")
    reg.add_argument("action", choices=["show", "check"])
    reg.add_argument("--path", help="a register file (default: the configured one, else the shipped default)")

    verify = add("verify", _integrity_cmds.verify, "Check the stored log against its signed checkpoints.")
    verify.add_argument("--since", type=parse_moment, help="only checkpoints with events from this date/time")
    verify.add_argument("--until", type=parse_moment, help="only checkpoints with events before this date/time")
    verify.add_argument("--no-external", action="store_true", help="do not compare with the checkpoint topic")
    verify.add_argument("--all", action="store_true", help="list every finding, not the first per partition")
    verify.add_argument("--format", choices=["text", "json"], default="text")
    prove = add(
        "prove", _integrity_cmds.prove, "Make an inclusion proof for one event (checked offline by verify_proof.py)."
    )
    prove.add_argument("event_id", help="the event's UUID")
    prove.add_argument("--out", help="write the proof to this file instead of standard output")
    keys = add("keys", _integrity_cmds.keys, "Generate an Ed25519 checkpoint signing key pair.")
    keys.add_argument("action", choices=["generate"])
    keys.add_argument("--dir", help="where to write <key_id>.key and .pub (default: <home>/keys)")

    retention = add(
        "retention", _integrity_cmds.retention, "Forget the months of the log before a cutoff (dry run unless --apply)."
    )
    retention.add_argument(
        "--before", type=_integrity_cmds.parse_month, required=True, help="first month kept, e.g. 2019-01"
    )
    retention.add_argument("--apply", action="store_true", help="remove them; without it, only list what would go")

    broker = add("broker", _infra_cmds.broker, "Start, stop or check the local Kafka broker (KRaft, 127.0.0.1).")
    broker.add_argument("action", choices=["start", "stop", "status"])
    add("topics", _infra_cmds.topics, "Create the audit and dead-letter topics if missing.")
    db = add("db", _infra_cmds.db, "Apply the ClickHouse migrations in infra/clickhouse/migrations.")
    db.add_argument("action", choices=["migrate"])
    schemas = add("schemas", _infra_cmds.schemas, "Check for unreleased schema edits, or release them.")
    schemas.add_argument("action", choices=["check", "freeze"])
    _add_ops_commands(add)
    return parser


def _add_ops_commands(add: Callable[[str, Handler, str], argparse.ArgumentParser]) -> None:
    from pdtrail._cli import _ops_cmds

    health = add("health", _ops_cmds.health, "Check Kafka, the consumer and the store; exit 0 if healthy, else 1.")
    health.add_argument("--format", choices=["table", "json"], default="table")
    cluster = add("cluster", _ops_cmds.cluster, "Start, stop or check a local 3-node Kafka cluster (RF 3, min ISR 2).")
    cluster.add_argument("action", choices=["start", "stop", "status"])
    dlq = add("dlq", _ops_cmds.dlq, "List the dead letters, or re-drive them to the event topic after a fix.")
    dlq.add_argument("action", choices=["list", "redrive"])
    dlq.add_argument("--format", choices=["table", "json"], default="table", help="for list")
    dlq.add_argument("--dry-run", action="store_true", help="for redrive: show what would go, publish nothing")
    dlq.add_argument("--all", action="store_true", help="for redrive: every letter, also those re-driven before")


LONG_RUNNING = ("serve", "consume", "desk")


def _until_stopped(args: argparse.Namespace, settings: Settings, console: Console, errors: Console) -> int:
    """A long-running command, stopped by SIGTERM or SIGINT the same clean way at any moment: before it
    installs its own handlers (which finish the batch and write the final checkpoint) a signal unwinds
    it through its clean-up, and an owner file it wrote is removed. Exit 0 either way."""
    import os

    from pdtrail._process import Shutdown, shutdown_on_signals
    from pdtrail.store._owner import remove_owner_if

    with shutdown_on_signals():
        try:
            return int(args.handler(args, settings, console))
        except Shutdown as stopped:
            errors.print(f"stopped by signal {stopped.signum}")
            return 0
        finally:
            remove_owner_if(settings, os.getpid())


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("pdtrail.librdkafka").setLevel(logging.INFO if args.verbose else logging.ERROR)
    # Piped output keeps whole rows: a DPO's table is read in a file or a ticket, not on an 80-column screen.
    console = Console(stderr=False, width=None if sys.stdout.isatty() else 200)
    errors = Console(stderr=True, soft_wrap=True)
    # Whatever pdtrail writes (store, broker data, keys, spool) and whatever it starts (the broker's JVM)
    # is for the owner alone: the home directory is 0700 and files are created without group/other bits.
    restrict_umask()
    try:
        from pdtrail._cli._local import with_local_secrets

        loaded = load_settings()
        if loaded.home.exists() or args.command in ("demo", "serve", "consume", "desk", "broker", "cluster", "db"):
            private_dir(loaded.home)
        settings = with_local_secrets(loaded, errors, create=args.command == "demo")
        if args.command in LONG_RUNNING:
            return _until_stopped(args, settings, console, errors)
        return int(args.handler(args, settings, console))
    except PdtrailError as exc:
        errors.print(f"[red]pdtrail: {exc}[/]")
        return 2
    except KeyboardInterrupt:
        errors.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
