"""A realistic stream of processing events for a Swedish home-services company, with generated subjects.

Used by the demo, the benchmarks and the tests. Identifiers are generated (valid check digits, random
digits), never real people's.
"""

from __future__ import annotations

import base64
import datetime as dt
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pdtrail.schemas import (
    Actor,
    ConsentGiven,
    ConsentWithdrawn,
    CreditCheckPerformed,
    DataErased,
    DataRectified,
    ErasureRefused,
    IdentifiersCollected,
    LeadReceived,
    MarketingSent,
    Party,
    PersonalDataAccessed,
    PersonalDataCollected,
    PersonalDataShared,
    ProcessingEvent,
    ProcessingRestricted,
    PublicRegisterLookup,
    RestrictionLifted,
    RetentionExpired,
    RightsRequestAnswered,
    RightsRequestReceived,
    SubjectChecked,
    SubjectIdentifier,
    SubjectIdentifiersLinked,
    load_register,
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


def _registered(kind: str, key: str) -> Party:
    """A recipient or source of the shipped processing register, as the events name it."""
    register = load_register()
    entry = register.recipients[key] if kind == "recipient" else register.sources[key]
    return Party(name=entry.name, country=entry.country, organisation_number=entry.organisation_number)


# The reference company's partners, as its processing register (schemas/register.toml) lists them.
PAYMENT_PROVIDER = _registered("recipient", "payment_provider")
CLEANING_OPERATOR = _registered("recipient", "cleaning_operator")
CREDIT_BUREAU = _registered("recipient", "credit_bureau")
BOOKKEEPING = _registered("recipient", "bookkeeping_firm")
ADDRESS_REGISTER = _registered("source", "address_register")
LEAD_PARTNER = _registered("source", "lead_partner")

_STAFF = [f"emp-{n}" for n in range(1001, 1041)]


@dataclass(frozen=True)
class SimulatedSubject:
    personnummer: str
    customer_id: str


def default_start(days: int = 365) -> dt.datetime:
    """Where a simulated stream starts unless told: the first of a month long enough ago that every event
    of ``days`` days of journeys (up to about ``days`` / 2 + 500 days after it) and of the findings planted
    after them (up to about ``days`` + 730) lies in the past. The SDK
    refuses events from the future (``time_bounds.max_future_skew_s``) and from before its past bound, so
    a fixed start date would give events it refuses: first the latest ones, years later the earliest."""
    back = dt.datetime.now(dt.UTC) - dt.timedelta(days=days + 1200)
    return dt.datetime(back.year, back.month, 1, tzinfo=dt.UTC)


def simulate_company(
    subjects: int, *, seed: int = 7, start: dt.datetime | None = None, days: int = 365
) -> Iterator[tuple[SimulatedSubject, ProcessingEvent]]:
    """Yield (subject, event) for ``subjects`` customers over ``days`` days, in time order per subject.

    Every event fits the shipped processing register and the subject's own history: this stream has no
    findings. :func:`pdtrail.simulate_findings` plants some.
    """
    rng = random.Random(seed)
    begin = start or default_start(days)
    taken: set[str] = set()
    for n in range(subjects):
        number = generate_personnummer(rng, coordination=rng.random() < 0.05)
        while number in taken:  # one person, one customer: a repeat would merge two journeys into one history
            number = generate_personnummer(rng, coordination=rng.random() < 0.05)
        taken.add(number)
        subject = SimulatedSubject(number, customer_id=f"cust-{seed}-{n:06d}")
        # Every tenth customer is also keyed by their customer id in the CRM, linked to the personnummer.
        journey = _Journey(rng, subject, begin, days, linked=n % 10 == 3)
        yield from ((subject, e) for e in journey.events())


class _Journey:
    """One customer's year: lead or website visit, booking, checks, payment, service, support, and now and
    then consent, marketing and a rights request — each act on the purpose and basis the register gives it."""

    def __init__(
        self, rng: random.Random, subject: SimulatedSubject, begin: dt.datetime, days: int, *, linked: bool = False
    ) -> None:
        self.rng = rng
        self.subject = subject
        self.linked = linked
        self.at = begin + dt.timedelta(seconds=rng.randrange(0, days * 86400 // 2))
        self.booking = f"booking/{rng.randrange(10**6):06d}"
        self.case = f"DSR-{rng.randrange(10**6):06d}"
        self.common = {
            "subject": SubjectIdentifier(kind="personnummer", value=subject.personnummer),
            # Base32, not hex: a hex trace id holds a run of ten decimal digits often enough that one in a
            # few thousand passes as a personnummer, which the SDK refuses (README, "Security model").
            "correlation_id": "trace-" + base64.b32encode(rng.getrandbits(80).to_bytes(10, "big")).decode().lower(),
        }

    def step(self, minutes: int) -> dt.datetime:
        self.at += dt.timedelta(minutes=minutes, seconds=self.rng.randrange(60))
        return self.at

    def events(self) -> Iterator[ProcessingEvent]:
        rng, common, step = self.rng, self.common, self.step
        marketing_consent = rng.random() < 0.4
        if rng.random() < 0.5:
            yield IdentifiersCollected(
                **common,
                occurred_at=step(0),
                actor=Actor(type="service", id="website", role="website"),
                purpose="website.operation",
                legal_basis="legitimate_interests",
                data_categories=("electronic_identifiers", "ip_address"),
                source_system="website",
                identifiers=("session", "csrf"),
            )
        if rng.random() < 0.25:
            yield LeadReceived(
                **common,
                occurred_at=step(5),
                actor=Actor(type="service", id="lead-inbox", role="marketing"),
                purpose="contact.offering",
                legal_basis="legitimate_interests",
                data_categories=("name", "contact_details"),
                source_system="crm",
                lead_source=LEAD_PARTNER,
                reference=f"lead-{rng.randrange(10**6):06d}",
            )
        web = Actor(type="service", id="booking-web", role="booking")
        yield PersonalDataCollected(
            **common,
            occurred_at=step(60),
            actor=web,
            purpose="booking.handling",
            legal_basis="contract",
            data_categories=("name", "personnummer", "contact_details", "housing_details"),
            source_system="booking-web",
            source="data_subject",
        )
        if self.linked:
            yield from self._crm_link()
        if marketing_consent:
            yield ConsentGiven(
                **common,
                occurred_at=step(1),
                actor=web,
                purpose="marketing",
                legal_basis="consent",
                data_categories=("name", "contact_details"),
                source_system="booking-web",
                consent_text="newsletter-v2",
            )
        checker = Actor(type="service", id="customer-check", role="identity_check")
        for check in ("identity", "age"):
            yield SubjectChecked(
                **common,
                occurred_at=step(1),
                actor=checker,
                purpose="pre_contract.checks",
                legal_basis="contract",
                data_categories=("name", "personnummer", "age") if check == "age" else ("name", "personnummer"),
                source_system="booking-api",
                check=check,
                outcome="passed",
            )
        yield PublicRegisterLookup(
            **common,
            occurred_at=step(1),
            actor=checker,
            purpose="pre_contract.checks",
            legal_basis="contract",
            data_categories=("name", "address"),
            source_system="booking-api",
            public_register=ADDRESS_REGISTER,
        )
        yield SubjectChecked(
            **common,
            occurred_at=step(1),
            actor=checker,
            purpose="pre_contract.checks",
            legal_basis="contract",
            data_categories=("name", "address"),
            source_system="booking-api",
            check="address",
            outcome="passed",
            provider=ADDRESS_REGISTER,
        )
        yield CreditCheckPerformed(
            **common,
            occurred_at=step(1),
            actor=Actor(type="service", id="credit-gateway", role="credit_check"),
            purpose="pre_contract.checks",
            legal_basis="legitimate_interests",
            data_categories=("personnummer", "credit_report"),
            source_system="booking-api",
            bureau=CREDIT_BUREAU,
            reference=f"KK-{rng.randrange(10**8):08d}",
            outcome=rng.choice(["approved"] * 8 + ["manual_review", "declined"]),
        )
        yield PersonalDataShared(
            **common,
            occurred_at=step(2),
            actor=Actor(type="service", id="payments", role="payment"),
            purpose="booking.handling",
            legal_basis="contract",
            data_categories=("name", "contact_details", "payment_information"),
            source_system="booking-api",
            recipient=PAYMENT_PROVIDER,
            recipient_role="processor",
        )
        yield PersonalDataShared(
            **common,
            occurred_at=step(60 * 24),
            actor=Actor(type="service", id="dispatch", role="scheduling"),
            purpose="booking.handling",
            legal_basis="contract",
            data_categories=("name", "address", "housing_details"),
            source_system="dispatch",
            recipient=CLEANING_OPERATOR,
            recipient_role="processor",
        )
        for _ in range(rng.randrange(1, 6)):
            yield self._support_access()
        if marketing_consent:
            yield from self._marketing()
        if rng.random() < 0.3:
            yield self._bookkeeping()
        yield from self._rights()

    def _crm_link(self) -> Iterator[ProcessingEvent]:
        """The CRM opens a customer record for the booking: it keys by customer id, and links that to the
        personnummer in both directions, as ``AuditEmitter.link`` writes it. No random draw: the rest of
        the stream is the same whether a customer is linked or not."""
        pnr = self.common["subject"]
        customer = SubjectIdentifier(kind="customer_id", value=self.subject.customer_id)
        self.at += dt.timedelta(minutes=2)
        crm = Actor(type="service", id="crm", role="customer_service")
        link = {
            "occurred_at": self.at, "actor": crm, "purpose": "customer_service", "legal_basis": "contract",
            "data_categories": ("name", "contact_details"), "source_system": "crm",
            "reason": "customer record opened for the booking",
        }  # fmt: skip
        yield SubjectIdentifiersLinked(subject=pnr, linked=customer, **link)
        yield SubjectIdentifiersLinked(subject=customer, linked=pnr, **link)
        self.at += dt.timedelta(minutes=3)
        yield PersonalDataAccessed(
            subject=customer, occurred_at=self.at, actor=Actor(type="employee", id=_STAFF[0], role="customer_service"),
            purpose="customer_service", legal_basis="contract", data_categories=("name", "contact_details"),
            source_system="crm", access_kind="view", resource="customer-record",
        )  # fmt: skip

    def _support_access(self) -> PersonalDataAccessed:
        rng = self.rng
        return PersonalDataAccessed(
            subject=self.common["subject"],
            occurred_at=self.step(rng.randrange(60, 60 * 24 * 20)),
            actor=Actor(type="employee", id=rng.choice(_STAFF), role="customer_service"),
            purpose="customer_service",
            legal_basis="contract",
            data_categories=("name", "contact_details", "correspondence"),
            source_system="crm",
            access_kind=rng.choice(["view", "view", "view", "search", "modify"]),
            resource="customer-record" if rng.random() < 0.7 else self.booking,
        )

    def _bookkeeping(self) -> PersonalDataShared:
        return PersonalDataShared(
            **self.common,
            occurred_at=self.step(60 * 24 * 30),
            actor=Actor(type="service", id="ledger", role="bookkeeping"),
            purpose="legal_obligation.bookkeeping",
            legal_basis="legal_obligation",
            data_categories=("name", "payment_information"),
            source_system="ledger",
            recipient=BOOKKEEPING,
            recipient_role="processor",
        )

    def _marketing(self) -> Iterator[ProcessingEvent]:
        rng, common, step = self.rng, self.common, self.step
        mailer = Actor(type="service", id="newsletter", role="marketing")
        for n in range(rng.randrange(1, 4)):
            yield MarketingSent(
                **common,
                occurred_at=step(60 * 24 * rng.randrange(7, 30)),
                actor=mailer,
                purpose="marketing",
                legal_basis="consent",
                data_categories=("name", "contact_details"),
                source_system="newsletter",
                channel=rng.choice(["email", "sms"]),
                campaign=f"season-{n + 1}",
            )
        if rng.random() < 0.3:
            yield ConsentWithdrawn(
                **common,
                occurred_at=step(60 * 24),
                actor=Actor(type="data_subject", id="self-service", role="customer"),
                purpose="marketing",
                legal_basis="consent",
                data_categories=("name", "contact_details"),
                source_system="my-pages",
            )

    def _rights(self) -> Iterator[ProcessingEvent]:
        """Now and then a request: access, rectification, restriction, or erasure (which ends the journey)."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.10:
            yield from self._request("access", list)
        elif roll < 0.22:
            yield from self._request("rectification", lambda: [self._rectify()])
        elif roll < 0.32:
            yield from self._restriction()
        elif roll < 0.42:
            yield from self._erasure()
        elif roll < 0.50:
            yield self._expire_website_data()

    def _dpo_act(self, **fields: object) -> dict[str, object]:
        return {
            **self.common,
            "actor": Actor(type="employee", id="emp-0001", role="dpo"),
            "purpose": "rights.handling",
            "legal_basis": "legal_obligation",
            "source_system": "dpo-desk",
            **fields,
        }

    def _request(self, right: str, acts: Callable[[], list[ProcessingEvent]]) -> Iterator[ProcessingEvent]:
        step = self.step
        yield RightsRequestReceived(
            **self._dpo_act(occurred_at=step(60 * 24 * 3), data_categories=("name", "contact_details")),
            right=right,
            request_id=self.case,
        )
        yield from acts()  # made after the request, so that their times follow it
        yield RightsRequestAnswered(
            **self._dpo_act(
                occurred_at=step(60 * 24 * self.rng.randrange(1, 20)), data_categories=("name", "contact_details")
            ),
            right=right,
            request_id=self.case,
            outcome="fulfilled",
        )

    def _rectify(self) -> DataRectified:
        return DataRectified(
            **self._dpo_act(
                occurred_at=self.step(60 * 24),
                purpose="customer_service",
                legal_basis="contract",
                data_categories=("contact_details",),
                actor=Actor(type="employee", id=self.rng.choice(_STAFF), role="customer_service"),
            ),
            request_id=self.case,
        )

    def _restriction(self) -> Iterator[ProcessingEvent]:
        step = self.step
        yield from self._request(
            "restriction",
            lambda: [
                ProcessingRestricted(
                    **self._dpo_act(occurred_at=step(60), data_categories=("name",)),
                    request_id=self.case,
                    reason="accuracy contested",
                )
            ],
        )
        yield RestrictionLifted(
            **self._dpo_act(occurred_at=step(60 * 24 * 10), data_categories=("name",)),
            request_id=self.case,
            reason="accuracy verified",
        )
        yield self._support_access()

    def _erasure(self) -> Iterator[ProcessingEvent]:
        yield from self._request("erasure", self._erasure_acts)
        yield self._bookkeeping()  # the law's processing goes on

    def _erasure_acts(self) -> list[ProcessingEvent]:
        step = self.step
        return [
            DataErased(
                **self._dpo_act(
                    occurred_at=step(60 * 24),
                    purpose="customer_service",
                    legal_basis="contract",
                    data_categories=("contact_details", "correspondence", "housing_details"),
                ),
                request_id=self.case,
            ),
            ErasureRefused(
                **self._dpo_act(
                    occurred_at=step(1),
                    purpose="legal_obligation.bookkeeping",
                    data_categories=("name", "payment_information"),
                ),
                request_id=self.case,
                legal_ground="bookkeeping records are kept 7 years (Bokföringslagen)",
            ),
        ]

    def _expire_website_data(self) -> RetentionExpired:
        return RetentionExpired(
            **self.common,
            occurred_at=self.step(60 * 24 * 400),
            actor=Actor(type="system", id="retention-job", role="retention"),
            purpose="website.operation",
            legal_basis="legitimate_interests",
            data_categories=("electronic_identifiers", "ip_address"),
            source_system="retention-job",
            disposal="deleted",
        )


# ---- planted findings ------------------------------------------------------------------------------------

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
