"""Poison messages land in the dead-letter topic with their reason and origin; ingest carries on."""

from __future__ import annotations

import os
from io import BytesIO

from confluent_kafka import Producer
from fastavro import schemaless_writer

from pdtrail.config import Settings
from pdtrail.consumers import DEAD_LETTER_HEADER_PREFIX, AuditConsumer
from pdtrail.producers import AuditEmitter
from pdtrail.schemas import SchemaCatalog
from pdtrail.schemas._wire import MARKER
from pdtrail.simulate import simulate_company
from pdtrail.store import connect
from tests.integration.helpers import read_topic, stored_counts


def _invalid_but_decodable() -> bytes:
    """Valid Avro for the current schema whose content breaks the contract (subject key not a key)."""
    writer = SchemaCatalog.default().current("pdtrail.PersonalDataAccessed")
    record = {
        "envelope": {
            "event_id": "6f1c1f0e-9a38-4b8e-9d7e-6a1b2c3d4e5f", "occurred_at": 1_700_000_000_000_000,
            "subject": {"key": "not-a-key", "key_version": 1, "kind": "personnummer"},
            "actor": {"type": "employee", "id": "emp-1", "role": "support"}, "purpose": "customer_service",
            "legal_basis": "contract", "data_categories": ["name"], "source_system": "crm", "correlation_id": None,
        },
        "access_kind": "view", "resource": "customer-record",
    }  # fmt: skip
    buf = BytesIO()
    schemaless_writer(buf, writer.parsed, record)
    return MARKER + writer.fingerprint + buf.getvalue()


def test_poison_goes_to_dead_letters_and_good_events_are_stored(pipeline: Settings) -> None:
    good = [e for _, e in simulate_company(5, seed=5)]
    current = SchemaCatalog.default().current("pdtrail.PersonalDataShared")
    poison = {
        "random bytes": os.urandom(64),
        "unknown fingerprint": MARKER + b"\x00" * 8 + b"\x02",
        "truncated body": _truncated(pipeline),
        "invalid content": _invalid_but_decodable(),
        "empty": b"",
        "marker only": MARKER + current.fingerprint,
    }
    with AuditEmitter(pipeline) as emitter:
        for event in good[: len(good) // 2]:
            emitter.emit(event)
        emitter.flush(10)
        raw = Producer({"bootstrap.servers": pipeline.kafka.bootstrap_servers})
        for name, value in poison.items():
            raw.produce(pipeline.kafka.topic, value=value, key=name.encode())
        raw.flush(10)
        for event in good[len(good) // 2 :]:
            emitter.emit(event)

    client = connect(pipeline)
    stats = AuditConsumer(pipeline, client).run(drain=True)
    assert stats.dead_lettered == len(poison)
    assert stored_counts(client) == (len(good), len(good))

    letters = read_topic(pipeline, pipeline.kafka.dead_letter_topic, expected=len(poison))
    assert len(letters) == len(poison)
    by_key = {m.key().decode(): m for m in letters}
    assert set(by_key) == set(poison)
    for name, value in poison.items():
        msg = by_key[name]
        headers = {k.removeprefix(DEAD_LETTER_HEADER_PREFIX): v.decode() for k, v in msg.headers()}
        assert (msg.value() or b"") == value, name
        assert headers["topic"] == pipeline.kafka.topic
        assert int(headers["offset"]) >= 0 and int(headers["partition"]) in range(pipeline.kafka.partitions)
        assert headers["reason"], name
    assert "unknown writer schema" in dict(by_key["unknown fingerprint"].headers())["pdtrail-dlq-reason"].decode()
    invalid = {k: v.decode() for k, v in by_key["invalid content"].headers()}
    assert invalid["pdtrail-dlq-error"] == "invalid" and "subject.key" in invalid["pdtrail-dlq-reason"]


def _truncated(settings: Settings) -> bytes:
    from pdtrail.producers import Pseudonymiser
    from pdtrail.schemas import EventCodec

    _, event = next(iter(simulate_company(1, seed=9)))
    pseudonymous = event.model_copy(
        update={"subject": Pseudonymiser.from_settings(settings).pseudonymise(event.subject)}
    )
    return EventCodec().encode(pseudonymous)[:-7]
