"""The compiled writer's two caches (the envelope's repeated run, a timestamp's upper bytes) change no byte.

fastavro is the reference: every event is compared with what fastavro writes for it, the first time it is
written (the cache filled) and again once the run is cached, and the caches stay within their bound.
"""

from __future__ import annotations

import datetime as dt
import uuid
from io import BytesIO
from typing import Any

from fastavro import schemaless_writer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pdtrail.schemas import EventCodec, PersonalDataAccessed, SchemaCatalog
from pdtrail.schemas._avro_writer import _UPPER, BLOCK_CACHE_SIZE, _micros, zigzag_varint

from ._factories import events, make_event, pseudonymised

CATALOG = SchemaCatalog.default()


def _fastavro(event: Any) -> bytes:
    version = CATALOG.current(event.avro_name)
    out = BytesIO()
    out.write(b"\xc3\x01" + version.fingerprint)
    schemaless_writer(out, version.parsed, event.to_avro())
    return out.getvalue()


# Each example is a few whole events: slow to generate on a busy machine, which says nothing about the writer.
@settings(max_examples=50, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(events(), min_size=2, max_size=4))
def test_events_sharing_a_cached_run_are_written_as_fastavro_writes_each(batch: list[Any]) -> None:
    codec = EventCodec()
    # The first event's who-and-why run on every event of the batch: the later ones are written from the cache.
    first = batch[0]
    run = {name: getattr(first, name) for name in ("actor", "purpose", "legal_basis", "data_categories")}
    shared = [first, *(e.model_copy(update={**run, "source_system": first.source_system}) for e in batch[1:])]
    for event in shared + shared:
        assert codec.encode(event) == _fastavro(event)


def test_the_run_is_cached_and_one_that_differs_in_any_field_is_written_anew() -> None:
    codec = EventCodec()
    base = pseudonymised(make_event(PersonalDataAccessed))
    variants = [
        base,
        base.model_copy(update={"purpose": "customer_service.other"}),
        base.model_copy(update={"data_categories": ("name",)}),
        base.model_copy(update={"source_system": "billing"}),
        base.model_copy(update={"actor": base.actor.model_copy(update={"role": "support_agent"})}),
        base.model_copy(update={"actor": base.actor.model_copy(update={"id": "emp-2"})}),
    ]
    writer = codec._writer(base.avro_name)
    cache = writer.__globals__["BLOCK"]  # type: ignore[attr-defined]
    cache.clear()
    for event in variants + variants:
        assert codec.encode(event) == _fastavro(event)
    assert len(cache) == len(variants)


def test_the_run_cache_stays_within_its_bound() -> None:
    codec = EventCodec()
    base = pseudonymised(make_event(PersonalDataAccessed))
    cache = codec._writer(base.avro_name).__globals__["BLOCK"]  # type: ignore[attr-defined]
    for n in range(BLOCK_CACHE_SIZE + 10):
        event = base.model_copy(update={"source_system": f"system-{n}"})
        codec.encode(event)
        assert len(cache) <= BLOCK_CACHE_SIZE
    assert codec.encode(event) == _fastavro(event)


EDGES = [0, 1, -1, 1 << 48, (1 << 48) - 1, -(1 << 48), -(1 << 48) - 1, (1 << 55) - 1, 1 << 55, -(1 << 55), 1 << 62]


@given(st.one_of(st.sampled_from(EDGES), st.integers(-(1 << 63), (1 << 63) - 1), st.integers(0, 1 << 53)))
def test_a_timestamp_is_the_same_varint_with_or_without_the_cached_upper_bytes(micros: int) -> None:
    assert _micros(micros) == zigzag_varint(micros)
    assert _micros(micros) == zigzag_varint(micros)  # the second time from the cache


def test_timestamps_across_years_are_written_alike_and_the_cache_stays_bounded() -> None:
    start = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)
    for hours in range(0, 24 * 365 * 60, 997):  # sixty years, more windows than the cache holds
        when = start + dt.timedelta(hours=hours, microseconds=hours * 7919)
        micros = (when - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
        assert _micros(when) == zigzag_varint(micros)
        assert len(_UPPER) <= BLOCK_CACHE_SIZE


class _ShoutingUUID(uuid.UUID):
    """A UUID whose text is not the canonical one: the writer must write what str() makes of it."""

    def __str__(self) -> str:
        return super().__str__().upper()


_EDGE_UUIDS = [uuid.UUID(int=0), uuid.UUID(int=1), uuid.UUID(int=(1 << 128) - 1), uuid.UUID(int=1 << 124)]


@settings(max_examples=200)
@given(st.one_of(st.uuids(), st.sampled_from(_EDGE_UUIDS)))
def test_an_event_id_is_written_as_fastavro_writes_it_as_a_uuid_a_subclass_or_text(value: uuid.UUID) -> None:
    codec = EventCodec()
    base = pseudonymised(make_event(PersonalDataAccessed))
    for event_id in (value, _ShoutingUUID(int=value.int), str(value)):
        event = base.model_copy(update={"event_id": event_id})
        written = codec.encode(event)
        assert written == _fastavro(event)
        assert str(event_id).encode() in written
