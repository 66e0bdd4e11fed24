"""The columnar path against the per-message path: the same stream, the same stored rows, the same poison.

The stream is the simulated company's events (every event type, old writer versions among them) plus
messages a producer that bypasses the SDK could send: valid Avro that breaks the contract in every way
the event models check (labels holding an e-mail or a personnummer, padding to strip, a Swedish party
without or with a wrong organisation number, consent on another basis, a refusal without a reason,
duplicated or too many categories, key versions out of range, a subject key that is not hex), values
the models accept only after normalising (an organisation number with a hyphen, a lower-case country,
padded labels), text that JSON must escape, non-ASCII labels, re-sent events, and poison that is not
Avro at all (random bytes, a truncated body, trailing bytes, an unknown fingerprint, an oversized
message). Both paths run on the real engine (chDB), each into a database of its own.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import random
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastavro import schemaless_writer

from pdtrail.config import Settings, load_settings
from pdtrail.consumers._batches import ALL_MONTHS
from pdtrail.consumers._decoder import BatchDecoder, DecodedBatch
from pdtrail.infra import apply_migrations
from pdtrail.producers import Pseudonymiser
from pdtrail.schemas import EventCodec
from pdtrail.schemas._wire import MARKER
from pdtrail.simulate import simulate_company
from pdtrail.store import COLUMNS, connect
from tests.conftest import SECRET

RECEIVED = dt.datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)


class Message:
    """A Kafka message as the consumer reads it (confluent-kafka's Message cannot be built in Python)."""

    def __init__(self, value: bytes | None, offset: int) -> None:
        self._value, self._offset = value, offset

    def value(self) -> bytes | None:
        return self._value

    def offset(self) -> int:
        return self._offset

    def partition(self) -> int:
        return 0

    def topic(self) -> str:
        return "events"

    def key(self) -> bytes | None:
        return None

    def timestamp(self) -> tuple[int, int]:
        return (1, 0)


def _raw(codec: EventCodec, name: str, record: dict[str, Any], version: int | None = None) -> bytes:
    """A record encoded under a writer schema as is, bypassing the event models."""
    writer = codec.catalog.current(name) if version is None else codec.catalog.versions(name)[version - 1]
    buf = io.BytesIO()
    schemaless_writer(buf, writer.parsed, record)
    return MARKER + writer.fingerprint + buf.getvalue()


Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(record: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = record
        for name in parents:
            node = node[name]
        node[last] = value

    return mutate


ENVELOPE_MUTATIONS: list[Mutation] = [
    _set("envelope.actor.id", "anna@example.se"),
    _set("envelope.actor.id", "emp 811218-9876"),
    _set("envelope.actor.id", "  emp-7  "),  # valid once stripped: stored stripped
    _set("envelope.actor.id", "\u00a0emp-8"),
    _set("envelope.actor.id", "Åsa-kontoret"),
    _set("envelope.actor.id", ""),
    _set("envelope.actor.id", "x" * 201),
    _set("envelope.actor.role", "Customer Service"),
    _set("envelope.purpose", " customer_service"),
    _set("envelope.data_categories", ["name", "name"]),
    _set("envelope.data_categories", []),
    _set("envelope.data_categories", [f"c{i}" for i in range(33)]),
    _set("envelope.source_system", 'crm "quoted" \\ back'),
    _set("envelope.source_system", "line\nbreak"),
    _set("envelope.correlation_id", ""),
    _set("envelope.correlation_id", "trace-1234567890"),
    _set("envelope.subject.key_version", 0),
    _set("envelope.subject.key", "A" * 64),
    _set("envelope.subject.key", "ab" * 31),
    _set("envelope.event_id", "not-a-uuid"),
    _set("envelope.event_id", "6F1C1F0E-9A38-4B8E-9D7E-6A1B2C3D4E5F"),
    _set("envelope.legal_basis", "consent"),
]


def _specific_mutations(name: str) -> list[Mutation]:
    party = {
        "pdtrail.PersonalDataShared": "recipient", "pdtrail.CreditCheckPerformed": "bureau",
        "pdtrail.LeadReceived": "lead_source", "pdtrail.PublicRegisterLookup": "public_register",
    }.get(name)  # fmt: skip
    found: list[Mutation] = []
    if party:
        found += [
            _set(f"{party}.country", "se"),
            _set(f"{party}.country", "SWE"),
            _set(f"{party}.organisation_number", None),
            _set(f"{party}.organisation_number", "5591970785"),
            _set(f"{party}.name", "info@bolaget.se"),
        ]
    if name == "pdtrail.RightsRequestAnswered":
        found += [_set("outcome", "refused"), _set("reason", None)]
    if name == "pdtrail.ConsentGiven":
        found += [_set("envelope.legal_basis", "contract")]
    if name == "pdtrail.PersonalDataAccessed":
        found += [_set("resource", "customer/811218-9876"), _set("resource", "kund\tregister")]
    if name == "pdtrail.IdentifiersCollected":
        found += [
            _set("identifiers", []), _set("identifiers", ["cookie", "a@b.se"]), _set("identifiers", ["two words"]),
            _set("identifiers", ["_ga", "semi;colon"]), _set("identifiers", ["comma,"]), _set("identifiers", ['"q"']),
            _set("identifiers", ["x" * 201]), _set("identifiers", [f"c{i}" for i in range(33)]),
            _set("identifiers", ["_ga", "_gid", "sess!on#1", "a'b`c|d~e^f"]),
        ]  # fmt: skip
    if name in ("pdtrail.SubjectIdentifiersLinked", "pdtrail.SubjectIdentifiersUnlinked"):
        found += LINK_MUTATIONS
    return found


def _linked_to_itself(record: dict[str, Any]) -> None:
    record["linked"]["key"] = record["envelope"]["subject"]["key"]


def _linked_under_another_version(record: dict[str, Any]) -> None:
    record["linked"]["key_version"] = record["envelope"]["subject"]["key_version"] % 65535 + 1


LINK_MUTATIONS: list[Mutation] = [
    _linked_to_itself, _linked_under_another_version, _set("linked.key", "A" * 64), _set("linked.key", "ab" * 31),
    _set("linked.key", "kund@example.se"), _set("reason", "same as 811218-9876"), _set("reason", "  padded  "),
    _set("reason", ""), _set("linked.kind", "email"),
]  # fmt: skip


def _stream(settings: Settings, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    codec, pseudonymiser = EventCodec(), Pseudonymiser.from_settings(settings)
    values: list[bytes] = []
    records: list[tuple[str, dict[str, Any]]] = []
    for _, event in simulate_company(60, seed=seed):
        stored = pseudonymiser.pseudonymise_event(event)
        values.append(codec.encode(stored))
        records.append((stored.avro_name, stored.to_avro()))
    for name, record in rng.sample(records, 300):
        for mutate in rng.sample([*ENVELOPE_MUTATIONS, *_specific_mutations(name)], 2):
            changed = _deep_copy(record)
            mutate(changed)
            with contextlib.suppress(ValueError, TypeError):  # not even Avro of the schema: nobody can send it
                values.insert(rng.randrange(len(values)), _raw(codec, name, changed))
    for name, record in [r for r in records if r[0] == "pdtrail.SubjectIdentifiersLinked"][:4]:
        for mutate in LINK_MUTATIONS:  # every breach of a link event, on a few of them
            changed = _deep_copy(record)
            mutate(changed)
            values.insert(rng.randrange(len(values)), _raw(codec, name, changed))
    for name, record in rng.sample([r for r in records if r[0] == "pdtrail.PersonalDataShared"], 20):
        old = _deep_copy(record)
        del old["envelope"]["register_version"]
        values.insert(rng.randrange(len(values)), _raw(codec, name, old, version=1))  # an older writer
    valid = values[rng.randrange(len(values))]
    poison = [rng.randbytes(64), MARKER + b"\x07" * 8 + b"\x02", valid[:-9], valid + b"\x00\x01", b"", b"x" * 2000]
    for value in poison + rng.sample(values, 30):  # and re-sent copies
        values.insert(rng.randrange(len(values) + 1), value)
    return values


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def _store(decoded: DecodedBatch, months: dict[int, int], batch: int) -> None:
    for month in months:
        decoded.insert(month, f"test/{batch}/{month}")


@pytest.fixture
def two_stores(store_dir: Path, tmp_path: Path) -> tuple[Settings, Any, Any]:
    settings = load_settings(
        home=tmp_path, store={"dsn": f"chdb://{store_dir}"}, pseudonym={"secret": SECRET},
        consumer={"max_event_bytes": 1024}, kafka={"topic": "events"},
    )  # fmt: skip
    clients = []
    suffix = uuid.uuid4().hex[:8]
    for name in (f"per_message_{suffix}", f"columnar_{suffix}"):
        client = connect(settings.model_copy(update={"store": settings.store.model_copy(update={"database": name})}))
        apply_migrations(client)
        clients.append(client)
    return settings, clients[0], clients[1]


@pytest.mark.parametrize(("seed", "staged_by_month"), [(3, False), (4, False), (3, True)])
def test_the_columnar_path_stores_and_dead_letters_what_the_per_message_path_does(
    two_stores: tuple[Settings, Any, Any], seed: int, staged_by_month: bool
) -> None:
    """``staged_by_month``: the columnar path stages and inserts month by month, as it does for a log
    still partitioned by month (before migration 0006); else one staged file per Kafka partition."""
    settings, slow_client, fast_client = two_stores
    codec = EventCodec()
    messages = [Message(value, offset) for offset, value in enumerate(_stream(settings, seed))]
    results = []
    for client, columnar in ((slow_client, False), (fast_client, True)):
        decoder = BatchDecoder(settings, client, codec, columnar=columnar)
        assert decoder.whole_batch, "the migrated log is one unpartitioned table"
        if decoder.engine is not None:
            assert not decoder.engine.by_month
            decoder.engine.by_month = staged_by_month
        outcome: dict[str, Any] = {"poison": [], "leaves": [], "staged": 0}
        for start in range(0, len(messages), 1500):  # several batches: the later ones meet stored event ids
            decoded = decoder.decode(0, messages[start : start + 1500], RECEIVED)
            decoded.drop_stored()
            # Month by month on one path, the whole batch as one insert (the unpartitioned log) on the other:
            # the same rows either way.
            months = decoder.insert_units(decoded) if columnar and not staged_by_month else decoded.months()
            if columnar and months and not staged_by_month:
                assert list(months) == [ALL_MONTHS]
            _store(decoded, months, start)
            outcome["poison"] += sorted((p.message.offset(), p.error, p.reason) for p in decoded.poison)
            outcome["leaves"] += list(zip(*decoded.leaves(), strict=True))
            outcome["staged"] += getattr(decoded, "staged_rows", 0)
            decoded.close()
        decoder.close()
        outcome["rows"] = client.query(f"SELECT {', '.join(COLUMNS)} FROM events ORDER BY kafka_offset").result_rows
        results.append(outcome)
    per_message, columnar = results
    kinds = {error for _, error, _ in per_message["poison"]}
    assert kinds == {"invalid", "identifier_in_clear", "undecodable", "unknown_schema", "oversized"}  # every kind
    assert len(per_message["rows"]) > 700
    assert columnar["staged"] > 0.8 * len(per_message["rows"])  # the engine vouched for most, or this compares little
    assert columnar["poison"] == per_message["poison"]
    assert columnar["rows"] == per_message["rows"]
    assert columnar["leaves"] == per_message["leaves"]
    stored_types = {row[COLUMNS.index("event_type")] for row in per_message["rows"]}
    assert "subject.identifiers_linked" in stored_types  # links are stored, and their breaches dead-lettered:
    assert any("linked" in reason for _, _, reason in per_message["poison"])


def test_the_engine_vouches_for_every_valid_event_of_every_type(two_stores: tuple[Settings, Any, Any]) -> None:
    """A valid event the engine's checks refuse still gets stored, one by one in Python: correct, but at the
    per-message cost and with an insert more per batch. So every valid event of every type must be staged."""
    settings, _, fast_client = two_stores
    codec, pseudonymiser = EventCodec(), Pseudonymiser.from_settings(settings)
    values, types = [], set()
    for _, event in simulate_company(600, seed=5):
        stored = pseudonymiser.pseudonymise_event(event)
        values.append(codec.encode(stored))
        types.add(stored.avro_name)
    assert len(types) >= 15  # the simulation covers the types, or this proves little
    decoder = BatchDecoder(settings, fast_client, codec, columnar=True)
    decoded = decoder.decode(0, [Message(value, offset) for offset, value in enumerate(values)], RECEIVED)
    try:
        assert decoded.poison == []
        assert getattr(decoded, "staged_rows", None) == len(values)
    finally:
        decoded.close()
        decoder.close()


@pytest.mark.parametrize("trailing", [b"\x00" * 8, bytes(range(8)), b"\x02\x04\x06\x08\x0a\x0c\x0e\x10"])
def test_a_body_eight_bytes_too_long_is_refused_by_its_seal(
    two_stores: tuple[Settings, Any, Any], trailing: bytes
) -> None:
    """The last record of a block, with 8 bytes after its body: the engine then reads those 8 bytes as the
    record's seal, and nothing after it is misread (the block's byte count carries the rest). Only the seal
    tells that the record was not framed by its own message; the per-message path refuses it (trailing
    bytes) and so must the columnar path."""
    settings, slow_client, fast_client = two_stores
    codec, pseudonymiser = EventCodec(), Pseudonymiser.from_settings(settings)
    values = []
    for _, event in simulate_company(40, seed=9):
        stored = pseudonymiser.pseudonymise_event(event)
        if stored.avro_name == "pdtrail.PersonalDataAccessed":
            values.append(codec.encode(stored))
    assert len(values) >= 5
    values[-1] += trailing  # the last of its writer schema, so the last record of its block
    messages = [Message(value, offset) for offset, value in enumerate(values)]
    outcomes = []
    for client, columnar in ((slow_client, False), (fast_client, True)):
        decoder = BatchDecoder(settings, client, codec, columnar=columnar)
        decoded = decoder.decode(0, messages, RECEIVED)
        outcomes.append((
            [(p.message.offset(), p.error) for p in decoded.poison], list(zip(*decoded.leaves(), strict=True)),
            getattr(decoded, "staged_rows", None),
        ))  # fmt: skip
        decoded.close()
        decoder.close()
    (slow_poison, slow_leaves, _), (fast_poison, fast_leaves, staged) = outcomes
    assert slow_poison == [(len(values) - 1, "undecodable")]
    assert fast_poison == slow_poison and fast_leaves == slow_leaves
    assert staged == len(values) - 1  # the engine staged the others: the seal, not a refused block, said no


@pytest.mark.parametrize("first_lands", [True, False])
def test_a_round_drops_an_event_once_an_earlier_partition_of_it_stored_that_event(
    two_stores: tuple[Settings, Any, Any], first_lands: bool
) -> None:
    """One dedup read serves a whole round of partitions, taken before any of its inserts. An event id in two
    partitions of the round (a producer that re-sent it under another key): the later partition drops its
    copy once the earlier one's insert has landed, and keeps it when that insert never landed (the earlier
    batch is read again later, and then finds this copy stored)."""
    settings, _, client = two_stores
    codec, pseudonymiser = EventCodec(), Pseudonymiser.from_settings(settings)
    values = [codec.encode(pseudonymiser.pseudonymise_event(event)) for _, event in simulate_company(12, seed=5)]
    stored_before = values[0]
    decoder = BatchDecoder(settings, client, codec, columnar=True)
    first = decoder.decode(0, [Message(stored_before, 0)], RECEIVED)  # stored by an earlier round
    first.drop_stored()
    _store(first, decoder.insert_units(first), 0)
    first.close()
    shared = values[1]
    a = [Message(v, o) for o, v in enumerate([shared, *values[2:6]], start=1)]
    b = [Message(v, o) for o, v in enumerate([*values[6:9], shared, stored_before], start=1)]
    round_ = decoder.decode_many({3: a, 4: b}, RECEIVED)
    assert round_[3].drop_stored() == 0
    if first_lands:
        _store(round_[3], decoder.insert_units(round_[3]), 1)
    assert round_[4].drop_stored() == (2 if first_lands else 1)  # the copy of `shared`; the event stored before
    _store(round_[4], decoder.insert_units(round_[4]), 2)
    for decoded in round_.values():
        decoded.close()
    decoder.close()
    rows, ids = client.query("SELECT count(), uniqExact(event_id) FROM events").result_rows[0]
    assert rows == ids == 1 + (5 if first_lands else 0) + (3 if first_lands else 4)
