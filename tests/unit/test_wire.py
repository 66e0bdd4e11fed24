"""The wire codec: Avro single-object encoding, round trips, and what decode refuses."""

from __future__ import annotations

import random
from io import BytesIO

import pytest
from fastavro import schemaless_writer
from fastavro.schema import fingerprint, to_parsing_canonical_form
from hypothesis import given, settings
from hypothesis import strategies as st

from pdtrail.producers import Pseudonymiser
from pdtrail.schemas import (
    EVENT_CLASSES,
    CreditCheckPerformed,
    EventCodec,
    InvalidEventError,
    PersonalDataAccessed,
    PersonalDataShared,
    ProcessingEvent,
    PseudonymousSubject,
    RightsRequestAnswered,
    SchemaCatalog,
    UndecodableMessageError,
    UnknownSchemaError,
)

from ._factories import events, make_event, personnummer, pseudonymised

ALL = pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
MARKER = b"\xc3\x01"


def encoded(codec: EventCodec, cls: type[ProcessingEvent] = PersonalDataShared, **overrides: object) -> bytes:
    return codec.encode(pseudonymised(make_event(cls, **overrides)))


def test_crc64_avro_fingerprint_matches_the_spec_test_vector() -> None:
    # Avro specification, "Schema Fingerprints": the 64-bit Rabin fingerprint of "int" is
    # 0x7275d51a3f395c8f, written little-endian in single-object encoding.
    canonical = to_parsing_canonical_form("int")
    assert canonical == '"int"'
    assert bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")) == bytes.fromhex("8f5c393f1ad57572")


@ALL
def test_round_trip_of_every_event_type(codec: EventCodec, pseudo: Pseudonymiser, cls: type[ProcessingEvent]) -> None:
    event = make_event(cls, outcome="approved") if cls is CreditCheckPerformed else make_event(cls)
    ready = pseudo.pseudonymise_event(event)
    data = codec.encode(ready)
    decoded, version = codec.decode_versioned(data)
    assert type(decoded) is cls
    assert decoded == ready
    assert version == SchemaCatalog.default().current(cls.avro_name)
    assert codec.encode(decoded) == data


@ALL
def test_header_is_marker_then_current_schema_fingerprint(codec: EventCodec, cls: type[ProcessingEvent]) -> None:
    data = encoded(codec, cls)
    current = SchemaCatalog.default().current(cls.avro_name)
    assert len(current.fingerprint) == 8
    assert data[:10] == MARKER + current.fingerprint
    assert codec.catalog.by_fingerprint(data[2:10]) == current


def test_fingerprints_are_the_crc64_of_the_history_files() -> None:
    catalog = SchemaCatalog.default()
    seen = set()
    for name in catalog.names:
        for version in catalog.versions(name):
            canonical = to_parsing_canonical_form(version.schema)
            assert version.fingerprint == bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))
            seen.add(version.fingerprint)
    assert len(seen) == sum(len(catalog.versions(n)) for n in catalog.names)


@ALL
def test_raw_identifier_never_reaches_the_wire(
    codec: EventCodec, pseudo: Pseudonymiser, cls: type[ProcessingEvent]
) -> None:
    pnr = personnummer(21)
    event = make_event(cls, pnr=f"{pnr[2:8]}-{pnr[8:]}")
    keyed = pseudo.pseudonymise_event(event)
    subject = keyed.subject
    assert isinstance(subject, PseudonymousSubject)
    data = codec.encode(keyed)
    assert subject.key.encode("ascii") in data  # the key is there, in clear, as a string field
    for form in (pnr, pnr[2:], f"{pnr[2:8]}-{pnr[8:]}", f"{pnr[:8]}-{pnr[8:]}"):
        assert form.encode("ascii") not in data
        assert form.encode("utf-16-le") not in data


def test_longest_labels_round_trip(codec: EventCodec) -> None:
    event = pseudonymised(
        make_event(PersonalDataAccessed, source_system="s" * 200, resource="r" * 200, correlation_id="c" * 200)
    )
    assert codec.decode(codec.encode(event)) == event
    # Ids are ASCII by their grammar; free text may be 200 characters of two bytes each.
    answered = pseudonymised(make_event(RightsRequestAnswered, reason="ä" * 200))
    assert codec.decode(codec.encode(answered)) == answered


def test_unpseudonymised_event_is_refused(codec: EventCodec) -> None:
    with pytest.raises(ValueError, match="pseudonymised"):
        codec.encode(make_event(PersonalDataAccessed))


@pytest.mark.parametrize(
    "data", [None, b"", b"\xc3", b"\xc3\x01", MARKER + b"\x00" * 7, b"{}" * 20, b"\xc3\x02" + b"\x00" * 30]
)
def test_decode_rejects_what_is_not_single_object_encoded(codec: EventCodec, data: bytes | None) -> None:
    with pytest.raises(UndecodableMessageError) as info:
        codec.decode(data)
    assert not isinstance(info.value, UnknownSchemaError)
    assert "marker" in info.value.reason


