"""The SDK's cheap per-event path against the path it replaced: same events accepted, the same bytes on
the wire, the same field-level errors — over generated valid and invalid events."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from fastavro import schemaless_writer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pdtrail.config import load_settings
from pdtrail.producers import AuditEmitter, InvalidEventError, Pseudonymiser
from pdtrail.schemas import EVENT_CLASSES, EventCodec, SchemaCatalog, SubjectIdentifier, load_register
from pdtrail.schemas._uuid7 import uuid7
from pdtrail.simulate import simulate_company

from ._factories import SECRET_V2, event_data, events, pseudonymised
from ._old_emit_path import old_prepare

REGISTER = load_register()
CATALOG = SchemaCatalog.default()
SIMULATED = [e for _, e in itertools.islice(simulate_company(200, seed=5), 600)]


@pytest.fixture(scope="module")
def emitter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditEmitter]:
    """No broker (nothing is sent here): the path up to librdkafka only."""
    home = tmp_path_factory.mktemp("emit-path")
    audit = AuditEmitter(
        load_settings(
            home=home,
            kafka={"bootstrap_servers": "127.0.0.1:9"},
            pseudonym={"secret": SECRET_V2.decode(), "key_version": 2},
            emitter={"spool_max_bytes": 0},
        )
    )
    yield audit
    audit.close(timeout=0)


def _old(event: Any) -> tuple[str, Any]:
    try:
        return "accepted", old_prepare(event, REGISTER, SECRET_V2, 2, CATALOG)
    except InvalidEventError as exc:
        # The old check named a consent event's purpose problem twice; the new one names it once.
        return "rejected", list(dict.fromkeys(exc.problems))


def _new(emitter: AuditEmitter, event: Any) -> tuple[str, Any]:
    try:
        key, value, _, _ = emitter._prepare(event)
        return "accepted", (key, value)
    except InvalidEventError as exc:
        return "rejected", exc.problems


# What a service may get wrong, field by field: each mutation applied to a valid event's input.
_BAD_VALUES: list[tuple[str, Any]] = [
    ("purpose", "profiling.scoring"),
    ("purpose", "Not An Identifier"),
    ("legal_basis", "public_interest"),
    ("legal_basis", "consent"),
    ("data_categories", []),
    ("data_categories", ["name", "name"]),
    ("data_categories", ["gender"]),
    ("source_system", "kund@example.se"),
    ("source_system", ""),
    ("correlation_id", 42),
    ("occurred_at", "2026-03-14T09:26:53"),  # no zone
    ("event_id", "not-a-uuid"),
    ("subject", {"kind": "personnummer", "value": "19000101-0000"}),
    ("subject", {"kind": "email", "value": "not an address"}),
    ("subject", {"kind": "customer_id", "value": "c-77"}),
    ("actor", {"type": "employee", "id": "emp-1", "role": "marketing"}),
    ("actor", {"type": "robot", "id": "emp-1", "role": "customer_service"}),
    ("unexpected", "field"),
    ("type", "personal_data.touched"),
    ("recipient", {"name": "Okänt AB", "country": "SE", "organisation_number": "5598527042"}),
    ("reason", None),
]


# The old path predates the time bounds (tests/security/test_time_bounds.py holds them): both paths are
# compared on moments inside the window, where the old one's answer is still the reference.
_NOW = dt.datetime.now(dt.UTC).replace(tzinfo=None)
_inside_the_time_bounds = st.datetimes(
    min_value=_NOW - dt.timedelta(days=5 * 365), max_value=_NOW - dt.timedelta(minutes=1), timezones=st.just(dt.UTC)
)


@st.composite
def inputs(draw: st.DrawFn) -> dict[str, Any]:
    """An event as a service hands it to emit(): valid ones from the simulated company (they fit the
    register), others from the unit factories (whose parties mostly do not), some with bad fields."""
    if draw(st.booleans()):
        base = draw(st.sampled_from(SIMULATED))
        data = base.model_dump(exclude={"type", "register_version"})
        data["subject"] = {"kind": base.subject.kind.value, "value": base.subject.value.get_secret_value()}
        data["type"] = base.type  # type: ignore[attr-defined]
    else:
        cls = draw(st.sampled_from(EVENT_CLASSES))
        data = {**event_data(cls), "type": cls.model_fields["type"].default, "event_id": draw(st.uuids())}
        data["occurred_at"] = draw(_inside_the_time_bounds)
    for field, value in draw(st.lists(st.sampled_from(_BAD_VALUES), max_size=3)):
        if value is None:
            data.pop(field, None)
        else:
            data[field] = value
    return data


@given(inputs())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_new_path_accepts_rejects_and_encodes_exactly_as_the_old_one(emitter: AuditEmitter, data: dict) -> None:
    assert _new(emitter, data) == _old(data)


def test_the_differential_test_sees_both_outcomes(emitter: AuditEmitter) -> None:
    """A guard on the test above: its inputs do reach acceptance and each kind of refusal."""
    accepted = [e for e in SIMULATED if _new(emitter, e)[0] == "accepted"]
    assert len(accepted) == len(SIMULATED)
    outcome = _new(emitter, {**event_data(EVENT_CLASSES[1]), "type": "personal_data.accessed", "purpose": "x.y"})
    assert outcome[0] == "rejected" and outcome[1][0][0] == "purpose"


@pytest.mark.parametrize("event", SIMULATED[:60], ids=lambda e: e.type)  # type: ignore[attr-defined]
def test_built_models_give_the_same_bytes_as_before(emitter: AuditEmitter, event: Any) -> None:
    assert _new(emitter, event) == _old(event)


@given(events())
def test_the_compiled_writer_writes_what_fastavro_writes(event: Any) -> None:
    codec = EventCodec()
    writer = CATALOG.current(event.avro_name)
    expected = BytesIO()
    expected.write(b"\xc3\x01" + writer.fingerprint)
    schemaless_writer(expected, writer.parsed, event.to_avro())
    assert codec.encode(event) == expected.getvalue()
    assert codec.decode(codec.encode(event)) == event


def test_a_consent_event_for_a_purpose_not_resting_on_consent_is_named_once() -> None:
    from pdtrail.schemas import ConsentWithdrawn

    event = ConsentWithdrawn(**event_data(ConsentWithdrawn, purpose="booking.handling", data_categories=["name"]))
    problems = REGISTER.problems(event)
    assert [f for f, _ in problems] == ["purpose"]


# ---- the pseudonym LRU ----------------------------------------------------------------------------


def _subject(value: str) -> SubjectIdentifier:
    return SubjectIdentifier(kind="customer_id", value=value)


def test_a_repeated_subject_is_keyed_from_the_cache_with_the_same_key() -> None:
    pseudo = Pseudonymiser({1: b"a" * 32}, 1, cache_size=2)
    first = pseudo.pseudonymise(_subject("c-1"))
    again = pseudo.pseudonymise(_subject("c-1"))
    assert again is first  # the cached instance
    uncached = Pseudonymiser({1: b"a" * 32}, 1, cache_size=0).pseudonymise(_subject("c-1"))
    assert uncached == first and uncached is not first


def test_the_cache_is_bounded() -> None:
    pseudo = Pseudonymiser({1: b"a" * 32}, 1, cache_size=2)
    for n in range(10):
        pseudo.pseudonymise(_subject(f"c-{n}"))
    assert pseudo._cached.cache_info().currsize == 2  # type: ignore[attr-defined]


def test_a_key_rotation_never_hits_an_entry_of_the_old_key() -> None:
    pseudo = Pseudonymiser({1: b"a" * 32, 2: b"b" * 32}, 1)
    before = pseudo.pseudonymise(_subject("c-1"))
    pseudo.current_version = 2
    after = pseudo.pseudonymise(_subject("c-1"))
    assert after.key_version == 2 and after.key != before.key
    assert after.key == pseudo.lookup_keys(after.kind, "c-1")[1]


def test_the_cache_size_is_a_setting(isolated_env: Path) -> None:
    settings = load_settings(pseudonym={"secret": "s" * 20}, emitter={"pseudonym_cache_size": 7})
    assert Pseudonymiser.from_settings(settings).cache_size == 7


# ---- event ids ----------------------------------------------------------------------------------


def test_default_event_ids_are_uuid7_in_creation_order() -> None:
    ids = [uuid7() for _ in range(2000)]
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(uuid.UUID(str(i)) == i for i in ids[:50])  # a valid UUID, as Avro's uuid type wants


def test_the_time_in_a_uuid7_is_the_time_it_was_made() -> None:
    before = dt.datetime.now(dt.UTC)
    made = uuid7()
    after = dt.datetime.now(dt.UTC)
    millis = made.int >> 80
    assert int(before.timestamp() * 1000) - 1 <= millis <= int(after.timestamp() * 1000) + 1


def test_an_event_gets_a_uuid7_and_round_trips(codec: EventCodec, pseudo: Pseudonymiser) -> None:
    event = EVENT_CLASSES[1](**event_data(EVENT_CLASSES[1]))
    assert event.event_id.version == 7
    wire = pseudonymised(event, pseudo)
    assert codec.decode(codec.encode(wire)).event_id == event.event_id
