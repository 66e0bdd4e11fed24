"""The DPO's day over real data (SDK → Kafka → consumer → chDB → the desk): open rights requests with
their deadlines, the findings of the whole log, a subject opened by key, who accessed with the audit
log's own lookups apart, and an access report that never tells of another person's investigation."""

from __future__ import annotations

import datetime as dt
import html
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pdtrail.config import Settings
from pdtrail.consumers import AuditConsumer
from pdtrail.desk import create_app, new_token
from pdtrail.infra import apply_migrations, ensure_topics
from pdtrail.producers import Actor, AuditEmitter, Pseudonymiser
from pdtrail.queries import LocalQueries, deadline
from pdtrail.schemas import RightsRequestAnswered, RightsRequestReceived, SubjectIdentifier, load_register
from pdtrail.simulate import simulate_company, simulate_findings
from pdtrail.store import connect
from tests.conftest import pipeline_settings
from tests.integration.helpers import sign_in


@dataclass
class Day:
    settings: Settings
    client: TestClient
    tokens: dict[str, str]
    pseudonymiser: Pseudonymiser
    requests: dict[str, tuple[str, dt.datetime, dt.datetime | None]]  # request id -> personnummer, received, extended
    answered: str  # a request answered in time: no case
    planted: list[Any]
    subjects: list[str]

    def headers(self, role: str = "dpo") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def key(self, personnummer: str) -> str:
        return self.pseudonymiser.pseudonymise(SubjectIdentifier(kind="personnummer", value=personnummer)).key

    def ingest(self) -> None:
        AuditConsumer(self.settings, connect(self.settings)).run(drain=True)


def _request(subject: str, request_id: str, at: dt.datetime) -> dict[str, Any]:
    return {
        "subject": SubjectIdentifier(kind="personnummer", value=subject), "occurred_at": at,
        "actor": Actor(type="employee", id="emp-0001", role="dpo"), "purpose": "rights.handling",
        "legal_basis": "legal_obligation", "data_categories": ("name", "contact_details"),
        "source_system": "dpo-desk", "right": "access", "request_id": request_id,
    }  # fmt: skip


@pytest.fixture(scope="module")
def day(kafka_broker: Any, store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day]:
    tokens, entries = {}, []
    for role, identity in (("dpo", "dpo-eva"), ("auditor", "auditor-ola"), ("read_only", "clerk-per")):
        token, entry = new_token(identity, role)
        tokens[role] = token
        entries.append(entry.model_dump())
    settings = pipeline_settings(
        kafka_broker.bootstrap_servers, tmp_path_factory.mktemp("desk-day"), store_dir, desk={"tokens": entries}
    )
    ensure_topics(settings)
    client = connect(settings)
    apply_migrations(client)
    journeys = list(simulate_company(30, seed=41))
    planted = [p for p in simulate_findings(journeys) if not p.outside_register]
    events = [e for _, e in journeys] + [p.event for p in planted]
    planted = [p for p in planted if p.kind]
    spoiled = {p.subject.personnummer for p in planted}
    subjects = sorted({s.personnummer for s, _ in journeys} - spoiled)
    rng = random.Random(7)
    chosen = rng.sample(subjects, 5)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    requests = {  # request id -> subject, received, extended at
        "DSR-OVERDUE-OLD": (chosen[0], now - dt.timedelta(days=75), None),
        "DSR-OVERDUE-NEW": (chosen[1], now - dt.timedelta(days=40), None),
        "DSR-DUE-SOON": (chosen[2], now - dt.timedelta(days=25), None),
        "DSR-EXTENDED": (chosen[3], now - dt.timedelta(days=50), now - dt.timedelta(days=45)),
    }
    for request_id, (subject, received, extended) in requests.items():
        events.append(RightsRequestReceived(**_request(subject, request_id, received)))
        if extended:
            events.append(
                RightsRequestAnswered(
                    **_request(subject, request_id, extended), outcome="extended", reason="many systems to search"
                )
            )
    answered = "DSR-ANSWERED"
    events.append(RightsRequestReceived(**_request(chosen[4], answered, now - dt.timedelta(days=20))))
    events.append(
        RightsRequestAnswered(**_request(chosen[4], answered, now - dt.timedelta(days=10)), outcome="fulfilled")
    )
    with AuditEmitter(settings) as emitter:
        for event in events:
            emitter.emit(event)
        assert emitter.flush(30) == 0
    AuditConsumer(settings, client).run(drain=True)
    backend = LocalQueries(connect(settings, create_database=False))
    with TestClient(create_app(settings, backend)) as http:
        yield Day(settings, http, tokens, Pseudonymiser.from_settings(settings), requests, answered, planted, subjects)


