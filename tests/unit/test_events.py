"""The event models: good input validates, bad input raises InvalidEventError naming the field."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pdtrail.errors import PdtrailError
from pdtrail.schemas import (
    EVENT_CLASSES,
    EVENT_TYPES,
    CreditCheckPerformed,
    InvalidEventError,
    LegalBasis,
    PersonalDataAccessed,
    PersonalDataCollected,
    PersonalDataShared,
    ProcessingEvent,
    PseudonymousSubject,
    SubjectIdentifier,
)

from ._factories import WHEN, event_data, events, make_event, organisation_number, personnummer

ALL = pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
SHARED = PersonalDataShared


def invalid(cls: type[ProcessingEvent], **overrides: Any) -> InvalidEventError:
    with pytest.raises(InvalidEventError) as info:
        make_event(cls, **overrides)
    error = info.value
    assert isinstance(error, PdtrailError) and isinstance(error, ValueError)
    assert (error.field, error.reason) == error.problems[0]
    assert str(error).startswith(f"invalid event: {error.field}: {error.reason}")
    return error


def fields(error: InvalidEventError) -> set[str]:
    return {field for field, _ in error.problems}


@ALL
def test_every_event_class_validates_good_input(cls: type[ProcessingEvent]) -> None:
    pnr = personnummer(1)
    event = make_event(cls, pnr=f"{pnr[2:8]}-{pnr[8:]}")
    assert isinstance(event.subject, SubjectIdentifier)
    assert event.subject.value.get_secret_value() == pnr
    assert event.occurred_at == WHEN and event.occurred_at.tzinfo is not None
    assert event.data_categories == ("name", "contact_details")
    assert event.legal_basis is LegalBasis(event_data(cls)["legal_basis"])
    assert event.event_type in EVENT_TYPES
    assert event.event_type == cls.model_fields["type"].default


def test_event_types_and_classes_correspond() -> None:
    assert len(EVENT_TYPES) == len(set(EVENT_TYPES)) == len(EVENT_CLASSES)
    assert len({cls.avro_name for cls in EVENT_CLASSES}) == len(EVENT_CLASSES)


@ALL
def test_defaults_fill_event_id_and_occurred_at(cls: type[ProcessingEvent]) -> None:
    data = event_data(cls)
    del data["occurred_at"]
    before = dt.datetime.now(dt.UTC)
    one, two = cls(**data), cls(**data)
    assert one.event_id != two.event_id
    assert before <= one.occurred_at <= dt.datetime.now(dt.UTC)


def test_occurred_at_is_converted_to_utc() -> None:
    local = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    event = make_event(PersonalDataAccessed, occurred_at=local)
    assert event.occurred_at == local
    assert event.occurred_at.utcoffset() == dt.timedelta(0)
    assert event.occurred_at.hour == 10


def test_naive_occurred_at_is_rejected() -> None:
    error = invalid(PersonalDataAccessed, occurred_at=dt.datetime(2026, 1, 1, 12, 0))
    assert error.field == "occurred_at"
    assert "timezone" in error.reason


def test_pseudonymous_subject_is_accepted() -> None:
    subject = {"key": "ab" * 32, "key_version": 3, "kind": "email"}
    event = make_event(PersonalDataAccessed, subject=subject)
    assert event.subject == PseudonymousSubject(**subject)


@ALL
def test_wrong_check_digit_names_subject_value_and_never_repeats_it(cls: type[ProcessingEvent]) -> None:
    pnr = personnummer(2)
    bad = pnr[:-1] + str((int(pnr[-1]) + 1) % 10)
    for spelling in (bad, bad[2:], f"{bad[2:8]}-{bad[8:]}"):
        error = invalid(cls, subject={"kind": "personnummer", "value": spelling})
        assert error.field == "subject.value"
        assert "personnummer" in error.reason
        text = str(error) + repr(error) + repr(error.problems)
        for form in (spelling, bad, bad[2:], bad[:8], bad[2:8] + "-"):
            assert form not in text


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"[0-9]{6,8}[-+]?[0-9]{4}", fullmatch=True))
def test_any_number_is_either_normalised_or_refused_without_echo(raw: str) -> None:
    try:
        event = make_event(PersonalDataAccessed, subject={"kind": "personnummer", "value": raw})
    except InvalidEventError as error:
        assert error.field == "subject.value"
        text = str(error) + repr(error.problems)
        assert not re.search(r"[0-9]{4}", text)  # no run of the input's digits
    else:
        normalised = event.subject.value.get_secret_value()  # type: ignore[union-attr]
        assert re.fullmatch(r"[0-9]{12}", normalised)
        assert normalised.endswith(raw[-4:])


def test_invalid_email_subject_is_not_repeated() -> None:
    error = invalid(PersonalDataAccessed, subject={"kind": "email", "value": "anna.svensson(at)example.com"})
    assert error.field == "subject.value"
    assert "e-mail" in error.reason
    assert "svensson" not in str(error)


@pytest.mark.parametrize(
    ("subject", "field"),
    [
        ({"key": "xyz", "key_version": 1, "kind": "email"}, "subject.key"),
        ({"key": "AB" * 32, "key_version": 1, "kind": "email"}, "subject.key"),
        ({"key": "ab" * 32, "key_version": 0, "kind": "email"}, "subject.key_version"),
        ({"key": "ab" * 32, "key_version": 65536, "kind": "email"}, "subject.key_version"),
        ({"key": "ab" * 32, "key_version": 1, "kind": "passport"}, "subject.kind"),
        ({"kind": "passport", "value": "x"}, "subject.kind"),
        ({"kind": "personnummer"}, "subject.value"),
    ],
)
def test_bad_subject_names_the_subfield(subject: dict[str, Any], field: str) -> None:
    assert invalid(PersonalDataAccessed, subject=subject).field == field


@pytest.mark.parametrize("actor_id", ["anna.svensson@example.com", "a@b"])
def test_actor_id_that_is_an_email_is_rejected(actor_id: str) -> None:
    error = invalid(PersonalDataAccessed, actor={"type": "employee", "id": actor_id, "role": "customer_service"})
    assert error.field == "actor.id"
    assert "e-mail" in error.reason
    assert actor_id not in str(error)


def test_actor_id_that_is_a_personnummer_is_rejected() -> None:
    pnr = personnummer(3)
    for actor_id in (pnr, pnr[2:], f"{pnr[2:8]}-{pnr[8:]}"):
        error = invalid(PersonalDataAccessed, actor={"type": "employee", "id": actor_id, "role": "support"})
        assert error.field == "actor.id"
        assert "personnummer" in error.reason
        assert actor_id not in str(error)


def test_party_name_that_is_an_email_is_rejected() -> None:
    error = invalid(SHARED, recipient={"name": "kontakt@example.com", "country": "DE"})
    assert error.field == "recipient.name"


@pytest.mark.parametrize(
    ("overrides", "field", "reason_contains"),
    [
        ({"legal_basis": "because_we_can"}, "legal_basis", "consent"),
        ({"purpose": "Customer Service"}, "purpose", "pattern"),
        ({"purpose": "a" * 65}, "purpose", "64"),
        ({"data_categories": []}, "data_categories", "at least 1"),
        ({"data_categories": [f"c{i}" for i in range(33)]}, "data_categories", "at most 32"),
        ({"data_categories": ["Name"]}, "data_categories.0", "pattern"),
        ({"data_categories": ["name", "name"]}, "data_categories", "twice"),
        ({"source_system": "   "}, "source_system", "at least 1"),
        ({"source_system": "x" * 201}, "source_system", "200"),
        ({"correlation_id": ""}, "correlation_id", "at least 1"),
        ({"actor": {"type": "robot", "id": "svc", "role": "r"}}, "actor.type", "employee"),
        ({"actor": {"type": "service", "id": "svc"}}, "actor.role", "required"),
        ({"access_kind": "peek"}, "access_kind", "view"),
        ({"resource": ""}, "resource", "at least 1"),
        ({"unexpected": 1}, "unexpected", "not permitted"),
        ({"type": "personal_data.shared"}, "type", "personal_data.accessed"),
        ({"event_id": "not-a-uuid"}, "event_id", "UUID"),
    ],
)
def test_invalid_field_is_named_with_a_meaningful_reason(
    overrides: dict[str, Any], field: str, reason_contains: str
) -> None:
    error = invalid(PersonalDataAccessed, **overrides)
    assert error.field == field
    assert reason_contains in error.reason


def test_every_problem_is_listed() -> None:
    error = invalid(PersonalDataAccessed, legal_basis="whim", purpose="Bad Purpose", access_kind="peek")
    assert fields(error) == {"legal_basis", "purpose", "access_kind"}
    assert "(and 2 more)" in str(error)
    assert all(reason for _, reason in error.problems)


def test_missing_required_fields_are_named() -> None:
    data = event_data(PersonalDataShared)
    del data["recipient"], data["purpose"]
    with pytest.raises(InvalidEventError) as info:
        PersonalDataShared(**data)
    assert fields(info.value) == {"recipient", "purpose"}
    assert all(reason == "Field required" for _, reason in info.value.problems)


@pytest.mark.parametrize(
    ("cls", "party_field"),
    [(PersonalDataShared, "recipient"), (PersonalDataCollected, "source_party"), (CreditCheckPerformed, "bureau")],
)
def test_swedish_party_without_organisation_number_is_rejected(cls: type[ProcessingEvent], party_field: str) -> None:
    error = invalid(cls, **{party_field: {"name": "Svenska Bolaget AB", "country": "SE"}})
    assert error.field.startswith(party_field)
    assert error.field == f"{party_field}.organisation_number"
    assert "required for a Swedish (SE) party" in error.reason


def test_swedish_party_error_names_the_organisation_number_field() -> None:
    error = invalid(SHARED, recipient={"name": "Svenska Bolaget AB", "country": "SE"})
    assert error.field == "recipient.organisation_number"


def test_swedish_party_with_wrong_check_digit_is_rejected() -> None:
    good = organisation_number(5).replace("-", "")
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    error = invalid(SHARED, recipient={"name": "Svenska Bolaget AB", "country": "SE", "organisation_number": bad})
    assert error.field.startswith("recipient")
    assert "organisationsnummer" in error.reason


def test_swedish_party_is_normalised() -> None:
    orgnr = organisation_number(6)
    event = make_event(SHARED, recipient={"name": " Bolaget AB ", "country": " se", "organisation_number": orgnr})
    assert event.recipient.country == "SE"
    assert event.recipient.name == "Bolaget AB"
    assert event.recipient.organisation_number == orgnr.replace("-", "")


def test_foreign_party_needs_no_organisation_number() -> None:
    event = make_event(SHARED, recipient={"name": "Beispiel GmbH", "country": "de"})
    assert event.recipient.country == "DE"
    assert event.recipient.organisation_number is None


@pytest.mark.parametrize("country", ["SWE", "S", "1E", ""])
def test_bad_country_code_is_rejected(country: str) -> None:
    assert invalid(SHARED, recipient={"name": "X", "country": country}).field == "recipient.country"


def test_collected_source_party_is_optional() -> None:
    event = make_event(PersonalDataCollected, source="data_subject", source_party=None)
    assert event.source_party is None


def test_credit_check_outcome_is_optional_and_closed() -> None:
    assert make_event(CreditCheckPerformed).outcome is None
    assert make_event(CreditCheckPerformed, outcome="declined").outcome == "declined"
    assert invalid(CreditCheckPerformed, outcome="maybe").field == "outcome"


def test_events_are_frozen() -> None:
    event = make_event(PersonalDataAccessed)
    with pytest.raises(ValueError, match="frozen"):
        event.purpose = "other"  # type: ignore[misc]


def test_to_avro_requires_a_pseudonymous_subject() -> None:
    with pytest.raises(ValueError, match="pseudonymised"):
        make_event(PersonalDataAccessed).to_avro()


@settings(max_examples=100, deadline=None)
@given(events())
def test_generated_events_survive_revalidation(event: ProcessingEvent) -> None:
    again = type(event).model_validate(event.model_dump())
    assert again == event
    assert type(event).from_avro(event.to_avro()) == event


def test_a_nested_models_errors_come_with_their_path_whichever_way_the_event_is_built() -> None:
    """Nested models are validated by pydantic-core itself (not through __init__): the class call,
    model_validate and model_validate_json all raise InvalidEventError naming the nested fields."""
    data = event_data(PersonalDataAccessed)
    data["actor"] = {**data["actor"], "id": "someone@example.se", "role": "Not A Role"}
    data["subject"] = {"kind": "personnummer", "value": "123"}
    expected = ["subject.value", "actor.id", "actor.role"]
    with pytest.raises(InvalidEventError) as built:
        PersonalDataAccessed(**data)
    assert [f for f, _ in built.value.problems] == expected
    with pytest.raises(InvalidEventError) as validated:
        PersonalDataAccessed.model_validate(data)
    assert validated.value.problems == built.value.problems
    with pytest.raises(InvalidEventError) as from_json:
        PersonalDataAccessed.model_validate_json(json.dumps(data, default=str))
    assert from_json.value.problems == built.value.problems


# ---- what reached the log or the caller in the wrong shape before, now guarded -------------


@pytest.mark.parametrize(
    ("cls", "field"),
    [
        (PersonalDataAccessed, "source_system"),
        (PersonalDataAccessed, "resource"),
        (PersonalDataAccessed, "correlation_id"),
        (CreditCheckPerformed, "reference"),
    ],
)
def test_label_that_is_a_personnummer_is_rejected(cls: type[ProcessingEvent], field: str) -> None:
    pnr = personnummer(40)
    assert invalid(cls, **{field: f"{pnr[2:8]}-{pnr[8:]}"}).field == field


def test_occurred_at_out_of_range_after_utc_conversion_is_an_invalid_event() -> None:
    moment = dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert invalid(PersonalDataAccessed, occurred_at=moment).field == "occurred_at"


def test_unknown_upper_case_key_is_named() -> None:
    assert invalid(PersonalDataAccessed, Resource="customer-record").field == "Resource"


def test_invalid_subject_built_on_its_own_raises_invalid_event_error() -> None:
    bad = personnummer(41)[:-1] + "x"
    with pytest.raises(InvalidEventError):
        SubjectIdentifier(kind="personnummer", value=bad)
