"""One person known by three identifiers (a personnummer, a customer id, an e-mail), linked with the SDK,
through the real pipeline (broker, consumer, chDB): every identifier gives the same answer, and no raw
identifier of the person or of the links reaches Kafka or ClickHouse."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from pdtrail.config import Settings
from pdtrail.consumers import AuditConsumer
from pdtrail.producers import Actor, AuditEmitter, Pseudonymiser, SubjectIdentifier
from pdtrail.queries import LocalQueries, SubjectLineage, findings
from pdtrail.queries.reports import access_report
from pdtrail.schemas import (
    ConsentGiven,
    ConsentWithdrawn,
    CreditCheckPerformed,
    MarketingSent,
    Party,
    PersonalDataAccessed,
    ProcessingEvent,
)
from pdtrail.simulate import generate_personnummer
from tests.integration.helpers import read_topic

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
CRM = Actor(type="service", id="crm", role="customer_service")
LINK = {"actor": CRM, "purpose": "customer_service", "legal_basis": "contract",
        "data_categories": ["name", "contact_details"], "source_system": "crm"}  # fmt: skip


@dataclass
class Person:
    pnr: str
    customer_id: str
    email: str

    def identifiers(self) -> list[SubjectIdentifier]:
        return [
            SubjectIdentifier(kind="personnummer", value=self.pnr),
            SubjectIdentifier(kind="customer_id", value=self.customer_id),
            SubjectIdentifier(kind="email", value=self.email),
        ]

    def raw_forms(self) -> list[str]:
        short = self.pnr[2:]
        return [self.pnr, short, f"{short[:6]}-{short[6:]}", f"{self.pnr[:8]}-{self.pnr[8:]}",
                self.customer_id, self.email]  # fmt: skip


@dataclass
class Linked:
    settings: Settings
    lineage: SubjectLineage
    client: Any
    person: Person
    stranger: Person
    emitted: list[ProcessingEvent]  # the person's events (not the links)
    stranger_access: ProcessingEvent  # by the stranger's personnummer
    mistaken_at: dt.datetime  # a link to the stranger was made here, and undone a day later


def _person(rng: random.Random, n: int) -> Person:
    return Person(generate_personnummer(rng), f"KUND-{rng.randrange(10**6):06d}-{n}",
                  f"kund{rng.randrange(10**6)}.{n}@example.se")  # fmt: skip


def _at(days_ago: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days_ago)


def _events(p: Person) -> list[ProcessingEvent]:
    pnr, customer, email = p.identifiers()
    staff = Actor(type="employee", id="emp-2001", role="customer_service")
    access = {
        "actor": staff, "purpose": "customer_service", "legal_basis": "contract",
        "data_categories": ("name", "contact_details"), "source_system": "crm", "resource": "customer-record",
    }  # fmt: skip
    bureau = Party(name="Kreditkollen AB", country="SE", organisation_number="5560389594")  # the register's bureau
    consent = {"subject": email, "purpose": "marketing", "legal_basis": "consent",
               "data_categories": ("name", "contact_details"), "source_system": "my-pages"}  # fmt: skip
    customer_self = Actor(type="data_subject", id="self-service", role="customer")
    return [
        CreditCheckPerformed(
            subject=pnr,
            occurred_at=_at(40),
            actor=Actor(type="service", id="credit", role="credit_check"),
            purpose="pre_contract.checks",
            legal_basis="legitimate_interests",
            data_categories=("personnummer", "credit_report"),
            source_system="booking-api",
            bureau=bureau,
            reference="UC-000123",
        ),
        PersonalDataAccessed(subject=pnr, occurred_at=_at(30), access_kind="view", **access),
        PersonalDataAccessed(subject=customer, occurred_at=_at(20), access_kind="modify", **access),
        PersonalDataAccessed(subject=email, occurred_at=_at(10), access_kind="search", **access),
        ConsentGiven(**consent, occurred_at=_at(9), actor=customer_self),
        # Given under the e-mail, withdrawn under the customer id, broken under the personnummer: one person.
        ConsentWithdrawn(**{**consent, "subject": customer}, occurred_at=_at(8), actor=customer_self),
        # Marketing after the withdrawal: the finding every identifier of the person must show.
        MarketingSent(
            **{**consent, "subject": pnr, "source_system": "newsletter"},
            occurred_at=_at(5),
            actor=Actor(type="service", id="newsletter", role="marketing"),
            channel="email",
            campaign="winter-offer",
        ),
    ]


@pytest.fixture(scope="module")
def linked(kafka_broker: object, store_dir: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Linked]:
    from pdtrail.infra import apply_migrations, ensure_topics
    from pdtrail.store import connect
    from tests.conftest import pipeline_settings

    servers = kafka_broker.bootstrap_servers  # type: ignore[attr-defined]
    settings = pipeline_settings(servers, tmp_path_factory.mktemp("links"), store_dir)
    ensure_topics(settings)
    client = connect(settings)
    apply_migrations(client)
    rng = random.Random(9152)
    person, stranger = _person(rng, 1), _person(rng, 2)
    pnr, customer, email = person.identifiers()
    emitted = _events(person)
    mistaken_at = _at(15)
    with AuditEmitter(settings) as audit:
        for event in emitted:
            audit.emit(event)
        stranger_access = _events(stranger)[1]  # the stranger's own access, by their personnummer
        audit.emit(stranger_access)
        audit.link(pnr, customer, reason="customer record opened after the credit check", occurred_at=_at(35), **LINK)
        # A chain: the e-mail is linked to the customer id, not to the personnummer.
        audit.link(customer, email, reason="e-mail confirmed in the CRM", occurred_at=_at(25), **LINK)
        audit.link(email, stranger.identifiers()[0], reason="matched by mistake", occurred_at=mistaken_at, **LINK)
        audit.unlink(email, stranger.identifiers()[0], reason="wrong match undone", occurred_at=_at(14), **LINK)
        assert audit.flush(60) == 0
    AuditConsumer(settings, client).run(drain=True)
    lineage = SubjectLineage(LocalQueries(client), Pseudonymiser.from_settings(settings))
    yield Linked(settings, lineage, client, person, stranger, emitted, stranger_access, mistaken_at)


def _without_via(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "found_via"} for r in rows]


def _by_each(linked: Linked) -> list[tuple[str, str]]:
    p = linked.person
    return [(p.pnr, "personnummer"), (f"{p.pnr[2:8]}-{p.pnr[8:]}", "personnummer"), (p.customer_id, "customer_id"),
            (p.email.upper(), "email")]  # fmt: skip


def test_who_accessed_is_the_same_by_each_identifier(linked: Linked) -> None:
    answers = [linked.lineage.who_accessed(i, kind=k).as_dicts() for i, k in _by_each(linked)]
    expected = sorted(str(e.event_id) for e in linked.emitted if isinstance(e, PersonalDataAccessed))
    for rows in answers:
        assert sorted(str(r["event_id"]) for r in rows) == expected
        assert _without_via(rows) == _without_via(answers[0])
    by_pnr = {str(r["event_id"]): r["found_via"] for r in answers[0]}
    own = [e for e in linked.emitted if isinstance(e, PersonalDataAccessed)]
    assert by_pnr[str(own[0].event_id)] == ""  # keyed by the personnummer searched
    assert by_pnr[str(own[1].event_id)].startswith("customer_id via link ")
    assert by_pnr[str(own[2].event_id)].startswith("email via link ")


def test_the_timeline_is_the_same_by_each_identifier_and_holds_the_links(linked: Linked) -> None:
    answers = [_without_via(linked.lineage.timeline(i, kind=k).as_dicts()) for i, k in _by_each(linked)]
    assert all(a == answers[0] for a in answers)
    ids = {str(r["event_id"]) for r in answers[0]}
    assert {str(e.event_id) for e in linked.emitted} <= ids
    types = [r["event_type"] for r in answers[0]]
    assert types.count("subject.identifiers_linked") >= 4  # two links, both directions (and the mistaken one)
    assert str(linked.stranger_access.event_id) not in ids  # the mistaken link was undone before now


def test_an_unlinked_stranger_is_outside_the_answer_but_inside_while_the_link_stood(linked: Linked) -> None:
    stranger_key = linked.lineage.subject_keys(linked.stranger.pnr, "personnummer")
    now = linked.lineage.linked_set(linked.person.pnr)
    assert not set(stranger_key) & set(now.keys)
    while_linked = linked.lineage.linked_set(linked.person.pnr, until=linked.mistaken_at + dt.timedelta(hours=1))
    assert set(stranger_key) & set(while_linked.keys)
    until = linked.mistaken_at + dt.timedelta(hours=1)
    timeline = linked.lineage.timeline(linked.person.customer_id, kind="customer_id", until=until).as_dicts()
    assert str(linked.stranger_access.event_id) in {str(r["event_id"]) for r in timeline}
    before_email = linked.lineage.linked_set(linked.person.pnr, until=_at(30))
    email_keys = linked.lineage.subject_keys(linked.person.email, "email")
    assert not set(email_keys) & set(before_email.keys)  # the e-mail was linked later
    assert not now.bounded


def test_findings_and_the_access_report_are_the_same_by_each_identifier(linked: Linked) -> None:
    found = []
    for identifier, kind in _by_each(linked):
        keys = linked.lineage.linked_set(identifier, kind).keys
        found.append(sorted((f.kind, f.event_id) for f in findings(linked.lineage.backend, keys)))
    assert found[0] and all(f == found[0] for f in found)
    assert ("consent_withdrawn", str(linked.emitted[-1].event_id)) in found[0]
    reports = [access_report(linked.lineage, i, k) for i, k in _by_each(linked)]
    for report in reports:
        for section in (
            "purposes",
            "sources",
            "shared",
            "credit_checks",
            "accesses",
            "events",
            "recipients",
            "consent",
        ):
            assert _without_via(report[section]) == _without_via(reports[0][section]), section
    assert [r["reference"] for r in reports[0]["credit_checks"]] == ["UC-000123"]


def test_no_raw_identifier_of_the_person_or_the_links_reaches_kafka_or_clickhouse(linked: Linked) -> None:
    raw = [*linked.person.raw_forms(), *linked.stranger.raw_forms()]
    messages = read_topic(linked.settings, linked.settings.kafka.topic, expected=1)
    assert len(messages) > 10
    for msg in messages:
        blob = (msg.key() or b"") + (msg.value() or b"")
        assert not any(form.encode() in blob or form.lower().encode() in blob for form in raw)
    rows = linked.client.query("SELECT * FROM events").result_rows
    assert rows
    text = "\n".join(repr(r) for r in rows)
    assert not any(form in text or form.lower() in text for form in raw)
    query = "SELECT reference, action FROM events WHERE event_type = 'subject.identifiers_linked'"
    links = linked.client.query(query).result_rows
    assert links and all(len(ref) == 64 for ref, _ in links)


def test_the_linked_set_holds_each_key_once(linked: Linked) -> None:
    """The store hands the subject key back as bytes: read as text, a key the walk has met is not met again."""
    found = linked.lineage.linked_set(linked.person.pnr)
    assert all(isinstance(k, str) for k in found.keys) and len(set(found.keys)) == len(found.keys)
    keyed = {k for i, kind in _by_each(linked) for k in linked.lineage.subject_keys(i, kind)}
    assert set(found.keys) == keyed
    assert found.found_via[linked.lineage.subject_keys(linked.person.pnr)[0]] == ""


def test_a_page_with_its_links_in_one_statement_is_the_answer_of_the_links_then_the_page(linked: Linked) -> None:
    """Who-accessed and the timeline from the log's start read the searched keys' links with the page; the
    answer is the one of the two-statement path (the linked set first, then the page), row for row, found_via
    included: for the linked person by each identifier, for the stranger (unlinked now, linked for a day),
    for a subject unknown to the log, at a period's end while the mistaken link stood, and for short pages."""
    lineage = linked.lineage
    unknown = generate_personnummer(random.Random(5))
    who = [*_by_each(linked), (linked.stranger.pnr, "personnummer"), (unknown, "personnummer")]
    while_linked = linked.mistaken_at + dt.timedelta(hours=1)
    for identifier, kind in who:
        for view in ("who_accessed", "timeline"):
            for until, limit in ((None, 10_000), (while_linked, 10_000), (None, 2), (None, 1)):
                ask = getattr(lineage, view)
                one = ask(identifier, kind=kind, until=until, limit=limit)
                with lineage.one_answer():
                    lineage.linked_set(identifier, kind, until)  # the links read first, on their own
                    two = ask(identifier, kind=kind, until=until, limit=limit)
                assert one == two, (view, kind, until, limit)


