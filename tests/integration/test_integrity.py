"""Tampering done directly in ClickHouse after ingest is detected by verify and named; proofs hold offline."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from pdtrail.config import Settings
from pdtrail.consumers import AuditConsumer
from pdtrail.integrity import _verify as _verify_module
from pdtrail.integrity import public_keys_from_settings, read_external
from pdtrail.integrity._prove import prove
from pdtrail.integrity._verify import VerifyReport, verify
from pdtrail.integrity.exceptions import IntegrityError
from pdtrail.integrity.verify_proof import check_proof
from pdtrail.producers import AuditEmitter
from pdtrail.simulate import simulate_company
from pdtrail.store import connect

VERIFY_PROOF = Path(__file__).parents[2] / "integrity" / "verify_proof.py"
MUTATE = {"mutations_sync": 2}


def _small_batches(settings: Settings) -> Settings:
    """Batches of 25 rows and a checkpoint every 40: several checkpoints per partition."""
    return settings.model_copy(update={
        "consumer": settings.consumer.model_copy(update={"batch_size": 25}),
        "integrity": settings.integrity.model_copy(update={"checkpoint_every_events": 40}),
    })  # fmt: skip


def _ingest(settings: Settings, subjects: int = 40, seed: int = 31) -> Client:
    settings = _small_batches(settings)
    with AuditEmitter(settings) as emitter:
        for _, event in simulate_company(subjects, seed=seed):
            emitter.emit(event)
    client = connect(settings)
    AuditConsumer(settings, client).run(drain=True)
    return client


def _verify(settings: Settings, client: Client) -> VerifyReport:
    return verify(client, public_keys_from_settings(settings), read_external(settings))


def _row(client: Client, position: str = "min") -> tuple[str, int, int]:
    """(event id, partition, offset) of a row in the middle of partition 0's first checkpoint."""
    event_id, partition, offset = client.query(
        "SELECT toString(event_id), kafka_partition, kafka_offset FROM events WHERE kafka_partition = 0 "
        f"ORDER BY kafka_offset LIMIT 1 OFFSET {5 if position == 'min' else 6}"
    ).result_rows[0]
    return event_id, int(partition), int(offset)


@pytest.fixture
def ingested(pipeline: Settings) -> tuple[Settings, Client]:
    client = _ingest(pipeline)
    report = _verify(pipeline, client)
    assert report.ok, [str(f) for f in report.findings]
    per_partition = client.query("SELECT max(seq) FROM checkpoints GROUP BY partition").result_rows
    assert all(row[0] >= 1 for row in per_partition)  # at least two checkpoints in every partition
    assert report.rows == client.query("SELECT count() FROM events").result_rows[0][0]
    assert report.uncovered_rows == 0  # a drained run ends with a checkpoint
    return pipeline, client


def _kinds(report: VerifyReport) -> set[str]:
    return {f.kind for f in report.findings}


