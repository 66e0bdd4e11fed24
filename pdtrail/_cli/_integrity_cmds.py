"""``pdtrail verify``, ``pdtrail prove``, ``pdtrail keys generate``."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rich.console import Console

from pdtrail._cli._output import progress_bar
from pdtrail.config import Settings
from pdtrail.infra import apply_retention, cluster_layout, expired_partitions, retention_cutoff
from pdtrail.integrity import IntegrityError, generate_key_files, public_keys_from_settings, read_external
from pdtrail.integrity import prove as make_proof
from pdtrail.integrity import verify as run_verify
from pdtrail.store import connect


def verify(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    client = connect(settings)
    keys = public_keys_from_settings(settings)
    external = None
    if not args.no_external:
        with console.status(f"reading the external copy ({settings.integrity.checkpoint_topic})…"):
            external = read_external(settings)
    started = time.perf_counter()
    with progress_bar(console, transient=True) as bar:
        task = bar.add_task("verifying", total=None)
        report = run_verify(
            client, keys, external, since=args.since, until=args.until, retention_cutoff=retention_cutoff(client),
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )  # fmt: skip
    seconds = time.perf_counter() - started
    if args.format == "json":
        findings = [f.__dict__ for f in report.findings]
        print(json.dumps({"ok": report.ok, **_counts(report), "seconds": round(seconds, 3), "findings": findings}))
        return 0 if report.ok else 1
    witness = "without the external copy" if args.no_external else f"against {settings.integrity.checkpoint_topic}"
    summary = (
        f"{report.partitions} partitions, {report.checkpoints} checkpoints, {report.rows} rows in {seconds:.1f}s "
        f"({witness})"
    )
    if report.uncovered_rows:
        summary += f"; {report.uncovered_rows} newest rows not yet covered by a checkpoint"
    if report.retired_rows:
        summary += f"; {report.retired_rows} signed rows dropped by retention, as entitled"
    if report.ok:
        console.print(f"[green]OK[/]: {summary}")
        return 0
    console.print(f"[red]FAILED[/]: {summary}; {len(report.findings)} findings. First per partition:")
    for finding in report.first_per_partition():
        console.print(f"  {finding}")
    if args.all:
        console.print("All findings:")
        for finding in report.findings:
            console.print(f"  {finding}")
    return 1


def _counts(report: object) -> dict[str, int]:
    names = ("partitions", "checkpoints", "rows", "uncovered_rows", "retired_rows")
    return {k: getattr(report, k) for k in names}


def retention(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    """List (or, with --apply, forget) the months before the cutoff."""
    year, month = args.before
    cutoff = year * 100 + month
    client, cluster = connect(settings), cluster_layout(settings)
    expired = expired_partitions(client, cutoff, cluster)
    if not expired:
        console.print(f"nothing stored before {year}-{month:02d}")
        return 0
    listing = ", ".join(f"{p[:4]}-{p[4:]} ({n} rows)" for p, n in expired)
    if not args.apply:
        console.print(f"would forget: {listing}\nrun again with --apply to remove them")
        return 0
    apply_retention(client, cutoff, cluster)
    console.print(f"forgotten: {listing}; `pdtrail verify` now expects them gone")
    return 0


def parse_month(text: str) -> tuple[int, int]:
    try:
        year, month = (int(part) for part in text.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a month: {text!r} (use 2019-01)") from None
    if not (1970 <= year <= 2200 and 1 <= month <= 12):
        raise argparse.ArgumentTypeError(f"not a month: {text!r} (use 2019-01)")
    return year, month


def prove(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    proof = make_proof(connect(settings), args.event_id, public_keys_from_settings(settings))
    text = json.dumps(proof, indent=2, ensure_ascii=False)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
        console.print(f"proof written to {args.out}; check it with: python integrity/verify_proof.py {args.out}")
    else:
        print(text)
    return 0


def keys(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    directory = Path(args.dir) if args.dir else settings.home / "keys"
    try:
        key_file, pub_file = generate_key_files(directory)
    except FileExistsError as exc:
        raise IntegrityError(f"{exc.filename} exists already") from None
    console.print(f"signing key: {key_file} (keep it secret; set PDTRAIL_INTEGRITY__SIGNING_KEY_FILE to it)")
    console.print(f"public key:  {pub_file} (give it to auditors; keep it in PDTRAIL_INTEGRITY__PUBLIC_KEYS_DIR)")
    return 0
