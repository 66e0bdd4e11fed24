"""Builders for valid events and hypothesis strategies, shared by the unit tests.

Every identifier is generated (pdtrail.simulate with a seeded random.Random); none is a real person's.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from hypothesis import strategies as st

from pdtrail.producers import Pseudonymiser
from pdtrail.schemas import (
    EVENT_CLASSES,
    AccessKind,
    ActorType,
    CheckKind,
    CheckOutcome,
    CollectionSource,
    ConsentGiven,
    ConsentWithdrawn,
    CreditCheckPerformed,
    CreditDecision,
    DataErased,
    DataRectified,
    Disposal,
    ErasureRefused,
    GdprRight,
    IdentifiersCollected,
    LeadReceived,
    LegalBasis,
    MarketingChannel,
    MarketingSent,
    PersonalDataAccessed,
    PersonalDataCollected,
    PersonalDataShared,
    ProcessingEvent,
    ProcessingRestricted,
    PseudonymousSubject,
    PublicRegisterLookup,
    RecipientRole,
    RequestOutcome,
    RestrictionLifted,
    RetentionExpired,
    RightsRequestAnswered,
    RightsRequestReceived,
    SubjectChecked,
    SubjectIdentifier,
    SubjectIdentifiersLinked,
    SubjectIdentifiersUnlinked,
    SubjectKind,
)
from pdtrail.schemas._clear_identifiers import identifier_in_clear
from pdtrail.simulate import generate_organisation_number, generate_personnummer

SECRET_V1 = b"unit-test-secret-version-1-000000"
SECRET_V2 = b"unit-test-secret-version-2-111111"
WHEN = dt.datetime(2026, 3, 14, 9, 26, 53, 589793, tzinfo=dt.UTC)


def pseudonymiser() -> Pseudonymiser:
    """Two key versions; version 2 is current."""
    return Pseudonymiser({1: SECRET_V1, 2: SECRET_V2}, current_version=2)


def personnummer(seed: int = 1, *, coordination: bool = False) -> str:
    return generate_personnummer(random.Random(seed), coordination=coordination)


def spellings(pnr12: str) -> list[str]:
    """Every accepted spelling of a 12-digit personnummer of someone younger than 100."""
    short = pnr12[2:]
    return [pnr12, f"{pnr12[:8]}-{pnr12[8:]}", short, f"{short[:6]}-{short[6:]}", f"  {pnr12}\n"]


def organisation_number(seed: int = 1) -> str:
    return generate_organisation_number(random.Random(seed))


def swedish_party(seed: int = 1, name: str = "Exempelbolaget AB") -> dict[str, Any]:
    return {"name": name, "country": "SE", "organisation_number": organisation_number(seed)}


def envelope(pnr: str | None = None, **overrides: Any) -> dict[str, Any]:
    """A valid envelope with a raw personnummer subject (generated)."""
    data: dict[str, Any] = {
        "occurred_at": WHEN,
        "subject": {"kind": "personnummer", "value": pnr or personnummer()},
        "actor": {"type": "employee", "id": "emp-1042", "role": "customer_service"},
        "purpose": "customer_service",
        "legal_basis": "contract",
        "data_categories": ["name", "contact_details"],
        "source_system": "crm",
        "correlation_id": "trace-0001",
    }
    data.update(overrides)
    return data


SPECIFIC: dict[type[ProcessingEvent], dict[str, Any]] = {
    PersonalDataCollected: {"source": "third_party_lead", "source_party": swedish_party(2, "Leadbolaget AB")},
    PersonalDataAccessed: {"access_kind": "view", "resource": "customer-record"},
    PersonalDataShared: {"recipient": swedish_party(3, "Betalbolaget AB"), "recipient_role": "processor"},
    CreditCheckPerformed: {"bureau": swedish_party(4, "Kreditbolaget AB"), "reference": "KK-00000001"},
    RightsRequestReceived: {"right": "access", "request_id": "DSR-2026-0001"},
    RightsRequestAnswered: {"right": "erasure", "request_id": "DSR-2026-0002", "outcome": "refused", "reason": "BFL"},
    ConsentGiven: {"legal_basis": "consent", "consent_text": "marketing-v3"},
    ConsentWithdrawn: {"legal_basis": "consent", "request_id": "DSR-2026-0003"},
    DataRectified: {"request_id": "DSR-2026-0004"},
    ProcessingRestricted: {"request_id": "DSR-2026-0005", "reason": "accuracy contested"},
    RestrictionLifted: {"request_id": "DSR-2026-0005", "reason": "accuracy verified"},
    DataErased: {"request_id": "DSR-2026-0006"},
    ErasureRefused: {"request_id": "DSR-2026-0007", "legal_ground": "bookkeeping law, 7 years"},
    RetentionExpired: {"disposal": "deleted"},
    SubjectChecked: {"check": "age", "outcome": "passed", "provider": swedish_party(5, "Adressbolaget AB")},
    LeadReceived: {"lead_source": swedish_party(6, "Leadbolaget AB"), "reference": "lead-77"},
    PublicRegisterLookup: {"public_register": swedish_party(7, "Registret AB")},
    MarketingSent: {"channel": "email", "campaign": "spring-2026"},
    IdentifiersCollected: {"identifiers": ["_ga", "session"]},
    SubjectIdentifiersLinked: {"linked": {"kind": "customer_id", "value": "KUND-4711"}, "reason": "same person"},
    SubjectIdentifiersUnlinked: {"linked": {"kind": "customer_id", "value": "KUND-4711"}, "reason": "wrong match"},
}
assert set(SPECIFIC) == set(EVENT_CLASSES), "a new event class needs an entry here"


def event_data(cls: type[ProcessingEvent], pnr: str | None = None, **overrides: Any) -> dict[str, Any]:
    return {**envelope(pnr), **SPECIFIC[cls], **overrides}


def make_event(cls: type[ProcessingEvent], pnr: str | None = None, **overrides: Any) -> ProcessingEvent:
    return cls(**event_data(cls, pnr, **overrides))


def pseudonymised(event: ProcessingEvent, pseudo: Pseudonymiser | None = None) -> ProcessingEvent:
    pseudo = pseudo or pseudonymiser()
    update = {"subject": pseudo.pseudonymise(event.subject)}  # type: ignore[arg-type]
    linked = getattr(event, "linked", None)  # a link event's other identifier, as the SDK keys it
    if isinstance(linked, SubjectIdentifier):
        update["linked"] = pseudo.pseudonymise(linked)
    return event.model_copy(update=update)


# ---- hypothesis strategies -------------------------------------------------------------------

identifiers = st.from_regex(r"[a-z][a-z0-9_]{0,12}(\.[a-z0-9_]{1,8}){0,2}", fullmatch=True)
_text_chars = st.characters(exclude_categories=("Cs",))
_visible = st.characters(exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp"))
# Any text without surrogates, at most 200 characters, that does not strip to nothing.
# Free text (party names, reasons) must hold no e-mail or personnummer: start with a letter, no '@', and no
# digit run the detector reads as one (generated Unicode digits could spell one).
safe_labels = st.builds(
    str.__add__,
    st.characters(categories=("L",)),
    st.text(st.characters(exclude_categories=("Cs",), exclude_characters="@"), max_size=80),
).filter(lambda s: identifier_in_clear(s) is None)
# Ids (actor id, source system, request id, reference) and resource paths have a grammar of their own.
id_labels = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:/+=#-]{0,60}", fullmatch=True).filter(
    lambda s: identifier_in_clear(s) is None
)
path_labels = st.from_regex(r"[A-Za-z0-9_.:~+=#-]{1,20}(/[A-Za-z0-9_.:~+=#-]{1,20}){0,4}", fullmatch=True).filter(
    lambda s: identifier_in_clear(s) is None
)
cookie_names = st.from_regex(r"[A-Za-z0-9!#$&'*+.^_`|~-]{1,40}", fullmatch=True).filter(
    lambda s: identifier_in_clear(s) is None
)
foreign_organisation_numbers = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 ./-]{0,19}", fullmatch=True).filter(
    lambda s: identifier_in_clear(s) is None and s == s.strip()
)
moments = st.datetimes(
    min_value=dt.datetime(1900, 1, 2),
    max_value=dt.datetime(2200, 12, 30),
    timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=2)), dt.timezone(dt.timedelta(hours=-5))]),
)
seeds = st.integers(0, 2**32)


@st.composite
def parties(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        return {"name": draw(safe_labels), "country": "SE", "organisation_number": organisation_number(draw(seeds))}
    country = draw(st.from_regex(r"[A-Z]{2}", fullmatch=True).filter(lambda c: c != "SE"))
    number = draw(st.none() | foreign_organisation_numbers)
    return {"name": draw(safe_labels), "country": country, "organisation_number": number}


pseudonymous_subjects = st.builds(
    PseudonymousSubject,
    key=st.binary(min_size=32, max_size=32).map(bytes.hex),
    key_version=st.integers(1, 65535),
    kind=st.sampled_from(SubjectKind),
)


@st.composite
def envelopes(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "event_id": draw(st.uuids()),
        "occurred_at": draw(moments),
        "subject": draw(pseudonymous_subjects),
        "actor": {"type": draw(st.sampled_from(ActorType)), "id": draw(id_labels), "role": draw(identifiers)},
        "purpose": draw(identifiers),
        "legal_basis": draw(st.sampled_from(LegalBasis)),
        "data_categories": draw(st.lists(identifiers, min_size=1, max_size=32, unique=True)),
        "source_system": draw(id_labels),
        "correlation_id": draw(st.none() | id_labels),
    }


@st.composite
def events(draw: st.DrawFn, cls: type[ProcessingEvent] | None = None) -> ProcessingEvent:
    """A valid event with a pseudonymous subject, ready to encode."""
    cls = cls or draw(st.sampled_from(EVENT_CLASSES))
    data = draw(envelopes())
    if cls is PersonalDataCollected:
        data |= {"source": draw(st.sampled_from(CollectionSource)), "source_party": draw(st.none() | parties())}
    elif cls is PersonalDataAccessed:
        data |= {"access_kind": draw(st.sampled_from(AccessKind)), "resource": draw(path_labels)}
    elif cls is PersonalDataShared:
        data |= {"recipient": draw(parties()), "recipient_role": draw(st.sampled_from(RecipientRole))}
    elif cls is CreditCheckPerformed:
        data |= {
            "bureau": draw(parties()),
            "reference": draw(id_labels),
            "outcome": draw(st.none() | st.sampled_from(CreditDecision)),
        }
    elif cls in (SubjectIdentifiersLinked, SubjectIdentifiersUnlinked):
        subject = data["subject"]
        other = draw(st.binary(min_size=32, max_size=32).map(bytes.hex).filter(lambda k: k != subject.key))
        kind = draw(st.sampled_from(SubjectKind))
        linked = PseudonymousSubject(key=other, key_version=subject.key_version, kind=kind)
        data |= {"linked": linked, "reason": draw(safe_labels)}
    else:
        data |= draw(_vocabulary_fields(cls))
    return cls(**data)


@st.composite
def _vocabulary_fields(draw: st.DrawFn, cls: type[ProcessingEvent]) -> dict[str, Any]:
    maybe_label = st.none() | safe_labels
    maybe_id = st.none() | id_labels
    if cls is RightsRequestReceived:
        return {"right": draw(st.sampled_from(GdprRight)), "request_id": draw(id_labels)}
    if cls is RightsRequestAnswered:
        outcome = draw(st.sampled_from(RequestOutcome))
        reason = draw(safe_labels if outcome is not RequestOutcome.FULFILLED else maybe_label)
        return {"right": draw(st.sampled_from(GdprRight)), "request_id": draw(id_labels), "outcome": outcome,
                "reason": reason}  # fmt: skip
    if cls is ConsentGiven:
        return {"legal_basis": "consent", "consent_text": draw(maybe_label)}
    if cls is ConsentWithdrawn:
        return {"legal_basis": "consent", "request_id": draw(maybe_id)}
    if cls in (DataRectified, DataErased):
        return {"request_id": draw(maybe_id)}
    if cls in (ProcessingRestricted, RestrictionLifted):
        return {"request_id": draw(maybe_id), "reason": draw(maybe_label)}
    if cls is ErasureRefused:
        return {"request_id": draw(maybe_id), "legal_ground": draw(safe_labels)}
    if cls is RetentionExpired:
        return {"disposal": draw(st.sampled_from(Disposal))}
    if cls is SubjectChecked:
        return {"check": draw(st.sampled_from(CheckKind)), "outcome": draw(st.sampled_from(CheckOutcome)),
                "provider": draw(st.none() | parties())}  # fmt: skip
    if cls is LeadReceived:
        return {"lead_source": draw(parties()), "reference": draw(maybe_id)}
    if cls is PublicRegisterLookup:
        return {"public_register": draw(parties()), "reference": draw(maybe_id)}
    if cls is MarketingSent:
        return {"channel": draw(st.sampled_from(MarketingChannel)), "campaign": draw(safe_labels)}
    if cls is IdentifiersCollected:
        return {"identifiers": draw(st.lists(cookie_names, min_size=1, max_size=5))}
    raise AssertionError(f"no strategy for {cls.__name__}")  # pragma: no cover - SPECIFIC lists every class
