"""Migration 0006 moves a store that was filled on the monthly layout: the log, its proofs and every answer stay."""

from __future__ import annotations

from typing import Any

from clickhouse_connect.driver.client import Client

from pdtrail.config import Settings
from pdtrail.consumers import AuditConsumer
from pdtrail.infra import apply_migrations, ensure_topics
from pdtrail.integrity import public_keys_from_settings, read_external
from pdtrail.integrity._prove import prove
from pdtrail.integrity._verify import verify
from pdtrail.integrity.verify_proof import check_proof
from pdtrail.producers import AuditEmitter, Pseudonymiser
from pdtrail.queries import LocalQueries, SubjectLineage, findings
from pdtrail.simulate import simulate_company
from pdtrail.store import connect


def _emit_and_consume(settings: Settings, subjects: int, seed: int) -> list[str]:
    people = []
    with AuditEmitter(settings) as emitter:
        for subject, event in simulate_company(subjects, seed=seed):
            emitter.emit(event)
            people.append(subject.personnummer)
    AuditConsumer(settings, connect(settings)).run(drain=True)
    return sorted(set(people))


def _table(client: Client, name: str) -> tuple[str, str]:
    row = client.query(
        "SELECT partition_key, sorting_key FROM system.tables WHERE database = currentDatabase() AND name = {n:String}",
        parameters={"n": name},
    ).result_rows[0]
    return str(row[0]), str(row[1])


def _answers(client: Client, settings: Settings, people: list[str]) -> dict[str, Any]:
    backend = LocalQueries(client)
    lineage = SubjectLineage(backend, Pseudonymiser.from_settings(settings))
    return {
        "who_accessed": [lineage.who_accessed(p).rows for p in people],
        "timeline": [lineage.timeline(p).rows for p in people],
        "findings": [f.as_dict() for f in findings(backend)],
        "subject_findings": [[f.as_dict() for f in findings(backend, lineage.subject_keys(p))] for p in people[:5]],
    }


def test_a_monthly_store_migrates_keeps_its_proofs_and_answers_and_takes_new_events(settings: Settings) -> None:
    settings = settings.model_copy(
        update={"consumer": settings.consumer.model_copy(update={"batch_size": 25})}
    )  # several checkpoints per partition
    ensure_topics(settings)
    client = connect(settings)
    applied = apply_migrations(client, until=5)
    assert applied[-1].startswith("0005_") and _table(client, "events")[0] == "toYYYYMM(occurred_at)"
    people = _emit_and_consume(settings, subjects=30, seed=41)
    months = client.query("SELECT uniqExact(toYYYYMM(occurred_at)) FROM events").result_rows[0][0]
    assert months >= 3  # the old layout held several monthly partitions
    keys, external = public_keys_from_settings(settings), read_external(settings)
    before = verify(client, keys, external)
    assert before.ok and before.rows > 0, [str(f) for f in before.findings]
    answers = _answers(client, settings, people)
    assert any(answers["who_accessed"]) and any(answers["timeline"])
    event_id = str(client.query("SELECT event_id FROM events ORDER BY kafka_offset LIMIT 1").result_rows[0][0])
    proof_before = prove(client, event_id, keys)

    assert apply_migrations(client, until=6) == ["0006_events_one_range_per_subject"]
    assert apply_migrations(client, until=6) == []  # recorded: never applied twice
    assert _table(client, "events") == ("", "subject_key, occurred_at, event_id")
    old_rows = client.query("SELECT count() FROM events_before_0006").result_rows[0][0]
    assert old_rows == before.rows == client.query("SELECT count() FROM events").result_rows[0][0]
    assert _table(client, "events_before_0006")[0] == "toYYYYMM(occurred_at)"  # the old table, kept as it was

    after = verify(client, keys, external)
    assert after.ok and after.rows == before.rows and after.checkpoints == before.checkpoints
    assert _answers(client, settings, people) == answers
    proof_after = prove(client, event_id, keys)
    assert check_proof(proof_after) is None and proof_after == proof_before

    # The consumer goes on writing into the new table; the chain of checkpoints goes on too.
    _emit_and_consume(settings, subjects=10, seed=42)
    extended = verify(client, keys, read_external(settings))  # the checkpoint topic holds the new ones too
    assert extended.ok and extended.rows > before.rows, [str(f) for f in extended.findings]
