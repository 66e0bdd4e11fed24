"""Every lineage question and both reports, on a stream emitted through the SDK, consumed from the real
broker into chDB: answers are compared with what was emitted, never with hard-coded results."""

from __future__ import annotations

import datetime as dt
import io
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client
from pypdf import PdfReader

from pdtrail.config import Settings, load_settings
from pdtrail.consumers import AuditConsumer
from pdtrail.producers import AuditEmitter, Pseudonymiser
from pdtrail.queries import (
    ACCESS_REQUEST,
    FINDING_KINDS,
    InvalidQueryParameterError,
    LocalQueries,
    RetentionRules,
    SubjectLineage,
    actor_activity,
    record_lookup,
)
from pdtrail.queries.reports import access_report, complaint_report, integrity_check, lineage_picture, render_pdf
from pdtrail.schemas import (
    ConsentGiven,
    ConsentWithdrawn,
    CreditCheckPerformed,
    DataErased,
    LeadReceived,
    PersonalDataAccessed,
    PersonalDataCollected,
    PersonalDataShared,
    ProcessingEvent,
    PublicRegisterLookup,
)
from pdtrail.simulate import (
    PlantedFinding,
    SimulatedSubject,
    generate_personnummer,
    simulate_company,
    simulate_findings,
)
from tests.conftest import SECRET, SIGNING_KEY


@dataclass
class Store:
    settings: Settings
    client: Client
    lineage: SubjectLineage
    journeys: list[tuple[SimulatedSubject, ProcessingEvent]]
    subject: str  # the personnummer with the most events
    planted: list[PlantedFinding]

    def own(self, kind: type[ProcessingEvent] | None = None) -> list[ProcessingEvent]:
        return [e for s, e in self.journeys if s.personnummer == self.subject and (kind is None or isinstance(e, kind))]

    def consume(self) -> None:
        AuditConsumer(self.settings, self.client).run(drain=True)