def test_decode_rejects_random_bytes(codec: EventCodec) -> None:
    rng = random.Random(42)
    for _ in range(50):
        with pytest.raises(UndecodableMessageError):
            codec.decode(rng.randbytes(rng.randint(0, 200)))


def test_decode_rejects_unknown_fingerprint(codec: EventCodec) -> None:
    data = bytearray(encoded(codec))
    data[2:10] = bytes.fromhex("0123456789abcdef")
    with pytest.raises(UnknownSchemaError) as info:
        codec.decode(bytes(data))
    assert info.value.fingerprint == bytes.fromhex("0123456789abcdef")
    assert "0123456789abcdef" in str(info.value)


def test_decode_rejects_every_truncation_of_the_body(codec: EventCodec) -> None:
    data = encoded(codec)
    for cut in range(len(data)):
        with pytest.raises(UndecodableMessageError) as info:
            codec.decode(data[:cut])
        assert not isinstance(info.value, UnknownSchemaError)


@pytest.mark.parametrize("tail", [b"\x00", b"\x01\x02\x03"])
def test_decode_rejects_trailing_bytes(codec: EventCodec, tail: bytes) -> None:
    with pytest.raises(UndecodableMessageError, match=f"{len(tail)} trailing bytes"):
        codec.decode(encoded(codec) + tail)


def body_of(codec: EventCodec, record: dict[str, object], name: str = "pdtrail.PersonalDataAccessed") -> bytes:
    """A message written straight with fastavro under the current schema, bypassing the models."""
    writer = codec.catalog.current(name)
    buf = BytesIO()
    buf.write(MARKER + writer.fingerprint)
    schemaless_writer(buf, writer.parsed, record)
    return buf.getvalue()


def test_decode_rejects_a_valid_body_that_breaks_the_model(codec: EventCodec) -> None:
    record = pseudonymised(make_event(PersonalDataAccessed)).to_avro()
    record["envelope"]["subject"]["key"] = "xyz"  # valid Avro string, not a 64-hex key
    with pytest.raises(InvalidEventError) as info:
        codec.decode(body_of(codec, record))
    assert "subject.key" in str(info.value)
    assert "xyz" not in str(info.value)


def test_decode_rejects_an_sdk_forbidden_value_written_by_another_producer(codec: EventCodec) -> None:
    pnr = personnummer(22)
    record = pseudonymised(make_event(PersonalDataAccessed)).to_avro()
    record["envelope"]["actor"]["id"] = pnr  # a raw personnummer as actor id
    record["envelope"]["data_categories"] = ["name", "name"]
    with pytest.raises(InvalidEventError) as info:
        codec.decode(body_of(codec, record))
    assert "actor.id" in str(info.value)
    assert pnr not in str(info.value) + repr(info.value.problems)


def test_decode_error_names_the_field_of_the_invalid_value(codec: EventCodec) -> None:
    record = pseudonymised(make_event(PersonalDataAccessed)).to_avro()
    record["envelope"]["subject"]["key"] = "xyz"
    record["envelope"]["data_categories"] = ["name", "name"]
    with pytest.raises(InvalidEventError) as info:
        codec.decode(body_of(codec, record))
    assert info.value.field == "subject.key"
    assert {field for field, _ in info.value.problems} == {"subject.key", "data_categories"}


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydantic warns when dumping the wrongly typed copy
def test_encode_of_a_value_outside_the_schema_is_an_invalid_event(codec: EventCodec) -> None:
    event = pseudonymised(make_event(PersonalDataAccessed))
    subject = event.subject.model_copy(update={"key_version": "two"})  # model_copy skips validation
    with pytest.raises(InvalidEventError) as info:
        codec.encode(event.model_copy(update={"subject": subject}))
    assert info.value.field == "(event)"
    assert "does not fit schema pdtrail.PersonalDataAccessed" in info.value.reason


@settings(max_examples=150, deadline=None)
@given(events())
def test_generated_events_round_trip(event: ProcessingEvent) -> None:
    codec = EventCodec()
    data = codec.encode(event)
    assert data[:10] == MARKER + codec.catalog.current(event.avro_name).fingerprint
    assert codec.decode(data) == event


@settings(max_examples=100, deadline=None)
@given(events(), st.data())
def test_corrupted_messages_decode_or_raise_pdtrail_errors(event: ProcessingEvent, data: st.DataObject) -> None:
    codec = EventCodec()
    message = bytearray(codec.encode(event))
    position = data.draw(st.integers(10, len(message) - 1))
    message[position] ^= data.draw(st.integers(1, 255))
    try:
        decoded = codec.decode(bytes(message))
    except (UndecodableMessageError, InvalidEventError):
        return
    assert isinstance(decoded, ProcessingEvent)