def test_open_requests_come_overdue_first_then_by_deadline_with_counts(day: Day) -> None:
    answer = day.client.get("/api/v1/cases", headers=day.headers())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    mine = [c for c in body["items"] if c["request_id"] in day.requests]
    assert [c["request_id"] for c in mine] == ["DSR-OVERDUE-OLD", "DSR-OVERDUE-NEW", "DSR-DUE-SOON", "DSR-EXTENDED"]
    assert day.answered not in {c["request_id"] for c in body["items"]}
    overdue = [c["overdue"] for c in body["items"]]
    assert overdue == sorted(overdue, reverse=True)  # every overdue case before every case still in time
    for case in mine:
        subject, received, extended = day.requests[case["request_id"]]
        assert dt.datetime.fromisoformat(case["deadline"]) == deadline(received, extended)
        assert case["subject_key"] == day.key(subject) and case["subject"] == case["subject_key"][:12] + "…"
        assert subject not in json.dumps(case) and subject[2:] not in json.dumps(case)
    assert {c["status"] for c in mine} == {"overdue", "open", "extended"}
    counts = body["counts"]
    assert counts["open"] == len(body["items"]) and counts["overdue"] == sum(overdue)
    assert day.client.get("/api/v1/cases", headers=day.headers("auditor")).status_code == 403


def test_a_case_opened_by_key_names_its_request_and_its_reference_reaches_the_report(day: Day) -> None:
    subject, received, _ = day.requests["DSR-OVERDUE-NEW"]
    opened = day.client.post("/api/v1/subjects/by_key", json={"subject_key": day.key(subject)}, headers=day.headers())
    assert opened.status_code == 201, opened.text
    ref = opened.json()["subject"]
    assert subject not in opened.text and opened.json()["shown_as"].startswith("pseudonymous key")
    case = day.client.get(f"/api/v1/subjects/{ref}/rights_requests/DSR-OVERDUE-NEW", headers=day.headers())
    assert case.status_code == 200, case.text
    assert case.json()["case"]["status"] == "overdue"
    assert dt.datetime.fromisoformat(case.json()["case"]["received_at"]) == received
    report = day.client.get(
        f"/api/v1/subjects/{ref}/reports/access?case_reference=DSR-OVERDUE-NEW", headers=day.headers()
    )
    assert report.status_code == 200, report.text
    assert report.json()["reference"] == "DSR-OVERDUE-NEW"
    assert "DSR-OVERDUE-NEW" in {e.get("reference") for e in report.json()["events"]}
    unknown = day.client.post("/api/v1/subjects/by_key", json={"subject_key": "0" * 64}, headers=day.headers())
    assert unknown.status_code == 404


def test_the_findings_of_the_whole_log_filter_by_kind_and_open_the_subject(day: Day) -> None:
    every = day.client.get("/api/v1/findings", headers=day.headers("auditor"))
    assert every.status_code == 200, every.text
    body = every.json()
    assert {p.kind for p in day.planted} <= {f["kind"] for f in body["items"]}
    assert sum(body["counts"].values()) == body["total"] == len(body["items"])
    kind = day.planted[0].kind
    only = day.client.get(f"/api/v1/findings?kind={kind}", headers=day.headers("auditor")).json()
    assert only["items"] and {f["kind"] for f in only["items"]} == {kind}
    assert only["counts"] == body["counts"]  # the counts stay those of every kind
    purpose = only["items"][0]["purpose"]
    by_purpose = day.client.get(f"/api/v1/findings?purpose={purpose}", headers=day.headers("auditor")).json()
    assert by_purpose["items"] and {f["purpose"] for f in by_purpose["items"]} == {purpose}
    assert day.client.get("/api/v1/findings", headers=day.headers("read_only")).status_code == 403
    finding = next(f for f in body["items"] if f["event_id"] == str(day.planted[0].event.event_id))
    opened = day.client.post(
        "/api/v1/subjects/by_key", json={"subject_key": finding["subject_key"]}, headers=day.headers("auditor")
    ).json()
    own = day.client.get(f"/api/v1/subjects/{opened['subject']}/findings", headers=day.headers("auditor")).json()
    assert finding["event_id"] in {f["event_id"] for f in own["items"]}

    # The page shows each purpose in the register's words, its code kept in the cell's title.
    sign_in(day.client, day.tokens["dpo"])
    page = day.client.get(f"/findings?purpose={purpose}")
    assert page.status_code == 200
    label = load_register(day.settings.processing_register.path).purposes[purpose].label_en
    assert label and label != purpose
    assert f'<td class="purpose" title="{purpose}">{html.escape(label)}</td>' in page.text