@pytest.fixture(scope="module")
def store(kafka_broker: object, store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One stream for the whole module (emitting and consuming is the slow part), in its own database."""
    from pdtrail.infra import apply_migrations, ensure_topics
    from pdtrail.store import connect

    name = uuid.uuid4().hex[:10]
    settings = load_settings(
        home=tmp_path_factory.mktemp("home"),
        kafka={"bootstrap_servers": kafka_broker.bootstrap_servers,  # type: ignore[attr-defined]
               "topic": f"events-{name}", "dead_letter_topic": f"events-{name}.dlq", "group_id": f"ingest-{name}",
               "partitions": 3},
        store={"dsn": f"chdb://{store_dir}", "database": f"t_{name}"},
        pseudonym={"secret": SECRET},
        consumer={"linger_s": 0.2, "drain_idle_s": 20},
        integrity={"signing_key": SIGNING_KEY, "checkpoint_topic": f"checkpoints-{name}",
                   "checkpoint_every_events": 50},
    )  # fmt: skip
    ensure_topics(settings)
    client = connect(settings)
    apply_migrations(client)
    journeys = list(simulate_company(40, seed=23))
    # Violations the findings catch, planted on some subjects (those the register itself would refuse are left out).
    planted = [p for p in simulate_findings(journeys) if not p.outside_register]  # kind "": its history
    journeys += [(p.subject, p.event) for p in planted]
    with AuditEmitter(settings) as emitter:
        for _, event in journeys:
            emitter.emit(event)
        assert emitter.flush(60) == 0
    per_subject: dict[str, int] = {}
    for s, _ in journeys:
        per_subject[s.personnummer] = per_subject.get(s.personnummer, 0) + 1
    result = Store(settings, client, SubjectLineage(LocalQueries(client), Pseudonymiser.from_settings(settings)),
                   journeys, max(per_subject, key=lambda k: per_subject[k]), planted)  # fmt: skip
    result.consume()
    yield result


def test_who_accessed_timeline_and_shared_with_match_what_was_emitted(store: Store) -> None:
    accessed = store.lineage.who_accessed(store.subject).as_dicts()
    assert sorted(r["actor_id"] for r in accessed) == sorted(e.actor.id for e in store.own(PersonalDataAccessed))
    assert len(store.lineage.timeline(store.subject).rows) == len(store.own())

    shared = store.lineage.shared_with(store.subject).as_dicts()
    emitted = store.own(PersonalDataShared)
    assert sorted(r["recipient"] for r in shared) == sorted(e.recipient.name for e in emitted)  # type: ignore[attr-defined]
    assert {r["recipient_org_no"] for r in shared} == {e.recipient.organisation_number for e in emitted}  # type: ignore[attr-defined]
    assert {r["recipient_role"] for r in shared} == {"processor"}
    times = [r["occurred_at"] for r in shared]
    assert times == sorted(times, reverse=True)


def test_sources_and_credit_checks(store: Store) -> None:
    sources = store.lineage.sources(store.subject).as_dicts()
    brought_in = [e for e in store.own() if isinstance(e, PersonalDataCollected | LeadReceived | PublicRegisterLookup)]
    assert [r["event_id"] for r in sources] == [e.event_id for e in sorted(brought_in, key=lambda e: e.occurred_at)]
    parties = {r["source_party"] for r in sources}
    assert {e.public_register.name for e in brought_in if isinstance(e, PublicRegisterLookup)} <= parties
    assert {e.lead_source.name for e in brought_in if isinstance(e, LeadReceived)} <= parties

    checks = store.lineage.credit_checks(store.subject).as_dicts()
    emitted = store.own(CreditCheckPerformed)
    assert [r["reference"] for r in checks] == [e.reference for e in emitted]  # type: ignore[attr-defined]
    assert [r["outcome"] for r in checks] == [e.outcome or "" for e in emitted]  # type: ignore[attr-defined]
    assert checks[0]["bureau"] == emitted[0].bureau.name  # type: ignore[attr-defined]


def test_pages_of_a_timeline_are_disjoint_and_ordered(store: Store) -> None:
    whole = store.lineage.timeline(store.subject).as_dicts()
    first = store.lineage.timeline(store.subject, limit=3).as_dicts()
    second = store.lineage.timeline(store.subject, limit=3, offset=3).as_dicts()
    assert [r["event_id"] for r in first + second] == [r["event_id"] for r in whole[:6]]


def test_period_and_unknown_subject(store: Store) -> None:
    times = sorted(e.occurred_at for e in store.own())
    middle = times[len(times) // 2]
    assert len(store.lineage.timeline(store.subject, until=middle).rows) == len([t for t in times if t < middle])
    stranger = generate_personnummer(random.Random(4242))
    assert stranger not in {s.personnummer for s, _ in store.journeys}
    for ask in (store.lineage.timeline, store.lineage.shared_with, store.lineage.sources, store.lineage.credit_checks):
        assert ask(stranger).rows == []
    graph = store.lineage.lineage_graph(stranger)
    assert graph.nodes == [] and graph.edges == []


@pytest.mark.parametrize(
    ("call", "parameter"),
    [
        (lambda lin, pnr: lin.timeline("19811218-9875"), "identifier"),
        (lambda lin, pnr: lin.timeline(pnr, kind="passport"), "kind"),
        (lambda lin, pnr: lin.shared_with(pnr, since=dt.datetime(2026, 5, 1), until=dt.datetime(2026, 4, 1)), "since"),
        (lambda lin, pnr: lin.timeline(pnr, limit=1_000_000), "limit"),
        (lambda lin, pnr: lin.sources(pnr, offset=-1), "offset"),
    ],
)
def test_bad_input_names_the_parameter(store: Store, call: object, parameter: str) -> None:
    with pytest.raises(InvalidQueryParameterError) as caught:
        call(store.lineage, store.subject)  # type: ignore[operator]
    assert caught.value.parameter == parameter
    assert store.subject not in str(caught.value)


def test_lineage_graph_runs_from_sources_through_purposes_to_recipients(store: Store) -> None:
    graph = store.lineage.lineage_graph(store.subject)
    by_id = {n.id: n for n in graph.nodes}
    recipients = {n.label.split(" (")[0] for n in graph.of_kind("recipient")}
    assert recipients == {e.recipient.name for e in store.own(PersonalDataShared)}  # type: ignore[attr-defined]
    sources = {n.label.split(" (")[0] for n in graph.of_kind("source")}
    assert {e.bureau.name for e in store.own(CreditCheckPerformed)} <= sources  # type: ignore[attr-defined]
    assert {n.label for n in graph.of_kind("purpose")} == {e.purpose for e in store.own()}
    for edge in graph.edges:
        assert (by_id[edge.source].kind, by_id[edge.target].kind) in {("source", "purpose"), ("purpose", "recipient")}
    svg = lineage_picture(graph).decode()
    assert svg.startswith("<?xml") and "<svg" in svg
    assert all(name in svg for name in recipients)


def test_retention_status_against_the_register_periods(store: Store) -> None:
    at = max(e.occurred_at for e in store.own()) + dt.timedelta(days=5)
    rules = RetentionRules.from_mapping(
        {"booking.handling": dt.timedelta(days=1), "customer_service": dt.timedelta(days=3650)}
    )
    rows = store.lineage.retention_status(store.subject, at=at, rules=rules).as_dicts()
    by = {(r["purpose"], r["category"]): r for r in rows}
    last = max(
        e.occurred_at for e in store.own() if e.purpose == "booking.handling" and "personnummer" in e.data_categories
    )
    assert by[("booking.handling", "personnummer")]["status"] == "overdue"
    assert by[("booking.handling", "personnummer")]["due_at"] == last + dt.timedelta(days=1)
    assert by[("customer_service", "name")]["status"] == "retained"
    assert by[("pre_contract.checks", "personnummer")]["status"] == "not declared"
    unknown = store.lineage.retention_status(store.subject, rules=RetentionRules(None, note="none")).as_dicts()
    assert {r["status"] for r in unknown} <= {"unknown", "erased"}
    shipped = store.lineage.retention_status(store.subject, at=at).as_dicts()  # the shipped register
    assert "unknown" not in {r["status"] for r in shipped}


def _someone_with(store: Store, kind: type[ProcessingEvent]) -> tuple[str, list[ProcessingEvent]]:
    having = [s.personnummer for s, e in store.journeys if isinstance(e, kind)]
    assert having, f"the simulated stream has no {kind.__name__}"
    return having[0], [e for s, e in store.journeys if s.personnummer == having[0]]


def test_erased_categories_read_erased(store: Store) -> None:
    pnr, own = _someone_with(store, DataErased)
    erasure = next(e for e in own if isinstance(e, DataErased))
    rows = store.lineage.retention_status(pnr).as_dicts()
    erased = [
        r for r in rows if r["category"] in erasure.data_categories and r["last_processed"] <= erasure.occurred_at
    ]
    assert erased and {r["status"] for r in erased} == {"erased"}
    assert {r["ended_by"] for r in erased} == {"data.erased"}


def test_consent_state_at_any_date(store: Store) -> None:
    pnr, own = _someone_with(store, ConsentWithdrawn)
    given = next(e for e in own if isinstance(e, ConsentGiven))
    withdrawn = next(e for e in own if isinstance(e, ConsentWithdrawn))
    assert store.lineage.consent_state(pnr, at=given.occurred_at).rows == []  # ``at`` is exclusive
    between = store.lineage.consent_state(pnr, at=withdrawn.occurred_at).as_dicts()
    assert [(r["purpose"], r["state"]) for r in between] == [(given.purpose, "given")]
    after = store.lineage.consent_state(pnr).as_dicts()
    assert [(r["purpose"], r["state"], r["changed_at"]) for r in after] == [
        (withdrawn.purpose, "withdrawn", withdrawn.occurred_at)
    ]


def test_actor_activity_finds_every_subject_an_employee_touched(store: Store) -> None:
    staff = [e.actor.id for _, e in store.journeys if isinstance(e, PersonalDataAccessed)]
    actor = max(set(staff), key=staff.count)
    pseudonymiser = Pseudonymiser.from_settings(store.settings)
    # By the key each event was emitted under: a linked customer's CRM record is keyed by customer id.
    touched = {
        pseudonymiser.lookup_keys(e.subject.kind, e.subject.value.get_secret_value())[0]  # type: ignore[union-attr]
        for _, e in store.journeys
        if e.actor.id == actor
    }
    answer = actor_activity(store.lineage.backend, actor).as_dicts()
    assert {r["subject"] for r in answer} == touched
    # Every event the actor made counts, not only accesses (a rectification, an answered request...).
    assert sum(r["events"] for r in answer) == sum(1 for _, e in store.journeys if e.actor.id == actor)
    with pytest.raises(InvalidQueryParameterError):
        actor_activity(store.lineage.backend, "  ")


def test_access_report_pdf_names_recipients_purposes_and_swedish_headings(store: Store) -> None:
    report = access_report(store.lineage, store.subject, rules=RetentionRules(None, note="no register here"))
    assert {r["recipient"] for r in report["recipients"]} == {e.recipient.name for e in store.own(PersonalDataShared)}  # type: ignore[attr-defined]
    assert len(report["events"]) == len(store.own())
    text = " ".join(PdfReader(io.BytesIO(render_pdf(report, lang="sv"))).pages[i].extract_text()
                    for i in range(len(PdfReader(io.BytesIO(render_pdf(report, lang="sv"))).pages)))  # fmt: skip
    flat = " ".join(text.split())
    assert "Registerutdrag enligt artikel 15 GDPR" in flat
    assert "Mottagare" in flat and "Varför dina uppgifter behandlas, med vilken rättslig grund" in flat
    for recipient in report["recipients"]:
        assert recipient["recipient"] in flat
    for purpose in {e.purpose for e in store.own()}:
        assert report["labels"]["purposes"][purpose]["sv"] in flat


def test_complaint_report_verifies_the_subjects_checkpoints(store: Store) -> None:
    times = sorted(e.occurred_at for e in store.own())
    since, until = times[0], times[-1] + dt.timedelta(seconds=1)
    event_ids = [str(e.event_id) for e in store.own()]
    checked = integrity_check(store.settings, store.client, since, until, event_ids=event_ids)
    assert checked["ok"] and checked["checkpoints"] >= 1 and checked["external_compared"]
    assert checked["events_proven"] + checked["events_awaiting_checkpoint"] == len(event_ids)
    assert checked["events_proven"] >= 1 and checked["events_unproven"] == 0
    report = complaint_report(store.lineage, store.subject, since=since, until=until, integrity=checked,
                              reference="IMY-2026-123")  # fmt: skip
    assert len(report["events"]) == len(store.own())
    flat = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(render_pdf(report))).pages).split())
    assert "IMY-2026-123" in flat and "pdtrail verify --since" in flat
    assert "Verification result: intact" in flat
    assert ("findings not available" in flat) != report["findings"]["available"]


def test_a_dpo_lookup_is_itself_recorded_and_answered_by_who_accessed(store: Store) -> None:
    event_id = record_lookup(store.settings, "dpo-7", ACCESS_REQUEST, store.subject, None, "access_report",
                             categories=["audit_log", "contact_details"], access_kind="export")  # fmt: skip
    store.consume()
    mine = [r for r in store.lineage.who_accessed(store.subject).as_dicts() if r["event_id"] == event_id]
    assert len(mine) == 1
    row = mine[0]
    assert (row["actor_id"], row["actor_role"], row["purpose"], row["legal_basis"]) == (
        "dpo-7",
        "dpo",
        ACCESS_REQUEST,
        "legal_obligation",
    )
    # The log holds category names, not data: the register declares the DPO's lookups as audit_log only.
    assert list(row["data_categories"]) == ["audit_log"]
    with pytest.raises(InvalidQueryParameterError) as caught:
        record_lookup(store.settings, "dpo-7", "curiosity", store.subject)
    assert caught.value.parameter == "purpose"


def test_complaint_response_lists_the_subjects_findings(store: Store) -> None:
    plant = next(p for p in store.planted if p.kind == "after_erasure")
    pnr = plant.subject.personnummer
    report = complaint_report(store.lineage, pnr, reference="IMY-2026-7")
    found = {(f["kind"], f["event_id"]) for f in report["findings"]["items"]}
    assert report["findings"]["available"] and ("after_erasure", str(plant.event.event_id)) in found
    others = {str(p.event.event_id) for p in store.planted if p.kind and p.subject != plant.subject}
    assert not others & {event_id for _, event_id in found}  # only this subject's findings
    flat = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(render_pdf(report, "sv"))).pages).split())
    assert "Iakttagelser" in flat and "behandling av raderade uppgifter efter raderingen" in flat
    english = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(render_pdf(report))).pages).split())
    assert FINDING_KINDS["after_erasure"] in english


def test_reports_through_the_store_owner_equal_the_local_ones(store: Store) -> None:
    """When `pdtrail serve` owns the store, every lineage query travels as JSON: the answers must not change."""
    from pdtrail.queries import RemoteQueries
    from pdtrail.store import QueryServer

    server = QueryServer(store.lineage.backend, "owner-token").start()
    try:
        remote = SubjectLineage(RemoteQueries(server.url, "owner-token"), store.lineage.pseudonymiser)
        rules = RetentionRules.from_register()
        here = access_report(store.lineage, store.subject, rules=rules)
        there = access_report(remote, store.subject, rules=rules)
        for section in ("purposes", "recipients", "retention", "sources", "credit_checks", "consent", "events",
                        "lineage"):  # fmt: skip
            assert there[section] == here[section], section
        plant = next(p for p in store.planted if p.kind == "after_erasure")
        remote_complaint = complaint_report(remote, plant.subject.personnummer)
        local_complaint = complaint_report(store.lineage, plant.subject.personnummer)
        assert remote_complaint["findings"] == local_complaint["findings"]
        owner_view = actor_activity(remote.backend, "payments").as_dicts()
        assert owner_view == actor_activity(store.lineage.backend, "payments").as_dicts()
    finally:
        server.stop()
