"""One simulated customer's journey through the company, act by act, each on the register's purpose and basis."""

from __future__ import annotations

import base64
import datetime as dt
import random
from collections.abc import Callable, Iterator

from pdtrail._simulate_parties import (
    _STAFF,
    ADDRESS_REGISTER,
    BOOKKEEPING,
    CLEANING_OPERATOR,
    CREDIT_BUREAU,
    LEAD_PARTNER,
    PAYMENT_PROVIDER,
    SimulatedSubject,
)
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
)


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
