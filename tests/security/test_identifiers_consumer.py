"""A producer that bypasses the SDK: events whose free-text fields hide a personnummer, a samordningsnummer
or an e-mail address, written as valid Avro straight to the topic, are dead-lettered by the consumer with the
field named, none of them is stored, and the good events around them are stored once (the engine's path is
on: its checks lack the detector, so the bytes pre-filter must send these messages to the models)."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from io import BytesIO

from confluent_kafka import Producer
from fastavro import schemaless_writer

from pdtrail.config import Settings
from pdtrail.consumers import AuditConsumer, read_dead_letters
from pdtrail.producers import AuditEmitter
from pdtrail.schemas._catalog import SchemaCatalog
from pdtrail.schemas._wire import MARKER
from pdtrail.simulate import generate_personnummer, simulate_company
from pdtrail.store import connect
from tests.integration.helpers import stored_counts

FULL_WIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + d) for d in range(10)))
SEPARATORS = ["-", " ", ".", "/", "", "\u00a0", "\u2013", "_"]
FIELDS = ("resource", "correlation_id", "actor.id")


def _spelled(rng: random.Random) -> str:
    """A generated personnummer or samordningsnummer (10 or 12 digits), cut and joined at random, maybe in
    full-width digits, maybe inside a word or a path; or an e-mail address inside a path."""
    if rng.random() < 0.25:
        return f"kund/{rng.choice(['anna', 'k.l', 'x9'])}{rng.randrange(100)}@exempel.se/view"
    digits = generate_personnummer(rng, coordination=rng.random() < 0.3)
    digits = digits if rng.random() < 0.5 else digits[2:]
    cut = rng.randrange(1, len(digits))
    text = digits[:cut] + rng.choice(SEPARATORS) + digits[cut:]
    if rng.random() < 0.3:
        text = text.translate(FULL_WIDTH)
    return rng.choice(["", "customer/", "kund", "ref:"]) + text + rng.choice(["", "/bookings", "x"])


def _raw_event(field: str, hidden: str, rng: random.Random, occurred_at: dt.datetime | None = None) -> bytes:
    writer = SchemaCatalog.default().current("pdtrail.PersonalDataAccessed")
    now = occurred_at or dt.datetime.now(dt.UTC)
    actor = {"type": "employee", "id": "emp-1", "role": "customer_service"}
    record = {
        "envelope": {
            "event_id": f"6f1c1f0e-9a38-4b8e-9d7e-{rng.randrange(16**12):012x}",
            "occurred_at": int(now.timestamp() * 1_000_000),
            "subject": {"key": hashlib.sha256(rng.randbytes(8)).hexdigest(), "key_version": 1, "kind": "personnummer"},
            "actor": {**actor, "id": hidden} if field == "actor.id" else actor,
            "purpose": "customer_service", "legal_basis": "contract", "data_categories": ["name"],
            "source_system": "crm", "correlation_id": hidden if field == "correlation_id" else None,
        },
        "access_kind": "view", "resource": hidden if field == "resource" else "customer-record",
    }  # fmt: skip
    buf = BytesIO()
    schemaless_writer(buf, writer.parsed, record)
    return MARKER + writer.fingerprint + buf.getvalue()


def test_identifiers_in_clear_from_outside_the_sdk_are_dead_lettered_never_stored(pipeline: Settings) -> None:
    rng = random.Random(20261202)
    good = [e for _, e in simulate_company(8, seed=3)]
    planted = [(field, _spelled(rng)) for field in FIELDS for _ in range(8)]
    with AuditEmitter(pipeline) as emitter:
        for event in good:
            emitter.emit(event)
    raw = Producer({"bootstrap.servers": pipeline.kafka.bootstrap_servers})
    for n, (field, hidden) in enumerate(planted):
        raw.produce(pipeline.kafka.topic, value=_raw_event(field, hidden, rng), key=f"raw-{n}".encode())
    assert raw.flush(10) == 0

    client = connect(pipeline)
    stats = AuditConsumer(pipeline, client).run(drain=True)
    assert stats.dead_lettered == len(planted)
    assert stored_counts(client) == (len(good), len(good))
    letters = read_dead_letters(pipeline)
    assert len(letters) == len(planted)
    named = sorted(next(f for f in FIELDS if f in letter.reason) for letter in letters)
    assert named == sorted(field for field, _ in planted)
    by_error = {letter.error for letter in letters}
    # The detector's refusals are identifier_in_clear; a value the field's grammar refuses first (an "@"
    # or a full-width digit in an id or a path) is invalid, naming the field all the same.
    assert by_error <= {"identifier_in_clear", "invalid"} and "identifier_in_clear" in by_error
    for letter in letters:
        assert not any(hidden in letter.reason for _, hidden in planted)  # the value is never echoed
    hidden_values = [hidden for _, hidden in planted]
    leaked = client.query(
        "SELECT count() FROM events WHERE has({v:Array(String)}, resource) OR has({v:Array(String)}, correlation_id)"
        " OR has({v:Array(String)}, actor_id)",
        parameters={"v": hidden_values},
    ).result_rows
    assert leaked[0][0] == 0


def test_events_dated_outside_the_time_bounds_are_dead_lettered_at_ingest(pipeline: Settings) -> None:
    """The consumer applies the SDK's time bounds to what it reads: generated dates centuries away, years
    past the longest retention, or hours ahead go to the DLQ naming occurred_at; dates inside are stored."""
    rng = random.Random(7)
    now = dt.datetime.now(dt.UTC)
    outside = [now.replace(year=rng.randrange(1, 1900)) for _ in range(3)]
    outside += [now.replace(year=rng.randrange(2100, 9999)) for _ in range(3)]
    outside += [now - dt.timedelta(days=365 * rng.randrange(12, 60)), now + dt.timedelta(hours=rng.randrange(2, 48))]
    inside = [now - dt.timedelta(days=rng.randrange(0, 365 * 6)) for _ in range(4)]
    raw = Producer({"bootstrap.servers": pipeline.kafka.bootstrap_servers})
    for n, moment in enumerate(outside + inside):
        raw.produce(pipeline.kafka.topic, value=_raw_event("", "", rng, moment), key=f"raw-{n}".encode())
    assert raw.flush(10) == 0

    client = connect(pipeline)
    stats = AuditConsumer(pipeline, client).run(drain=True)
    assert stats.dead_lettered == len(outside)
    assert stored_counts(client) == (len(inside), len(inside))
    letters = read_dead_letters(pipeline)
    assert len(letters) == len(outside)
    assert all(letter.error == "invalid" and letter.reason.startswith("occurred_at") for letter in letters)
