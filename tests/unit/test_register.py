"""The processing register: loading and validating the file, and checking events against it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pdtrail.config import load_settings
from pdtrail.producers import AuditEmitter, InvalidEventError
from pdtrail.schemas import (
    DEFAULT_REGISTER,
    ConsentGiven,
    ConsentWithdrawn,
    CreditCheckPerformed,
    LeadReceived,
    MarketingSent,
    PersonalDataAccessed,
    PersonalDataShared,
    RegisterError,
    RetentionPeriod,
    load_register,
)
from pdtrail.simulate import (
    CLEANING_OPERATOR,
    CREDIT_BUREAU,
    LEAD_PARTNER,
    UNREGISTERED_PARTNER,
    simulate_company,
)

from ._factories import SECRET_V2, envelope, events, organisation_number

REGISTER = load_register()


def shared(**overrides: Any) -> PersonalDataShared:
    data = envelope(
        purpose="booking.handling",
        legal_basis="contract",
        data_categories=["name", "address"],
        actor={"type": "service", "id": "dispatch", "role": "scheduling"},
    )
    recipient = CLEANING_OPERATOR.model_dump()
    return PersonalDataShared(**{**data, "recipient": recipient, "recipient_role": "processor", **overrides})


def fields(event: Any) -> list[str]:
    return [field for field, _ in REGISTER.problems(event)]


def test_the_default_register_loads_and_stamps_version_and_digest() -> None:
    assert REGISTER.version.startswith("2026.1+") and len(REGISTER.version.split("+")[1]) == 8
    assert {"booking.handling", "marketing", "legal_obligation.bookkeeping", "rights.handling"} <= set(
        REGISTER.purposes
    )
    assert REGISTER.retention_for("legal_obligation.bookkeeping") == RetentionPeriod(months=84).approximate()
    assert REGISTER.retention_for("no.such") is None
    assert REGISTER.retention_for_category("payment_information") == RetentionPeriod(months=84)


def test_an_edit_without_a_new_version_number_still_changes_the_stamp(tmp_path: Path) -> None:
    edited = tmp_path / "register.toml"
    edited.write_text(DEFAULT_REGISTER.read_text().replace('retention = "2 years"', 'retention = "3 years"', 1))
    other = load_register(edited)
    assert other.version.split("+")[0] == REGISTER.version.split("+")[0]
    assert other.version != REGISTER.version


def test_a_register_is_parsed_once_per_content_and_an_edit_is_seen_at_once(tmp_path: Path) -> None:
    path = tmp_path / "register.toml"
    path.write_bytes(DEFAULT_REGISTER.read_bytes())
    first = load_register(path)
    assert load_register(path) is first  # same content: the parsed register is reused
    path.write_text(DEFAULT_REGISTER.read_text().replace('retention = "2 years"', 'retention = "3 years"', 1))
    edited = load_register(path)
    assert edited is not first and edited.version != first.version and edited.path == path


def test_the_simulated_company_fits_its_register() -> None:
    for _, event in simulate_company(60, seed=9):
        assert REGISTER.problems(event) == [], event.event_type


def test_a_registered_sharing_passes() -> None:
    assert REGISTER.problems(shared()) == []


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"purpose": "profiling.scoring"}, "purpose", "not a purpose in the processing register"),
        ({"legal_basis": "consent"}, "legal_basis", "not allowed for 'booking.handling'"),
        ({"data_categories": ["name", "credit_report"]}, "data_categories", "credit_report not declared"),
        ({"recipient": UNREGISTERED_PARTNER.model_dump()}, "recipient", "not a recipient registered"),
    ],
)
def test_what_the_register_does_not_cover_is_named(overrides: dict[str, Any], field: str, words: str) -> None:
    problems = REGISTER.problems(shared(**overrides))
    assert [f for f, _ in problems] == [field]
    assert words in problems[0][1]


def test_a_registered_recipient_of_another_purpose_is_not_enough() -> None:
    """The credit bureau is registered, but for the pre-contract checks, not for marketing."""
    event = shared(
        purpose="marketing",
        legal_basis="consent",
        data_categories=["name"],
        recipient=CREDIT_BUREAU.model_dump(),
        recipient_role="controller",
    )
    assert fields(event) == ["recipient"]


def test_a_recipient_is_matched_by_organisation_number_not_by_spelling_of_its_name() -> None:
    renamed = {**CLEANING_OPERATOR.model_dump(), "name": "STÄDLAGET I NORR"}
    assert REGISTER.problems(shared(recipient=renamed)) == []
    impostor = {**CLEANING_OPERATOR.model_dump(), "organisation_number": organisation_number(77)}
    assert fields(shared(recipient=impostor)) == ["recipient"]


def test_credit_bureaus_and_lead_sources_must_be_registered() -> None:
    check = envelope(purpose="pre_contract.checks", legal_basis="legitimate_interests",
                     data_categories=["personnummer", "credit_report"])  # fmt: skip
    assert fields(CreditCheckPerformed(**check, bureau=CREDIT_BUREAU.model_dump(), reference="KK-1")) == []
    assert fields(CreditCheckPerformed(**check, bureau=UNREGISTERED_PARTNER.model_dump(), reference="KK-1")) == [
        "bureau"
    ]
    lead = envelope(purpose="contact.offering", legal_basis="legitimate_interests", data_categories=["name"])
    assert fields(LeadReceived(**lead, lead_source=LEAD_PARTNER.model_dump())) == []
    assert fields(LeadReceived(**lead, lead_source=UNREGISTERED_PARTNER.model_dump())) == ["lead_source"]


def test_access_is_checked_against_the_actor_role() -> None:
    def access(role: str, purpose: str, categories: list[str]) -> PersonalDataAccessed:
        data = envelope(
            purpose=purpose, data_categories=categories, actor={"type": "employee", "id": "emp-1", "role": role}
        )
        return PersonalDataAccessed(**data, access_kind="view", resource="customer-record")

    assert fields(access("customer_service", "customer_service", ["name", "correspondence"])) == []
    assert fields(access("intern", "customer_service", ["name"])) == ["actor.role"]
    assert fields(access("scheduling", "customer_service", ["name"])) == ["actor.role"]
    problems = REGISTER.problems(access("customer_service", "booking.handling", ["name", "payment_information"]))
    assert problems == [("actor.role", "'customer_service' may not access payment_information")]


def test_consent_can_only_be_given_or_withdrawn_for_a_purpose_that_rests_on_consent() -> None:
    data = envelope(purpose="marketing", legal_basis="consent", data_categories=["name", "contact_details"])
    assert fields(ConsentGiven(**data)) == fields(ConsentWithdrawn(**data)) == []
    never = envelope(purpose="customer_service", legal_basis="consent", data_categories=["name"])
    problems = REGISTER.problems(ConsentWithdrawn(**never))
    assert (
        "purpose",
        "'customer_service' does not rest on consent, so consent cannot be given or withdrawn",
    ) in problems


def test_consent_events_must_say_consent() -> None:
    with pytest.raises(InvalidEventError) as info:
        ConsentWithdrawn(**envelope(purpose="marketing", legal_basis="contract"))
    assert info.value.field == "legal_basis" and "consent" in info.value.reason


# ---- the SDK refuses, and nothing is half-written --------------------------------------------------------


@pytest.fixture
def emitter(tmp_path: Path) -> Any:
    # No broker: every event below is refused before it reaches librdkafka, so none is needed.
    settings = load_settings(
        home=tmp_path, kafka={"bootstrap_servers": "127.0.0.1:9"}, pseudonym={"secret": SECRET_V2.decode()}
    )
    audit = AuditEmitter(settings)
    yield audit
    audit.close(timeout=0)


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"purpose": "profiling.scoring"}, "purpose"),
        ({"data_categories": ["name", "gender"]}, "data_categories"),
        ({"recipient": UNREGISTERED_PARTNER.model_dump()}, "recipient"),
        ({"legal_basis": "public_interest"}, "legal_basis"),  # not one of GDPR Art. 6(1) a-f
        (
            {"recipient": {**CLEANING_OPERATOR.model_dump(), "organisation_number": "5598527042"}},
            "recipient.organisation_number",
        ),
    ],
)
def test_the_sdk_refuses_with_the_field_and_nothing_is_queued(emitter: Any, event: dict[str, Any], field: str) -> None:
    base = shared().model_dump(mode="json", exclude={"event_id", "type", "register_version"})
    base["subject"] = envelope()["subject"]
    with pytest.raises(InvalidEventError) as info:
        emitter.emit({**base, "type": "personal_data.shared", **event})
    assert info.value.field == field
    assert emitter.stats.emitted == 0  # refused before librdkafka saw it


def test_the_sdk_refuses_a_withdrawal_for_a_purpose_never_consentable(emitter: Any) -> None:
    data = envelope(purpose="booking.handling", legal_basis="consent", data_categories=["name"])
    with pytest.raises(InvalidEventError) as info:
        emitter.emit(ConsentWithdrawn(**data))
    assert info.value.field == "purpose" and "does not rest on consent" in info.value.reason
    assert emitter.stats.emitted == 0


def test_a_registered_event_is_stamped_with_the_register_version(emitter: Any) -> None:
    actor = {"type": "service", "id": "newsletter", "role": "marketing"}
    data = envelope(
        purpose="marketing", legal_basis="consent", data_categories=["name", "contact_details"], actor=actor
    )
    event = MarketingSent(**data, channel="email", campaign="spring")
    stamp = emitter._register_stamp(event)
    assert stamp == {"register_version": REGISTER.version}


# ---- the register file itself -----------------------------------------------------------------------------


BOOKING_CATEGORIES = 'categories = ["name", "contact_details", "address", "housing_details"'
GHOST_ROLE = '\n[roles.ghost]\npurposes = ["haunting"]\ncategories = ["name"]\n'


@pytest.mark.parametrize(
    ("old", "new", "where", "words"),
    [
        ('version = "2026.1"', 'version = ""', "version", "at least 1"),
        ("[controller]", "[purposes.x]\n[controller]", "purposes.x.description", "Field required"),
        ('"5598527041"', '"5598527042"', "recipients.cleaning_operator.organisation_number", "check"),
        ('retention = "1 year"', 'retention = "a while"', "purposes.contact.offering.retention", "years"),
        (BOOKING_CATEGORIES, BOOKING_CATEGORIES.replace("name", "nmae"), "purposes.contact", "nmae not declared"),
        ('legal_bases = ["contract"]', 'legal_bases = ["public_interest"]', "purposes.booking", "Input should be"),
        ("[controller]", GHOST_ROLE + "[controller]", "roles.ghost.purposes", "haunting not declared"),
        ("[controller]", "[controller", "register.toml", "not valid TOML"),
    ],
)
def test_a_broken_register_file_is_refused_naming_where(
    tmp_path: Path, old: str, new: str, where: str, words: str
) -> None:
    broken = tmp_path / "register.toml"
    changed = DEFAULT_REGISTER.read_text().replace(old, new, 1)
    assert changed != DEFAULT_REGISTER.read_text()
    broken.write_text(changed)
    with pytest.raises(RegisterError) as info:
        load_register(broken)
    assert info.value.where.startswith(where) and words in str(info.value)


def test_a_missing_register_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RegisterError, match="cannot be read"):
        load_register(tmp_path / "nowhere.toml")


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("7 years", dt.datetime(2020, 2, 29, tzinfo=dt.UTC), dt.datetime(2027, 2, 28, tzinfo=dt.UTC)),
        ("1 months", dt.datetime(2026, 1, 31, tzinfo=dt.UTC), dt.datetime(2026, 2, 28, tzinfo=dt.UTC)),
        ("13 months", dt.datetime(2026, 12, 15, tzinfo=dt.UTC), dt.datetime(2028, 1, 15, tzinfo=dt.UTC)),
        ("30 days", dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2026, 1, 31, tzinfo=dt.UTC)),
    ],
)
def test_retention_periods_are_calendar_periods(text: str, start: dt.datetime, end: dt.datetime) -> None:
    assert RetentionPeriod.parse(text).end(start) == end


@settings(max_examples=200, deadline=None)
@given(events())
def test_check_raises_exactly_when_there_are_problems(event: Any) -> None:
    now = event.occurred_at  # generated moments span centuries: the time window is tested on its own
    problems = REGISTER.problems(event, now=now)
    assert all(isinstance(f, str) and isinstance(r, str) and r for f, r in problems)
    if problems:
        with pytest.raises(InvalidEventError) as info:
            REGISTER.check(event, now=now)
        assert info.value.problems == problems
    else:
        REGISTER.check(event, now=now)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(sorted(REGISTER.purposes)), st.data())
def test_any_event_built_from_the_register_passes(purpose: str, data: st.DataObject) -> None:
    entry = REGISTER.purposes[purpose]
    basis = data.draw(st.sampled_from(entry.legal_bases))
    categories = data.draw(st.lists(st.sampled_from(entry.categories), min_size=1, unique=True))
    event = MarketingSent(**envelope(purpose=purpose, legal_basis=basis.value, data_categories=categories),
                          channel="email", campaign="c")  # fmt: skip
    assert REGISTER.problems(event) == []
