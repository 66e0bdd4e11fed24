"""A decoded event as a row of the events table."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings

from pdtrail.consumers import COLUMNS
from pdtrail.consumers._rows import event_row
from pdtrail.schemas import (
    EVENT_CLASSES,
    CreditCheckPerformed,
    EventCodec,
    PersonalDataAccessed,
    PersonalDataCollected,
    PersonalDataShared,
    ProcessingEvent,
    SchemaCatalog,
)

from ._factories import WHEN, events, make_event, organisation_number, personnummer, pseudonymised

INGESTED = dt.datetime(2026, 3, 15, 0, 0, tzinfo=dt.UTC)
PARTY_COLUMNS = ("party_name", "party_org_no", "party_country", "party_role")
MIGRATIONS = Path(__file__).resolve().parents[2] / "infra" / "clickhouse" / "migrations"
MIGRATION = MIGRATIONS / "0001_events.sql"


def row_of(event: ProcessingEvent, offset: int = 7) -> dict[str, object]:
    schema = SchemaCatalog.default().current(event.avro_name)
    values = event_row(event, schema, "pdtrail.events", 3, offset, INGESTED)
    assert len(values) == len(COLUMNS)
    return dict(zip(COLUMNS, values, strict=True))


def test_columns_match_the_migration() -> None:
    table = MIGRATION.read_text()
    body = table[table.index("(") + 1 : table.index("ENGINE")]
    declared = re.findall(r"^\s{4}(\w+)\s", body, flags=re.MULTILINE)
    for later in sorted(MIGRATIONS.glob("*.sql")):  # columns added since, in the order they were added
        declared += re.findall(r"ALTER TABLE events ADD COLUMN IF NOT EXISTS (\w+)", later.read_text())
    assert tuple(declared) == COLUMNS


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
def test_every_event_type_maps_to_a_full_row(cls: type[ProcessingEvent]) -> None:
    event = pseudonymised(make_event(cls))
    row = row_of(event, offset=99)
    assert row["event_id"] == event.event_id and isinstance(row["event_id"], uuid.UUID)
    assert row["event_type"] == event.event_type
    assert row["occurred_at"] == WHEN
    assert row["subject_key"] == event.subject.key  # type: ignore[union-attr]
    assert row["subject_key_version"] == 2
    assert row["subject_kind"] == "personnummer"
    assert (row["actor_type"], row["actor_id"], row["actor_role"]) == ("employee", "emp-1042", "customer_service")
    assert (row["purpose"], row["legal_basis"]) == ("customer_service", event.legal_basis.value)
    assert row["data_categories"] == ["name", "contact_details"]
    assert (row["source_system"], row["correlation_id"]) == ("crm", "trace-0001")
    assert (row["schema_name"], row["schema_version"]) == (
        cls.avro_name,
        SchemaCatalog.default().current(cls.avro_name).version,
    )
    assert (row["kafka_topic"], row["kafka_partition"], row["kafka_offset"]) == ("pdtrail.events", 3, 99)
    assert row["ingested_at"] == INGESTED
    assert all(value is not None for value in row.values())
    assert row["register_version"] == ""  # stamped by the SDK's register check, not by the event's author


def test_collected_row() -> None:
    orgnr = organisation_number(31)
    party = {"name": "Adressregistret AB", "country": "SE", "organisation_number": orgnr}
    row = row_of(pseudonymised(make_event(PersonalDataCollected, source="public_register", source_party=party)))
    assert row["collection_source"] == "public_register"
    assert [row[c] for c in PARTY_COLUMNS] == ["Adressregistret AB", orgnr.replace("-", ""), "SE", ""]
    assert row["access_kind"] == row["resource"] == row["reference"] == row["outcome"] == ""


def test_collected_from_the_subject_has_no_party() -> None:
    row = row_of(pseudonymised(make_event(PersonalDataCollected, source="data_subject", source_party=None)))
    assert row["collection_source"] == "data_subject"
    assert [row[c] for c in PARTY_COLUMNS] == ["", "", "", ""]


def test_accessed_row() -> None:
    row = row_of(pseudonymised(make_event(PersonalDataAccessed, access_kind="export", resource="booking/4711")))
    assert (row["access_kind"], row["resource"]) == ("export", "booking/4711")
    assert [row[c] for c in PARTY_COLUMNS] == ["", "", "", ""]
    assert row["collection_source"] == ""


def test_shared_row_fills_party_with_recipient_role() -> None:
    orgnr = organisation_number(32)
    recipient = {"name": "Betalväxeln AB", "country": "SE", "organisation_number": orgnr}
    row = row_of(pseudonymised(make_event(PersonalDataShared, recipient=recipient, recipient_role="controller")))
    assert [row[c] for c in PARTY_COLUMNS] == ["Betalväxeln AB", orgnr.replace("-", ""), "SE", "controller"]


def test_shared_with_foreign_party_without_number() -> None:
    recipient = {"name": "Beispiel GmbH", "country": "DE"}
    row = row_of(pseudonymised(make_event(PersonalDataShared, recipient=recipient, recipient_role="authority")))
    assert [row[c] for c in PARTY_COLUMNS] == ["Beispiel GmbH", "", "DE", "authority"]


@pytest.mark.parametrize(("outcome", "column"), [(None, ""), ("manual_review", "manual_review")])
def test_credit_check_row(outcome: str | None, column: str) -> None:
    orgnr = organisation_number(33)
    bureau = {"name": "Kreditkollen AB", "country": "SE", "organisation_number": orgnr}
    event = make_event(CreditCheckPerformed, bureau=bureau, reference="KK-12345678", outcome=outcome)
    row = row_of(pseudonymised(event))
    assert [row[c] for c in PARTY_COLUMNS] == ["Kreditkollen AB", orgnr.replace("-", ""), "SE", ""]
    assert (row["reference"], row["outcome"]) == ("KK-12345678", column)


def test_missing_correlation_id_is_an_empty_string() -> None:
    assert row_of(pseudonymised(make_event(PersonalDataAccessed, correlation_id=None)))["correlation_id"] == ""


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
def test_row_has_the_subject_key_but_never_the_raw_identifier(cls: type[ProcessingEvent]) -> None:
    pnr = personnummer(34)
    decoded = EventCodec().decode(EventCodec().encode(pseudonymised(make_event(cls, pnr=pnr[2:]))))
    row = row_of(decoded)
    assert re.fullmatch(r"[0-9a-f]{64}", str(row["subject_key"]))
    text = repr(list(row.values()))
    for form in (pnr, pnr[2:], f"{pnr[2:8]}-{pnr[8:]}"):
        assert form not in text


@settings(max_examples=50, deadline=None)
@given(events())
def test_generated_events_give_rows_of_the_right_width(event: ProcessingEvent) -> None:
    row = row_of(event)
    assert row["event_type"] == event.event_type
    assert row["subject_key"] == event.subject.key  # type: ignore[union-attr]
    assert row["data_categories"] == list(event.data_categories)
    assert isinstance(row["party_name"], str) and isinstance(row["party_org_no"], str)