@pytest.mark.parametrize("window_rows", [None, 1])
def test_modified_field_is_named(
    ingested: tuple[Settings, Client], window_rows: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``window_rows`` 1: every checkpoint's rows read on their own."""
    if window_rows is not None:
        monkeypatch.setattr(_verify_module, "WINDOW_ROWS", window_rows)
    settings, client = ingested
    event_id, _, offset = _row(client)
    client.command(f"ALTER TABLE events UPDATE purpose = 'marketing' WHERE event_id = '{event_id}'", settings=MUTATE)
    report = _verify(settings, client)
    assert [(f.kind, f.event_id, f.offset) for f in report.findings] == [("modified", event_id, offset)]


def test_deleted_row_is_named(ingested: tuple[Settings, Client]) -> None:
    settings, client = ingested
    _, partition, offset = _row(client)
    client.command(f"ALTER TABLE events DELETE WHERE kafka_partition = {partition} AND kafka_offset = {offset}",
                   settings=MUTATE)  # fmt: skip
    report = _verify(settings, client)
    assert [(f.kind, f.partition, f.offset) for f in report.findings] == [("deleted", partition, offset)]


def test_forged_row_is_named(ingested: tuple[Settings, Client]) -> None:
    settings, client = ingested
    event_id, _, offset = _row(client)
    forged = uuid.UUID("11111111-2222-4333-8444-555555555555")
    original = client.query(f"SELECT * FROM events WHERE event_id = '{event_id}'")
    row = dict(zip(original.column_names, original.result_rows[0], strict=True))
    row.update(event_id=forged, purpose="fraud")  # a row claiming a real position in the log
    client.insert("events", [list(row.values())], column_names=list(row))
    report = _verify(settings, client)
    assert [(f.kind, f.event_id, f.offset) for f in report.findings] == [("inserted", str(forged), offset)]


def test_swapped_rows_are_reported_as_reordered(ingested: tuple[Settings, Client]) -> None:
    settings, client = ingested
    first, partition, a = _row(client, "min")
    second, _, b = _row(client, "next")
    # Swap the two rows' positions in the log: each now claims the other's offset.
    client.command(
        f"ALTER TABLE events UPDATE kafka_offset = if(kafka_offset = {a}, {b}, {a}) "
        f"WHERE kafka_partition = {partition} AND kafka_offset IN ({a}, {b})",
        settings=MUTATE,
    )
    report = _verify(settings, client)
    assert {(f.kind, f.event_id) for f in report.findings} == {("reordered", first), ("reordered", second)}


def test_deleted_checkpoint_is_detected_against_the_external_copy(ingested: tuple[Settings, Client]) -> None:
    settings, client = ingested
    client.command("ALTER TABLE checkpoints DELETE WHERE partition = 0 AND seq = 1", settings=MUTATE)
    report = _verify(settings, client)
    assert [(f.kind, f.partition, f.seq) for f in report.findings] == [("checkpoint missing", 0, 1)]
    # Without the external copy the gap in the chain still shows, if a later checkpoint exists.
    alone = verify(client, public_keys_from_settings(settings), None)
    assert all(f.kind == "checkpoint missing" for f in alone.findings)


def test_forged_signature_is_detected(ingested: tuple[Settings, Client]) -> None:
    settings, client = ingested
    client.command(
        "ALTER TABLE checkpoints UPDATE signature = concat(substring(signature, 1, 10), "
        "if(substring(signature, 11, 1) = 'a', 'b', 'a'), substring(signature, 12)) WHERE partition = 0 AND seq = 0",
        settings=MUTATE,
    )
    report = _verify(settings, client)
    assert ("checkpoint conflict", 0) in {(f.kind, f.partition) for f in report.findings}
    alone = verify(client, public_keys_from_settings(settings), None)  # no witness: the signature itself fails
    assert [(f.kind, f.seq) for f in alone.findings] == [("checkpoint forged", 0)]


def test_truncated_tail_is_detected(ingested: tuple[Settings, Client]) -> None:
    settings, client = ingested
    last = int(client.query("SELECT max(kafka_offset) FROM events WHERE kafka_partition = 0").result_rows[0][0])
    client.command(f"ALTER TABLE events DELETE WHERE kafka_partition = 0 AND kafka_offset > {last - 3}",
                   settings=MUTATE)  # fmt: skip
    client.command(f"ALTER TABLE checkpoints DELETE WHERE partition = 0 AND last_offset >= {last - 3}", settings=MUTATE)
    report = _verify(settings, client)
    # The tail's checkpoint is gone from ClickHouse, but its external copy still lists the rows.
    assert _kinds(report) == {"checkpoint missing", "deleted"}
    assert {f.offset for f in report.findings if f.kind == "deleted"} == {last - 2, last - 1, last}


def test_proof_verifies_offline_and_fails_when_altered(ingested: tuple[Settings, Client], tmp_path: Path) -> None:
    settings, client = ingested
    event_id, _, _ = _row(client)
    proof = prove(client, event_id, public_keys_from_settings(settings))
    assert check_proof(proof) is None
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(proof))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    ok = subprocess.run([sys.executable, str(VERIFY_PROOF), str(path)], capture_output=True, text=True, env=env)
    assert ok.returncode == 0 and ok.stdout.startswith(f"VALID: event {event_id}")

    proof["event"]["purpose"] = "marketing"
    path.write_text(json.dumps(proof))
    bad = subprocess.run([sys.executable, str(VERIFY_PROOF), str(path)], capture_output=True, text=True, env=env)
    assert bad.returncode == 1 and bad.stdout.startswith("INVALID: step 3")

    other = base64.b64encode(os.urandom(32)).decode()
    forged = {**json.loads(json.dumps(proof)), "public_key": other}
    assert check_proof(forged) is not None


def test_rotated_key_keeps_old_checkpoints_verifiable(pipeline: Settings, tmp_path: Path) -> None:
    from pdtrail.integrity import generate_key_files

    first_key, first_pub = generate_key_files(tmp_path / "old")
    old = pipeline.model_copy(update={"integrity": pipeline.integrity.model_copy(
        update={"signing_key": None, "signing_key_file": first_key})})  # fmt: skip
    client = _ingest(old, subjects=10, seed=1)
    _ingest(pipeline, subjects=10, seed=2)  # the session's key signs from here on
    keys_dir = tmp_path / "public"
    keys_dir.mkdir()
    (keys_dir / first_pub.name).write_bytes(first_pub.read_bytes())
    rotated = pipeline.model_copy(
        update={"integrity": pipeline.integrity.model_copy(update={"public_keys_dir": keys_dir})}
    )
    report = _verify(rotated, client)
    assert report.ok and len({c for c in client.query("SELECT DISTINCT key_id FROM checkpoints").result_rows}) == 2
    forgotten = _verify(pipeline, client)  # the old public key is not configured
    assert {f.kind for f in forgotten.findings} == {"checkpoint forged"}


