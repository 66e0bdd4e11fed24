"""Migration 0007 moves a store whose checkpoints were signed with 8-byte leaf prefixes: the log, its proofs and
every answer stay; new checkpoints keep 4-byte prefixes and the chain verifies across the two."""

from __future__ import annotations

import pytest
from clickhouse_connect.driver.client import Client

from pdtrail.config import Settings
from pdtrail.infra import apply_migrations, ensure_topics
from pdtrail.integrity import _recorder, public_keys_from_settings, read_external
from pdtrail.integrity._checkpoint import PREFIX_BYTES
from pdtrail.integrity._prove import prove
from pdtrail.integrity._verify import verify
from pdtrail.integrity.verify_proof import check_proof
from pdtrail.store import connect

from .test_migration_0006 import _answers, _emit_and_consume


def _ingested_type(client: Client) -> str:
    found = client.query(
        "SELECT type FROM system.columns WHERE database = currentDatabase() AND table = 'events' "
        "AND name = 'ingested_at'"
    ).result_rows
    return str(found[0][0])


def _prefix_lengths(client: Client) -> set[int]:
    rows = client.query("SELECT DISTINCT length(arrayJoin(leaf_prefixes)) FROM checkpoints").result_rows
    return {int(r[0]) for r in rows}


def test_a_store_signed_with_long_prefixes_migrates_and_keeps_its_proofs(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings.model_copy(
        update={"consumer": settings.consumer.model_copy(update={"batch_size": 25})}
    )  # several checkpoints per partition
    ensure_topics(settings)
    client = connect(settings)
    assert apply_migrations(client, until=6)[-1].startswith("0006_")
    assert _ingested_type(client) == "DateTime64(6, 'UTC')"
    with monkeypatch.context() as old_version:  # the consumer as it signed before: 8 bytes of each leaf
        old_version.setattr(_recorder, "PREFIX_BYTES", 8)
        people = _emit_and_consume(settings, subjects=30, seed=51)
    assert _prefix_lengths(client) == {16}
    written = [
        r[0] for r in client.query("SELECT ingested_at FROM events ORDER BY kafka_partition, kafka_offset").result_rows
    ]
    assert any(t.microsecond % 1000 for t in written)  # microseconds were stored
    keys, external = public_keys_from_settings(settings), read_external(settings)
    before = verify(client, keys, external)
    assert before.ok and before.rows > 0, [str(f) for f in before.findings]
    answers = _answers(client, settings, people)
    assert any(answers["who_accessed"]) and any(answers["timeline"])
    event_id = str(client.query("SELECT event_id FROM events ORDER BY kafka_offset LIMIT 1").result_rows[0][0])
    proof_before = prove(client, event_id, keys)

    assert apply_migrations(client) == ["0007_ingested_at_to_the_millisecond"]
    assert apply_migrations(client) == []  # recorded: never applied twice
    assert _ingested_type(client) == "DateTime64(3, 'UTC')"
    kept = [
        r[0] for r in client.query("SELECT ingested_at FROM events ORDER BY kafka_partition, kafka_offset").result_rows
    ]
    assert kept == [t.replace(microsecond=t.microsecond - t.microsecond % 1000) for t in written]

    after = verify(client, keys, external)
    assert after.ok and after.rows == before.rows and after.checkpoints == before.checkpoints
    assert _answers(client, settings, people) == answers
    proof_after = prove(client, event_id, keys)
    assert check_proof(proof_after) is None and proof_after == proof_before

    # The consumer goes on with shorter prefixes; the chain verifies across the old and the new checkpoints.
    _emit_and_consume(settings, subjects=10, seed=52)
    assert _prefix_lengths(client) == {16, 2 * PREFIX_BYTES}
    extended = verify(client, keys, read_external(settings))
    assert extended.ok and extended.rows > before.rows, [str(f) for f in extended.findings]
    assert extended.checkpoints > before.checkpoints


def test_a_row_changed_under_a_long_prefix_checkpoint_is_still_named(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ensure_topics(settings)
    client = connect(settings)
    apply_migrations(client)
    with monkeypatch.context() as old_version:
        old_version.setattr(_recorder, "PREFIX_BYTES", 8)
        _emit_and_consume(settings, subjects=5, seed=53)
    assert _prefix_lengths(client) == {16}
    event_id = str(client.query("SELECT event_id FROM events ORDER BY kafka_offset LIMIT 1").result_rows[0][0])
    client.command(
        "ALTER TABLE events UPDATE purpose = 'marketing' WHERE event_id = {e:UUID}",
        parameters={"e": event_id},
        settings={"mutations_sync": 2},
    )
    report = verify(client, public_keys_from_settings(settings), read_external(settings))
    named = [(f.kind, f.event_id) for f in report.findings]
    assert named == [("modified", event_id)], [str(f) for f in report.findings]  # that row, and no other