def test_a_persons_findings_read_with_their_links_are_those_of_their_linked_set(linked: Linked) -> None:
    """person_findings reads the person's rows with their links (one statement for a person linked to no
    other key): the findings are those of findings() over the linked set read first, for the linked person
    by each identifier, the stranger, a subject unknown to the log, and at a period's end while the mistaken
    link stood."""
    from pdtrail.queries import person_findings

    lineage = linked.lineage
    unknown = generate_personnummer(random.Random(5))
    who = [*_by_each(linked), (linked.stranger.pnr, "personnummer"), (unknown, "personnummer")]
    for until in (None, linked.mistaken_at + dt.timedelta(hours=1)):
        for identifier, kind in who:
            fresh = SubjectLineage(lineage.backend, lineage.pseudonymiser)  # nothing remembered of earlier asks
            keys = lineage.linked_set(identifier, kind, until).keys
            expected = findings(lineage.backend, keys, until=until)
            assert person_findings(fresh, identifier, kind, until=until) == expected, (identifier, until)
            assert person_findings(fresh, identifier, kind, until=until) == expected  # the links-first path
    found = person_findings(lineage, linked.person.customer_id, "customer_id")
    assert ("consent_withdrawn", str(linked.emitted[-1].event_id)) in {(f.kind, f.event_id) for f in found}