@pytest.mark.parametrize("window_rows", [None, 40])
def test_row_forged_at_a_dead_lettered_offset_is_named(
    pipeline: Settings, window_rows: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dead-lettered message leaves an offset no checkpoint lists: still no place for a row. With reads of
    40 rows (one checkpoint each) the hole lies between two reads, and the row is named all the same."""
    if window_rows is not None:
        monkeypatch.setattr(_verify_module, "WINDOW_ROWS", window_rows)
    from confluent_kafka import Producer

    settings = _small_batches(pipeline)
    events = [e for _, e in simulate_company(6, seed=8)]
    with AuditEmitter(settings) as emitter:
        for event in events[:20]:
            emitter.emit(event)
        emitter.flush(10)
        raw = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers})
        raw.produce(settings.kafka.topic, value=b"poison", key=b"x", partition=0)
        raw.flush(10)
        for event in events[20:]:
            emitter.emit(event)
    client = connect(settings)
    stats = AuditConsumer(settings, client).run(drain=True)
    assert stats.dead_lettered == 1
    assert _verify(settings, client).ok
    stored = {int(r[0]) for r in client.query("SELECT kafka_offset FROM events WHERE kafka_partition = 0").result_rows}
    hole = min(set(range(max(stored))) - stored)  # the poison's offset
    original = client.query(f"SELECT * FROM events WHERE kafka_partition = 0 AND kafka_offset = {min(stored)}")
    row = dict(zip(original.column_names, original.result_rows[0], strict=True))
    forged = uuid.UUID("22222222-3333-4444-8555-666666666666")
    row.update(event_id=forged, kafka_offset=hole)
    client.insert("events", [list(row.values())], column_names=list(row))
    report = _verify(settings, client)
    assert [(f.kind, f.event_id, f.offset) for f in report.findings] == [("inserted", str(forged), hole)]


def test_retention_drops_whole_months_and_verify_expects_them_gone(pipeline: Settings) -> None:
    from pdtrail.infra import apply_retention, expired_partitions, retention_cutoff

    client = _ingest(pipeline, subjects=30, seed=12)
    months = sorted({int(r[0]) for r in client.query("SELECT DISTINCT toYYYYMM(occurred_at) FROM events").result_rows})
    assert len(months) >= 3
    cutoff = months[len(months) // 2]
    expired = expired_partitions(client, cutoff)
    gone = sum(n for _, n in expired)
    assert [int(p) for p, _ in expired] == [m for m in months if m < cutoff] and gone > 0

    # Deleting rows of those months by hand is tampering; dropping them by retention is not.
    assert apply_retention(client, cutoff) == expired
    assert retention_cutoff(client) == cutoff
    assert client.query(f"SELECT count() FROM events WHERE toYYYYMM(occurred_at) < {cutoff}").result_rows[0][0] == 0
    report = verify(client, public_keys_from_settings(pipeline), read_external(pipeline), retention_cutoff=cutoff)
    assert report.ok and report.retired_rows == gone
    strict = verify(client, public_keys_from_settings(pipeline), read_external(pipeline))  # no cutoff known
    assert {f.kind for f in strict.findings} == {"deleted"} and len(strict.findings) == gone

    # A kept month's row deleted by hand is still found.
    victim = client.query(
        f"SELECT kafka_partition, kafka_offset FROM events WHERE toYYYYMM(occurred_at) >= {cutoff} LIMIT 1"
    ).result_rows[0]
    client.command(
        f"ALTER TABLE events DELETE WHERE kafka_partition = {victim[0]} AND kafka_offset = {victim[1]}", settings=MUTATE
    )
    report = verify(client, public_keys_from_settings(pipeline), read_external(pipeline), retention_cutoff=cutoff)
    assert [(f.kind, f.partition, f.offset) for f in report.findings] == [("deleted", victim[0], victim[1])]


def test_the_checkpoint_copy_is_read_whole_and_its_absence_is_named(ingested: tuple[Settings, Client]) -> None:
    """The external copy is read by assignment, to the end of every partition: all of it, every time."""
    settings, client = ingested
    stored = client.query("SELECT count() FROM checkpoints").result_rows[0][0]
    assert len(read_external(settings)) == stored
    assert len(read_external(settings)) == stored  # a second reader gets it all again: nothing was committed
    elsewhere = settings.model_copy(
        update={"integrity": settings.integrity.model_copy(update={"checkpoint_topic": "pdtrail.no-such-topic"})}
    )
    with pytest.raises(IntegrityError, match=r"cannot read pdtrail\.no-such-topic"):
        read_external(elsewhere)


def test_an_unreachable_broker_is_named_in_seconds(ingested: tuple[Settings, Client]) -> None:
    settings, _ = ingested
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once the socket is closed
    away = settings.model_copy(
        update={"kafka": settings.kafka.model_copy(update={"bootstrap_servers": f"127.0.0.1:{port}"})}
    )
    with pytest.raises(IntegrityError, match="is Kafka running"):
        read_external(away)