def test_who_accessed_sets_the_audit_logs_own_lookups_apart_with_totals(day: Day) -> None:
    subject = day.subjects[0]
    ref = day.client.post("/api/v1/subjects", json={"identifier": subject}, headers=day.headers()).json()["subject"]
    for view in ("timeline", "who_accessed", "shared_with"):
        assert day.client.get(f"/api/v1/subjects/{ref}/{view}", headers=day.headers()).status_code == 200
    day.ingest()
    pages = {
        scope: day.client.get(f"/api/v1/subjects/{ref}/accesses?scope={scope}&limit=500", headers=day.headers()).json()
        for scope in ("business", "audit_log", "all")
    }
    every = pages["all"]["items"]
    dpo = [a for a in every if a["purpose"].startswith("dpo.") and "audit_log" in a["data_categories"]]
    assert len(dpo) >= 4  # the lookup itself and the three views
    assert {a["event_id"] for a in pages["audit_log"]["items"]} == {a["event_id"] for a in dpo}
    assert {a["event_id"] for a in pages["business"]["items"]} == {a["event_id"] for a in every} - {
        a["event_id"] for a in dpo
    }
    assert all(a["actor_id"] != "dpo-eva" for a in pages["business"]["items"])
    totals = pages["business"]["totals"]
    assert totals == {"business": len(every) - len(dpo), "audit_log": len(dpo), "all": len(every)}
    assert day.client.get(f"/api/v1/subjects/{ref}/accesses", headers=day.headers()).json()["scope"] == "business"
    assert day.client.get(f"/api/v1/subjects/{ref}/accesses?scope=x", headers=day.headers()).status_code == 422

    sign_in(day.client, day.tokens["dpo"])
    page = day.client.get(f"/subjects/{ref}/who_accessed")
    assert page.status_code == 200
    assert re.search(rf'id="total-business">{totals["business"]}<', page.text)
    assert re.search(r'id="total-audit_log">\d+<', page.text)  # this page's own lookup is in the log now


def test_an_access_report_never_tells_of_another_persons_investigation(day: Day) -> None:
    subject = day.subjects[1]
    ref = day.client.post("/api/v1/subjects", json={"identifier": subject}, headers=day.headers()).json()["subject"]
    business = day.client.get(f"/api/v1/subjects/{ref}/accesses?limit=500", headers=day.headers()).json()["items"]
    employee = next(a["actor_id"] for a in business if a["actor_type"] == "employee")
    activity = day.client.get(f"/api/v1/actors/{employee}/activity?limit=100", headers=day.headers())
    assert activity.status_code == 200 and day.key(subject) in {i["subject"] for i in activity.json()["items"]}
    day.ingest()
    everything = day.client.get(f"/api/v1/subjects/{ref}/accesses?scope=all&limit=500", headers=day.headers()).json()
    assert f"audit_log/actor_activity/{employee}" in {a["resource"] for a in everything["items"]}  # it is in the log

    report = day.client.get(f"/api/v1/subjects/{ref}/reports/access", headers=day.headers())
    assert report.status_code == 200, report.text
    text = report.text
    assert "actor_activity" not in text and employee not in json.dumps(report.json()["dpo_lookups"])
    assert all(not a["purpose"].startswith("dpo.") for a in report.json()["accesses"])
    summary = {row["purpose"]: row for row in report.json()["dpo_lookups"]}
    assert summary["dpo.investigation"]["times"] >= 1 and summary["dpo.complaint_handling"]["times"] >= 1
    assert all(e.get("resource", "").find("actor_activity") < 0 for e in report.json()["events"])
    pdf = day.client.get(f"/api/v1/subjects/{ref}/reports/access?format=pdf", headers=day.headers())
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
