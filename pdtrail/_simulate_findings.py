"""Findings planted into a simulated stream: one event per kind of finding that the queries must report."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from pdtrail._simulate_parties import (
    _STAFF,
    CLEANING_OPERATOR,
    LEAD_PARTNER,
    PAYMENT_PROVIDER,
    SimulatedSubject,
)
from pdtrail.schemas import (
    Actor,
    ConsentGiven,
    ConsentWithdrawn,
    DataErased,
    LeadReceived,
    MarketingSent,
    Party,
    PersonalDataAccessed,
    PersonalDataCollected,
    PersonalDataShared,
    ProcessingEvent,
    ProcessingRestricted,
    RightsRequestAnswered,
    RightsRequestReceived,
    SubjectIdentifier,
)

UNREGISTERED_PARTNER = Party(name="Okänd Partner AB", country="SE", organisation_number="5599990008")


@dataclass(frozen=True)
class PlantedFinding:
    """A violation planted into a simulated stream: the finding kind it must produce and the event that
    commits it. ``outside_register``: the event breaks the register itself, so only an emitter in
    ``processing_register.mode = "record"`` lets it through."""

    kind: str
    subject: SimulatedSubject
    event: ProcessingEvent
    outside_register: bool = False


def simulate_findings(
    stream: list[tuple[SimulatedSubject, ProcessingEvent]], *, seed: int = 11
) -> list[PlantedFinding]:
    """One violation of every finding kind (two of late answers: late, and never answered), each on its own
    subject of ``stream``. Where a kind needs a history (a consent withdrawn, an erasure, a restriction, a
    lead), the history is planted too, after the subject's own last event, as entries of kind "" — so that
    every planted violation is exactly its kind and no other, whatever the stream holds."""
    rng = random.Random(seed)
    history: dict[SimulatedSubject, list[ProcessingEvent]] = {}
    for subject, event in stream:
        history.setdefault(subject, []).append(event)
    used: set[SimulatedSubject] = set()
    # A subject whose own history holds one of these could turn a planted act into a second kind of finding.
    quiet = ("data.erased", "processing.restricted", "consent.withdrawn", "rights_request.received")

    def pick() -> tuple[SimulatedSubject, ProcessingEvent, ProcessingEvent]:
        for subject, events in history.items():
            if subject not in used and not {e.event_type for e in events} & set(quiet):
                used.add(subject)
                return subject, events[0], max(events, key=lambda e: e.occurred_at)
        raise ValueError("the stream has too few subjects to plant every finding: simulate at least 30")

    def who(subject: SimulatedSubject) -> SubjectIdentifier:
        return SubjectIdentifier(kind="personnummer", value=subject.personnummer)

    def later(anchor: ProcessingEvent, **delta: float) -> dt.datetime:
        return anchor.occurred_at + dt.timedelta(**delta)

    staff = Actor(type="employee", id=rng.choice(_STAFF), role="customer_service")
    dpo = Actor(type="employee", id="emp-0001", role="dpo")
    customer = Actor(type="data_subject", id="self-service", role="customer")
    newsletter = Actor(type="service", id="newsletter", role="marketing")
    planted: list[PlantedFinding] = []

    subject, _, last = pick()
    consent = {
        "subject": who(subject),
        "purpose": "marketing",
        "legal_basis": "consent",
        "data_categories": ("name", "contact_details"),
        "source_system": "my-pages",
    }
    given = ConsentGiven(**consent, occurred_at=later(last, days=1), actor=customer)
    withdrawn = ConsentWithdrawn(**consent, occurred_at=later(given, days=1), actor=customer)
    planted += [PlantedFinding("", subject, given), PlantedFinding("", subject, withdrawn)]
    planted.append(
        PlantedFinding(
            "consent_withdrawn",
            subject,
            MarketingSent(
                **{**consent, "source_system": "newsletter"},
                occurred_at=later(withdrawn, days=5),
                actor=newsletter,
                channel="email",
                campaign="winter-offer",
            ),
        )
    )

    subject, _, last = pick()
    erased = DataErased(
        subject=who(subject),
        occurred_at=later(last, days=1),
        actor=dpo,
        purpose="customer_service",
        legal_basis="contract",
        data_categories=("contact_details", "correspondence"),
        source_system="dpo-desk",
    )
    planted.append(PlantedFinding("", subject, erased))
    planted.append(
        PlantedFinding(
            "after_erasure",
            subject,
            PersonalDataAccessed(
                subject=who(subject),
                occurred_at=later(erased, days=3),
                actor=staff,
                purpose="customer_service",
                legal_basis="contract",
                data_categories=("name", "contact_details"),
                source_system="crm",
                access_kind="view",
                resource="customer-record",
            ),
        )
    )

    subject, _, last = pick()
    restricted = ProcessingRestricted(
        subject=who(subject),
        occurred_at=later(last, days=1),
        actor=dpo,
        purpose="rights.handling",
        legal_basis="legal_obligation",
        data_categories=("name",),
        source_system="dpo-desk",
        reason="objection pending",
    )
    planted.append(PlantedFinding("", subject, restricted))
    planted.append(
        PlantedFinding(
            "during_restriction",
            subject,
            PersonalDataShared(
                subject=who(subject),
                occurred_at=later(restricted, hours=2),
                actor=Actor(type="service", id="dispatch", role="scheduling"),
                purpose="booking.handling",
                legal_basis="contract",
                data_categories=("name", "address"),
                source_system="dispatch",
                recipient=CLEANING_OPERATOR,
                recipient_role="processor",
            ),
        )
    )

    subject, _, last = pick()
    lead = LeadReceived(
        subject=who(subject),
        occurred_at=later(last, days=1),
        actor=Actor(type="service", id="lead-inbox", role="marketing"),
        purpose="contact.offering",
        legal_basis="legitimate_interests",
        data_categories=("name", "contact_details"),
        source_system="crm",
        lead_source=LEAD_PARTNER,
    )
    planted.append(PlantedFinding("", subject, lead))
    planted.append(
        PlantedFinding(
            "after_retention",
            subject,
            PersonalDataAccessed(
                subject=who(subject),
                occurred_at=later(lead, days=430),
                actor=Actor(type="employee", id="emp-1099", role="marketing"),
                purpose="contact.offering",
                legal_basis="legitimate_interests",
                data_categories=("name", "contact_details"),
                source_system="crm",
                access_kind="export",
                resource="lead-list",
            ),
        )
    )

    for answered in (True, False):
        subject, _, last = pick()
        request = {
            "subject": who(subject),
            "actor": dpo,
            "purpose": "rights.handling",
            "legal_basis": "legal_obligation",
            "data_categories": ("name", "contact_details"),
            "source_system": "dpo-desk",
            "right": "access",
            "request_id": f"DSR-LATE-{int(answered)}",
        }
        received = RightsRequestReceived(**request, occurred_at=later(last, days=20))
        planted.append(PlantedFinding("late_answer", subject, received))
        if answered:  # answered, but 40 days on: the answer itself is no finding, the request is
            late = RightsRequestAnswered(**request, occurred_at=later(received, days=40), outcome="fulfilled")
            planted.append(PlantedFinding("", subject, late))

    # Outside the register: only an emitter in record mode lets these through.
    def outside(kind: str, make: Any) -> None:
        subject, first, _ = pick()
        planted.append(PlantedFinding(kind, subject, make(who(subject), later(first, days=2)), outside_register=True))

    outside(
        "unregistered_recipient",
        lambda s, at: PersonalDataShared(
            subject=s,
            occurred_at=at,
            actor=Actor(type="service", id="dispatch", role="scheduling"),
            purpose="booking.handling",
            legal_basis="contract",
            data_categories=("name", "address"),
            source_system="dispatch",
            recipient=UNREGISTERED_PARTNER,
            recipient_role="processor",
        ),
    )
    outside(
        "basis_not_allowed",
        lambda s, at: PersonalDataShared(
            subject=s,
            occurred_at=at,
            actor=Actor(type="service", id="payments", role="payment"),
            purpose="booking.handling",
            legal_basis="legitimate_interests",
            data_categories=("name", "payment_information"),
            source_system="booking-api",
            recipient=PAYMENT_PROVIDER,
            recipient_role="processor",
        ),
    )
    outside(
        "category_not_declared",
        lambda s, at: MarketingSent(
            subject=s,
            occurred_at=at,
            actor=Actor(type="service", id="newsletter", role="marketing"),
            purpose="marketing",
            legal_basis="legitimate_interests",
            data_categories=("name", "personnummer"),
            source_system="newsletter",
            channel="post",
            campaign="spring-letter",
        ),
    )
    outside(
        "role_not_allowed",
        lambda s, at: PersonalDataAccessed(
            subject=s,
            occurred_at=at,
            actor=Actor(type="employee", id="emp-1033", role="scheduling"),
            purpose="customer_service",
            legal_basis="contract",
            data_categories=("name", "contact_details"),
            source_system="crm",
            access_kind="view",
            resource="customer-record",
        ),
    )
    outside(
        "purpose_not_registered",
        lambda s, at: PersonalDataCollected(
            subject=s,
            occurred_at=at,
            actor=Actor(type="service", id="scoring", role="analytics"),
            purpose="profiling.scoring",
            legal_basis="legitimate_interests",
            data_categories=("age", "housing_type"),
            source_system="scoring",
            source="service_usage",
        ),
    )
    return planted
