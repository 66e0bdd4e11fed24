"""The DPO's desk API over real data: SDK → real Kafka → consumer → chDB → FastAPI (TestClient).

One company's stream is ingested once for the module; every test reads it through the API and
compares with the lineage queries asked directly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import random
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pdtrail.config import Settings
from pdtrail.consumers import AuditConsumer
from pdtrail.desk import Desk as DeskService
from pdtrail.desk import create_app, new_token
from pdtrail.infra import apply_migrations, ensure_topics
from pdtrail.producers import AuditEmitter, Pseudonymiser
from pdtrail.producers._spool import Spool
from pdtrail.queries import LocalQueries, SubjectLineage
from pdtrail.schemas import PersonalDataAccessed
from pdtrail.simulate import generate_personnummer, simulate_company, simulate_findings
from pdtrail.store import connect
from tests.conftest import SECRET, free_port, pipeline_settings
from tests.integration.helpers import sign_in


@dataclass
class Desk:
    settings: Settings
    client: TestClient
    lineage: SubjectLineage
    tokens: dict[str, str]  # role -> token
    subject: str  # the subject with the most accesses
    accesses: int
    planted: list[Any]  # violations planted for the findings

    def headers(self, role: str = "dpo") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def open(self, identifier: str, role: str = "dpo", **extra: Any) -> str:
        answer = self.client.post(
            "/api/v1/subjects", json={"identifier": identifier, **extra}, headers=self.headers(role)
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["subject"])

    def ingest(self) -> None:
        AuditConsumer(self.settings, connect(self.settings)).run(drain=True)


@pytest.fixture(scope="module")
def desk(kafka_broker: Any, store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    tokens, entries = {}, []
    for role, identity in (("dpo", "dpo-anna"), ("auditor", "auditor-bo"), ("read_only", "clerk-cy")):
        token, entry = new_token(identity, role)
        tokens[role] = token
        entries.append(entry.model_dump())
    settings = pipeline_settings(
        kafka_broker.bootstrap_servers,
        tmp_path_factory.mktemp("desk"),
        store_dir,
        desk={"tokens": entries, "max_page_size": 50},
    )
    ensure_topics(settings)
    client = connect(settings)
    apply_migrations(client)
    journeys = list(simulate_company(40, seed=23))
    # Violations the findings catch, on subjects of their own (those the register itself refuses left out).
    # (kind "" is a planted subject's own history that makes the violation one.)
    planted = [p for p in simulate_findings(journeys) if not p.outside_register]
    journeys += [(p.subject, p.event) for p in planted]
    planted = [p for p in planted if p.kind]
    with AuditEmitter(settings) as emitter:
        for _, event in journeys:
            emitter.emit(event)
        assert emitter.flush(30) == 0
    AuditConsumer(settings, client).run(drain=True)
    counts: dict[str, int] = {}
    for s, e in journeys:
        if isinstance(e, PersonalDataAccessed):
            counts[s.personnummer] = counts.get(s.personnummer, 0) + 1
    spoiled = {p.subject.personnummer for p in planted}
    subject = max((k for k in counts if k not in spoiled), key=lambda k: counts[k])
    backend = LocalQueries(connect(settings, create_database=False))
    with TestClient(create_app(settings, backend)) as http:
        yield Desk(
            settings, http, SubjectLineage(backend, Pseudonymiser.from_settings(settings)), tokens, subject,
            counts[subject], planted,
        )  # fmt: skip


def test_who_accessed_and_timeline_match_the_lineage_queries(desk: Desk) -> None:
    ref = desk.open(f"{desk.subject[2:8]}-{desk.subject[8:]}")  # the 10-digit form
    answer = desk.client.get(f"/api/v1/subjects/{ref}/who_accessed", headers=desk.headers())
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert len([i for i in items if i["actor_id"] != "dpo-anna"]) == desk.accesses  # the desk's own lookups aside
    direct = desk.lineage.who_accessed(desk.subject).as_dicts()
    assert [i["event_id"] for i in items] == [str(r["event_id"]) for r in direct]

    timeline = desk.client.get(f"/api/v1/subjects/{ref}/timeline", headers=desk.headers()).json()
    assert [i["event_id"] for i in timeline["items"]] == [
        str(r["event_id"]) for r in desk.lineage.timeline(desk.subject).as_dicts()
    ]
    assert timeline["next"] is None


def test_a_long_timeline_comes_in_pages_linked_by_next(desk: Desk) -> None:
    ref = desk.open(desk.subject)
    expected = [str(r["event_id"]) for r in desk.lineage.timeline(desk.subject).as_dicts()]
    assert len(expected) > 4
    url: str | None = f"/api/v1/subjects/{ref}/timeline?limit=3"
    seen: list[str] = []
    pages = 0
    while url:
        page = desk.client.get(url, headers=desk.headers()).json()
        assert len(page["items"]) <= 3
        seen += [i["event_id"] for i in page["items"]]
        url = page["next"]
        pages += 1
    assert seen == expected
    assert pages == -(-len(expected) // 3)


def test_every_lookup_is_recorded_as_an_access_by_the_token_identity(desk: Desk) -> None:
    ref = desk.open(desk.subject, purpose="access_request")
    assert desk.client.get(f"/api/v1/subjects/{ref}/shared_with", headers=desk.headers()).status_code == 200
    desk.ingest()
    accesses = desk.lineage.who_accessed(desk.subject).as_dicts()
    mine = [a for a in accesses if a["actor_id"] == "dpo-anna"]
    assert mine, "the desk's lookups are missing from the audit log"
    assert {"dpo.access_request"} <= {a["purpose"] for a in mine}
    assert {a["legal_basis"] for a in mine} == {"legal_obligation"}
    assert "audit_log/shared_with" in {a["resource"] for a in mine}


def test_an_actor_activity_lookup_is_recorded_for_every_subject_on_the_page(desk: Desk) -> None:
    employee, asked_at = "emp-1001", dt.datetime.now(dt.UTC)
    page = desk.client.get(f"/api/v1/actors/{employee}/activity?limit=3", headers=desk.headers("auditor"))
    assert page.status_code == 200, page.text
    shown = {item["subject"] for item in page.json()["items"]}
    assert len(shown) == 3 and page.json()["next"]  # a page of a longer answer: only its subjects were seen
    desk.ingest()
    since = urllib.parse.quote(asked_at.isoformat())  # the auditor's own lookups from here on
    by_auditor = desk.client.get(f"/api/v1/actors/auditor-bo/activity?since={since}", headers=desk.headers("auditor"))
    by_auditor = by_auditor.json()
    assert {item["subject"] for item in by_auditor["items"]} == shown
    assert {tuple(item["purposes"]) for item in by_auditor["items"]} == {("dpo.investigation",)}


def test_reports_for_the_dpo_as_json_and_pdf(desk: Desk) -> None:
    ref = desk.open(desk.subject)
    as_json = desk.client.get(f"/api/v1/subjects/{ref}/reports/access", headers=desk.headers())
    assert as_json.status_code == 200
    report = as_json.json()
    assert report["report"] == "access"
    assert report["purposes"] and report["recipients"]
    pdf = desk.client.get(
        f"/api/v1/subjects/{ref}/reports/complaint?format=pdf&lang=sv&case_reference=IMY-2026-1", headers=desk.headers()
    )
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and len(pdf.content) > 2000
    complaint = desk.client.get(f"/api/v1/subjects/{ref}/reports/complaint", headers=desk.headers()).json()
    checked = complaint["integrity"]["checked"]  # the desk holds the store: it verified the period itself
    assert checked["ok"] is True and checked["checkpoints"] >= 1 and checked["rows"] >= len(complaint["events"])
    picture = desk.client.get(f"/api/v1/subjects/{ref}/lineage.picture", headers=desk.headers())
    assert picture.status_code == 200 and picture.headers["content-type"] in ("image/png", "image/svg+xml")
    graph = desk.client.get(f"/api/v1/subjects/{ref}/lineage", headers=desk.headers()).json()
    assert {n["kind"] for n in graph["nodes"]} >= {"source", "purpose", "recipient"}


def test_findings_for_the_auditor_name_the_planted_violation(desk: Desk) -> None:
    planted = desk.planted[0]
    ref = desk.open(planted.subject.personnummer, role="auditor")
    answer = desk.client.get(f"/api/v1/subjects/{ref}/findings", headers=desk.headers("auditor"))
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert planted.kind in {i["kind"] for i in items}
    assert str(planted.event.event_id) in {i["event_id"] for i in items}
    clean = desk.open(desk.subject, role="auditor")
    assert desk.client.get(f"/api/v1/subjects/{clean}/findings", headers=desk.headers("auditor")).json()["items"] == []
    reader = desk.open(planted.subject.personnummer, role="read_only")
    assert desk.client.get(f"/api/v1/subjects/{reader}/findings", headers=desk.headers("read_only")).status_code == 403


def test_roles_limit_what_a_token_may_do(desk: Desk) -> None:
    ref = desk.open(desk.subject, role="read_only")
    assert desk.client.get(f"/api/v1/subjects/{ref}/timeline", headers=desk.headers("read_only")).status_code == 200
    denied = desk.client.get(f"/api/v1/subjects/{ref}/reports/access", headers=desk.headers("read_only"))
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "forbidden"
    assert desk.client.get("/api/v1/actors/emp-1001/activity", headers=desk.headers("read_only")).status_code == 403
    activity = desk.client.get("/api/v1/actors/emp-1001/activity?limit=5", headers=desk.headers("auditor"))
    assert activity.status_code == 200
    assert all(len(i["subject"]) > 20 for i in activity.json()["items"])  # keys, never identifiers
    auditor_ref = desk.open(desk.subject, role="auditor")
    assert (
        desk.client.get(f"/api/v1/subjects/{auditor_ref}/reports/access", headers=desk.headers("auditor")).status_code
        == 403
    )
    # A reference belongs to the identity that opened it.
    assert desk.client.get(f"/api/v1/subjects/{ref}/timeline", headers=desk.headers("dpo")).status_code == 404
    # The UI's actor page says so to a role that may not, and asks nothing.
    sign_in(desk.client, desk.tokens["read_only"])
    page = desk.client.get("/actors?actor=emp-1001")
    assert page.status_code == 200 and "may not read actor activity" in page.text and 'id="rows"' not in page.text
    sign_in(desk.client, desk.tokens["auditor"])
    page = desk.client.get("/actors?actor=emp-1001")
    desk.client.cookies.clear()
    assert page.status_code == 200 and 'id="rows"' in page.text


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer not-a-token"}, 401), ({"Authorization": "Basic abc"}, 401)],
)
def test_a_missing_or_wrong_token_is_401_with_a_json_error(desk: Desk, headers: dict[str, str], status: int) -> None:
    answer = desk.client.post("/api/v1/subjects", json={"identifier": desk.subject}, headers=headers)
    assert answer.status_code == status
    error = answer.json()["error"]
    assert error["code"] == "unauthorised" and "token" in error["message"]


def test_bad_input_is_answered_clearly(desk: Desk) -> None:
    bad = desk.client.post("/api/v1/subjects", json={"identifier": "19811318-0000"}, headers=desk.headers())
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "identifier"
    assert "19811318" not in bad.text  # the identifier is never echoed

    unknown = desk.open(generate_personnummer(random.Random(999_999)))
    empty = desk.client.get(f"/api/v1/subjects/{unknown}/timeline", headers=desk.headers())
    assert empty.status_code == 200 and empty.json()["items"] == [] and empty.json()["next"] is None

    ref = desk.open(desk.subject)
    inverted = desk.client.get(
        f"/api/v1/subjects/{ref}/timeline?since=2026-06-01&until=2026-01-01", headers=desk.headers()
    )
    assert inverted.status_code == 422 and inverted.json()["error"]["field"] == "since"
    too_big = desk.client.get(f"/api/v1/subjects/{ref}/timeline?limit=51", headers=desk.headers())
    assert too_big.status_code == 422 and too_big.json()["error"]["field"] == "limit"
    not_a_date = desk.client.get(f"/api/v1/subjects/{ref}/timeline?since=yesterday", headers=desk.headers())
    assert not_a_date.status_code == 422 and not_a_date.json()["error"]["field"] == "since"
    no_view = desk.client.get(f"/api/v1/subjects/{ref}/secrets", headers=desk.headers())
    assert no_view.status_code == 422 and no_view.json()["error"]["field"] == "view"
    gone = desk.client.get("/api/v1/subjects/AAAAAAAAAAAAAAAAAAAAAA/timeline", headers=desk.headers())
    assert gone.status_code == 404 and gone.json()["error"]["field"] == "subject"
    purpose = desk.client.post(
        "/api/v1/subjects", json={"identifier": desk.subject, "purpose": "curiosity"}, headers=desk.headers()
    )
    assert purpose.status_code == 422 and purpose.json()["error"]["field"] == "purpose"
    for answer in (bad, inverted, too_big, not_a_date, gone, purpose):
        assert "Traceback" not in answer.text


def test_the_openapi_spec_describes_the_api(desk: Desk) -> None:
    spec = desk.client.get("/api/openapi.json").json()
    assert "/api/v1/subjects" in spec["paths"]
    assert "/api/v1/subjects/{reference}/{view}" in spec["paths"]
    assert "/api/v1/actors/{actor_id}/activity" in spec["paths"]


def test_tokens_come_hashed_from_a_file_and_a_bad_file_is_named(tmp_path: Path) -> None:
    from pdtrail.config import DeskSettings
    from pdtrail.desk import TokenStore
    from pdtrail.errors import ConfigError

    token, entry = new_token("auditor-bo", "auditor")
    tokens_file = tmp_path / "tokens.json"
    tokens_file.write_text(json.dumps([entry.model_dump()]))
    assert token not in tokens_file.read_text()  # only the hash is kept
    store = TokenStore.from_settings(DeskSettings(tokens_file=tokens_file))
    who = store.authenticate(token)
    assert who is not None and (who.identity, who.role) == ("auditor-bo", "auditor")
    assert store.authenticate(token + "x") is None and store.authenticate("") is None

    tokens_file.write_text('[{"identity": "x", "role": "boss", "token_sha256": "00"}]')
    with pytest.raises(ConfigError) as bad:
        TokenStore.from_settings(DeskSettings(tokens_file=tokens_file))
    assert bad.value.setting == "PDTRAIL_DESK__TOKENS_FILE"


def test_pdtrail_desk_without_tokens_says_how_to_make_one(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PDTRAIL_")}
    env |= {"PDTRAIL_HOME": str(tmp_path), "PDTRAIL_PSEUDONYM__SECRET": SECRET}
    done = subprocess.run(
        [sys.executable, "-m", "pdtrail", "desk"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert "pdtrail desk --new-token" in done.stderr and "Traceback" not in done.stderr

    made = subprocess.run(
        [sys.executable, "-m", "pdtrail", "desk", "--new-token", "dpo:dpo-anna"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0
    token = made.stdout.split("it is shown once): ")[1].split()[0]
    entry = json.loads(made.stdout.strip().splitlines()[-1])
    assert entry["identity"] == "dpo-anna" and entry["role"] == "dpo"
    assert entry["token_sha256"] == hashlib.sha256(token.encode()).hexdigest()


def _without_broker(desk: Desk, tmp_path: Path, spool_max_bytes: int) -> Settings:
    # A real client against a port where no broker listens: the meta-audit event cannot be delivered.
    return desk.settings.model_copy(
        update={
            "home": tmp_path,
            "kafka": desk.settings.kafka.model_copy(update={"bootstrap_servers": f"127.0.0.1:{free_port()}"}),
            "desk": desk.settings.desk.model_copy(update={"confirm_lookups_s": 1.0}),
            "emitter": desk.settings.emitter.model_copy(update={"spool_max_bytes": spool_max_bytes}),
        }
    )


def test_a_lookup_neither_delivered_nor_spooled_is_not_answered(desk: Desk, tmp_path: Path) -> None:
    unreachable = _without_broker(desk, tmp_path, spool_max_bytes=0)  # no spool to keep it either
    backend = LocalQueries(connect(unreachable, create_database=False))
    # A reference opened where the broker answers; a replica holding the same reference key opens it too.
    ref = desk.open(desk.subject)
    replica = DeskService(unreachable, backend, ref_keys=desk.client.app.state.desk.cases.keys)
    with TestClient(create_app(unreachable, backend, desk=replica)) as http:
        headers = desk.headers()
        opened = http.post("/api/v1/subjects", json={"identifier": desk.subject}, headers=headers)
        answer = http.get(f"/api/v1/subjects/{ref}/timeline", headers=headers)
        activity = http.get("/api/v1/actors/emp-1001/activity", headers=headers)
    assert opened.status_code == 503 and "subject" not in opened.json()  # opening a case is a lookup too
    assert answer.status_code == 503
    assert "not recorded in the audit log" in answer.json()["error"]["message"]
    assert "items" not in answer.json()
    assert activity.status_code == 503 and "items" not in activity.json()


def test_a_lookup_kept_in_the_spool_is_answered(desk: Desk, tmp_path: Path) -> None:
    """With the broker away, the lookup's event waits on disk (it goes out when the broker is back): that
    is as recorded as the SDK makes any event, so the DPO gets the answer."""
    unreachable = _without_broker(desk, tmp_path, spool_max_bytes=1 << 20)
    backend = LocalQueries(connect(unreachable, create_database=False))
    with TestClient(create_app(unreachable, backend)) as http:
        headers = desk.headers()
        ref = http.post("/api/v1/subjects", json={"identifier": desk.subject}, headers=headers).json()["subject"]
        answer = http.get(f"/api/v1/subjects/{ref}/timeline", headers=headers)
    assert answer.status_code == 200 and answer.json()["items"]
    spooled = Spool(tmp_path / "spool", 1 << 20)
    assert spooled.depth >= 1  # the lookup itself, on disk


def test_through_the_store_owner_the_answers_are_the_same(desk: Desk) -> None:
    """When `pdtrail serve` owns the store, the desk asks it over HTTP (RemoteQueries)."""
    from pdtrail.queries import RemoteQueries
    from pdtrail.store import QueryServer

    owner = QueryServer(LocalQueries(connect(desk.settings, create_database=False)), "owner-token").start()
    try:
        with TestClient(create_app(desk.settings, RemoteQueries(owner.url, "owner-token"))) as remote:
            headers = desk.headers()
            planted = desk.planted[0].subject.personnummer
            answers = []
            for http in (desk.client, remote):
                ref = http.post("/api/v1/subjects", json={"identifier": planted}, headers=headers).json()["subject"]
                timeline = http.get(f"/api/v1/subjects/{ref}/timeline", headers=headers).json()
                found = http.get(f"/api/v1/subjects/{ref}/findings", headers=headers).json()
                answers.append((timeline["items"], sorted(f["event_id"] for f in found["items"])))
    finally:
        owner.stop()
    assert answers[0] == answers[1]
    assert answers[0][0] and answers[0][1]
