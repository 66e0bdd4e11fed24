"""``pdtrail demo``: SDK → Kafka → consumer → ClickHouse → the DPO's answer, on the embedded defaults."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from typing import Any

from clickhouse_connect.driver.client import Client
from rich.console import Console

from pdtrail._cli._infra_cmds import local_broker
from pdtrail._cli._output import print_result
from pdtrail.config import RegisterSettings, Settings
from pdtrail.consumers import AuditConsumer
from pdtrail.infra import apply_migrations, ensure_jars, ensure_topics
from pdtrail.producers import AuditEmitter, Pseudonymiser
from pdtrail.queries import LocalQueries, QueryResult, SubjectLineage, findings
from pdtrail.schemas import PersonalDataAccessed
from pdtrail.simulate import simulate_company, simulate_findings
from pdtrail.store import connect


def _prove_the_log(settings: Settings, client: Client, console: Console) -> None:
    """The answer is only worth its proof: verify the whole log, and prove one event of the answer."""
    from pdtrail.integrity import prove, public_keys_from_settings, read_external, verify

    keys = public_keys_from_settings(settings)
    started = time.perf_counter()
    report = verify(client, keys, read_external(settings))
    state = "[green]intact[/]" if report.ok else f"[red]{len(report.findings)} findings[/]"
    console.print(
        f"\n[green]✓[/] log verified: {report.rows} rows under {report.checkpoints} signed checkpoints, "
        f"{state} ({time.perf_counter() - started:.1f}s; `pdtrail verify`)"
    )
    event_id = client.query("SELECT toString(event_id) FROM events ORDER BY occurred_at LIMIT 1").result_rows[0][0]
    proof_path = settings.home / "demo-proof.json"
    proof_path.write_text(json.dumps(prove(client, event_id, keys), indent=2))
    console.print(f"[green]✓[/] inclusion proof for event {event_id}: {proof_path}")
    console.print(f"  check it offline: python integrity/verify_proof.py {proof_path}")


def _find_violations(client: Client, journeys: list[Any], console: Console) -> None:
    """The DPO's second question: what in this log breaks the register or a subject's own choices?"""
    last = max(event.occurred_at for _, event in journeys)
    found = findings(LocalQueries(client), as_of=last + dt.timedelta(days=60))
    console.print("\nThe DPO asks: what processing broke the register, a consent withdrawal, an erasure, ...?\n")
    columns = ["kind", "occurred_at", "event_type", "purpose", "actor_id", "detail"]
    rows = [tuple(getattr(f, c) for c in columns) for f in found]
    print_result(QueryResult(columns, [], rows), "table", "Findings (`pdtrail findings`)", console)


def demo(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    broker = local_broker(settings)
    started_here = not broker.is_running()
    try:
        with console.status("resolving the Kafka jars from Maven Central (first run only)…"):
            ensure_jars()
        with console.status(f"starting Kafka (KRaft) on {broker.bootstrap_servers}…"):
            broker.start()
            ensure_topics(settings)
        console.print(f"[green]✓[/] Kafka running on {broker.bootstrap_servers}")
        client = connect(settings)
        apply_migrations(client)
        console.print(f"[green]✓[/] ClickHouse schema applied in {settings.store_dsn}")

        journeys = list(simulate_company(args.subjects, seed=args.seed))
        planted = simulate_findings(journeys)
        started = time.perf_counter()
        with AuditEmitter(settings) as emitter, console.status(f"emitting {len(journeys)} events…"):
            for _, event in journeys:
                emitter.emit(event)
            for plant in planted:
                if not plant.outside_register:
                    emitter.emit(plant.event)
            left = emitter.flush(60)
        # A service that predates the processing register: recorded, not refused — and found below.
        legacy_settings = settings.model_copy(update={"processing_register": RegisterSettings(mode="record")})
        with AuditEmitter(legacy_settings) as legacy:
            for plant in planted:
                if plant.outside_register:
                    legacy.emit(plant.event)
            left += legacy.flush(60)
        emitted = time.perf_counter() - started
        total = len(journeys) + len(planted)
        console.print(
            f"[green]✓[/] emitted {total} events for {args.subjects} subjects in {emitted:.1f}s "
            f"through the SDK ({left} unconfirmed; {len(planted)} of them planted violations)"
        )
        started = time.perf_counter()
        with console.status("consuming into ClickHouse…"):
            stats = AuditConsumer(settings, client).run(drain=True)
        console.print(
            f"[green]✓[/] consumed {stats.consumed}, stored {stats.stored}, dead-lettered {stats.dead_lettered} "
            f"in {time.perf_counter() - started:.1f}s"
        )
        # The subject with the most staff accesses makes the most telling answer.
        accesses: dict[str, int] = {}
        for subject, event in journeys:
            if isinstance(event, PersonalDataAccessed):
                accesses[subject.personnummer] = accesses.get(subject.personnummer, 0) + 1
        chosen = max(accesses, key=lambda k: accesses[k])
        lineage = SubjectLineage(LocalQueries(client), Pseudonymiser.from_settings(settings))
        console.print(
            f"\nThe DPO asks: who accessed the data of the subject with personnummer {chosen[:8]}-{chosen[8:]}?\n"
            "(a generated number; only its HMAC pseudonym is in Kafka and ClickHouse)\n"
        )
        print_result(lineage.who_accessed(chosen), "table", "Who accessed this subject's data", console)
        _find_violations(client, journeys, console)
        _prove_the_log(settings, client, console)
        console.print(f"\nTry: pdtrail timeline {chosen[:8]}-{chosen[8:]}   (uses the same store and secret)")
    finally:
        if started_here and not args.keep_broker:
            broker.stop()
            console.print("[green]✓[/] Kafka stopped")
        elif broker.is_running():
            console.print(f"Kafka still running (pid {broker.pid()}); stop it with: pdtrail broker stop")
    return 0
