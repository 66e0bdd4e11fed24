"""A realistic stream of processing events for a Swedish home-services company, with generated subjects.

Used by the demo, the benchmarks and the tests. Identifiers are generated (valid check digits, random
digits), never real people's.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass

from pdtrail.schemas import (
    Actor,
    CreditCheckPerformed,
    Party,
    PersonalDataAccessed,
    PersonalDataCollected,
    PersonalDataShared,
    ProcessingEvent,
    SubjectIdentifier,
)


def _luhn_check_digit(digits: str) -> int:
    total = 0
    for i, ch in enumerate(digits):
        v = int(ch) * (2 - i % 2)
        total += v - 9 if v > 9 else v
    return (10 - total % 10) % 10


def generate_personnummer(rng: random.Random, *, coordination: bool = False) -> str:
    """A valid 12-digit personnummer (or samordningsnummer: day + 60) for a generated adult."""
    born = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 62))
    day = born.day + (60 if coordination else 0)
    serial = f"{rng.randrange(1, 1000):03d}"
    body = f"{born:%y%m}{day:02d}{serial}"
    return f"{born.year // 100}{body}{_luhn_check_digit(body)}"


def generate_organisation_number(rng: random.Random) -> str:
    """A valid Swedish organisationsnummer of an aktiebolag (starts with 55; third digit 2-9, as for any
    legal entity, so that it can never be a person's number)."""
    body = f"55{rng.randrange(2, 10)}{rng.randrange(0, 10**6):06d}"
    return f"{body[:6]}-{body[6:]}{_luhn_check_digit(body)}"


_ORG_RNG = random.Random(556)
PAYMENT_PROVIDER = Party(
    name="Betalväxeln AB", country="SE", organisation_number=generate_organisation_number(_ORG_RNG)
)
CLEANING_OPERATOR = Party(
    name="Städlaget i Norr AB", country="SE", organisation_number=generate_organisation_number(_ORG_RNG)
)
CREDIT_BUREAU = Party(name="Kreditkollen AB", country="SE", organisation_number=generate_organisation_number(_ORG_RNG))
ADDRESS_REGISTER = Party(
    name="Adressregistret AB", country="SE", organisation_number=generate_organisation_number(_ORG_RNG)
)
BOOKKEEPING = Party(
    name="Siffra Redovisning AB", country="SE", organisation_number=generate_organisation_number(_ORG_RNG)
)

_STAFF = [f"emp-{n}" for n in range(1001, 1041)]


@dataclass(frozen=True)
class SimulatedSubject:
    personnummer: str
    customer_id: str


def simulate_company(
    subjects: int, *, seed: int = 7, start: dt.datetime | None = None, days: int = 365
) -> Iterator[tuple[SimulatedSubject, ProcessingEvent]]:
    """Yield (subject, event) for ``subjects`` customers over ``days`` days, in time order per subject."""
    rng = random.Random(seed)
    begin = start or dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for n in range(subjects):
        subject = SimulatedSubject(
            generate_personnummer(rng, coordination=rng.random() < 0.05), customer_id=f"cust-{seed}-{n:06d}"
        )
        yield from ((subject, e) for e in _customer_journey(rng, subject, begin, days))


def _customer_journey(
    rng: random.Random, subject: SimulatedSubject, begin: dt.datetime, days: int
) -> Iterator[ProcessingEvent]:
    at = begin + dt.timedelta(seconds=rng.randrange(0, days * 86400 // 2))
    booking = f"booking/{rng.randrange(10**6):06d}"
    trace = f"trace-{rng.getrandbits(64):016x}"
    who = SubjectIdentifier(kind="personnummer", value=subject.personnummer)

    def step(minutes: int) -> dt.datetime:
        nonlocal at
        at += dt.timedelta(minutes=minutes, seconds=rng.randrange(60))
        return at

    common = {"subject": who, "correlation_id": trace}
    web = Actor(type="service", id="booking-web", role="booking")
    yield PersonalDataCollected(
        **common, occurred_at=step(0), actor=web, purpose="booking.handling", legal_basis="contract",
        data_categories=("name", "personnummer", "contact_details", "housing_details"),
        source_system="booking-web", source="data_subject",
    )  # fmt: skip
    yield PersonalDataCollected(
        **common, occurred_at=step(1), actor=Actor(type="service", id="address-check", role="identity_check"),
        purpose="booking.handling", legal_basis="contract", data_categories=("name", "address"),
        source_system="booking-api", source="public_register", source_party=ADDRESS_REGISTER,
    )  # fmt: skip
    yield CreditCheckPerformed(
        **common, occurred_at=step(1), actor=Actor(type="service", id="credit-gateway", role="credit_check"),
        purpose="credit_assessment", legal_basis="legitimate_interests",
        data_categories=("personnummer", "credit_report"), source_system="booking-api",
        bureau=CREDIT_BUREAU, reference=f"KK-{rng.randrange(10**8):08d}",
        outcome=rng.choice(["approved"] * 8 + ["manual_review", "declined"]),
    )  # fmt: skip
    yield PersonalDataShared(
        **common, occurred_at=step(2), actor=Actor(type="service", id="payments", role="payment"),
        purpose="payment", legal_basis="contract", data_categories=("name", "contact_details", "payment_information"),
        source_system="booking-api", recipient=PAYMENT_PROVIDER, recipient_role="processor",
    )  # fmt: skip
    yield PersonalDataShared(
        **common, occurred_at=step(60 * 24), actor=Actor(type="service", id="dispatch", role="scheduling"),
        purpose="service.performance", legal_basis="contract",
        data_categories=("name", "address", "housing_details"), source_system="dispatch",
        recipient=CLEANING_OPERATOR, recipient_role="processor",
    )  # fmt: skip
    for _ in range(rng.randrange(1, 6)):
        staff = rng.choice(_STAFF)
        yield PersonalDataAccessed(
            subject=who, occurred_at=step(rng.randrange(60, 60 * 24 * 20)),
            actor=Actor(type="employee", id=staff, role="customer_service"), purpose="customer_service",
            legal_basis="contract", data_categories=("name", "contact_details", "correspondence"),
            source_system="crm", access_kind=rng.choice(["view", "view", "view", "search", "modify"]),
            resource="customer-record" if rng.random() < 0.7 else booking,
        )  # fmt: skip
    if rng.random() < 0.3:
        yield PersonalDataShared(
            **common, occurred_at=step(60 * 24 * 30), actor=Actor(type="service", id="ledger", role="bookkeeping"),
            purpose="legal_obligation.bookkeeping", legal_basis="legal_obligation",
            data_categories=("name", "payment_information"), source_system="ledger",
            recipient=BOOKKEEPING, recipient_role="processor",
        )  # fmt: skip
