"""From a personnummer to a sent-ready PDF with the CLI, as a DPO runs it: the reports, every lineage
command, the meta-audit of the DPO's own lookups, and clear answers to bad input."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest
from pypdf import PdfReader

from pdtrail.config import Settings
from pdtrail.producers import AuditEmitter
from pdtrail.schemas import (
    ConsentGiven,
    CreditCheckPerformed,
    LeadReceived,
    PersonalDataAccessed,
    PersonalDataCollected,
    PersonalDataShared,
    ProcessingEvent,
    PublicRegisterLookup,
    load_register,
)
from pdtrail.simulate import generate_personnummer, simulate_company
from tests.conftest import cli_env, free_port
from tests.e2e.test_cli import _flat, run


@pytest.fixture
def env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    """The CLI's environment: the session's broker, this test's topics, a store of its own."""
    from pdtrail.infra import ensure_topics

    ensure_topics(settings)
    return cli_env(settings, tmp_path / "home", tmp_path / "store")


def _pdf_text(path: Path) -> str:
    return _flat(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(path.read_bytes())).pages))


def _stored_stream(settings: Settings, env: dict[str, str]) -> tuple[str, list[ProcessingEvent]]:
    journeys = list(simulate_company(6, seed=31))
    with AuditEmitter(settings) as emitter:
        for _, event in journeys:
            emitter.emit(event)
        assert emitter.flush(30) == 0
    assert run("db", "migrate", env=env).returncode == 0
    consumed = run("consume", "--drain", env=env)
    assert consumed.returncode == 0, consumed.stderr
    pnr = journeys[0][0].personnummer
    return pnr, [e for s, e in journeys if s.personnummer == pnr]


def test_personnummer_to_access_report_and_complaint_response(
    settings: Settings, env: dict[str, str], tmp_path: Path
) -> None:
    pnr, own = _stored_stream(settings, env)
    recipients = {e.recipient.name for e in own if isinstance(e, PersonalDataShared)}
    purposes = {e.purpose for e in own}
    dashed = f"{pnr[:8]}-{pnr[8:]}"

    access = run("report", "access", dashed, "--out", str(tmp_path / "access.pdf"), "--lang", "sv",
                 "--as", "dpo-42", env=env)  # fmt: skip
    assert access.returncode == 0, access.stderr
    text = _pdf_text(tmp_path / "access.pdf")
    assert "Registerutdrag enligt artikel 15 GDPR" in text and "Mottagare" in text and "Händelsehistorik" in text
    assert dashed in text
    assert all(name in text for name in recipients)
    register = load_register()  # the subject reads each purpose in words, not as the register's code
    assert all(register.purposes[p].label_sv in text for p in purposes)
    bureau = next(e.bureau.name for e in own if isinstance(e, CreditCheckPerformed))
    assert bureau in text and "Kreditupplysningar" in text

    portable = run("report", "access", pnr, "--out", str(tmp_path / "access.json"), env=env)
    assert portable.returncode == 0, portable.stderr
    document = json.loads((tmp_path / "access.json").read_text())
    assert {r["recipient"] for r in document["recipients"]} == recipients
    assert len(document["events"]) == len(own)

    complaint = run("report", "complaint", pnr, "--out", str(tmp_path / "complaint.pdf"), "--reference",
                    "IMY-2026-0042", "--as", "dpo-42", env=env)  # fmt: skip
    assert complaint.returncode == 0, complaint.stderr
    text = _pdf_text(tmp_path / "complaint.pdf")
    assert "Response to a complaint" in text and "IMY-2026-0042" in text
    assert "Timeline, with the legal basis of each act" in text and all(name in text for name in recipients)
    assert "pdtrail verify --since" in text and "Verification result: intact" in text
    assert "Findings" in text

    # The DPO's lookups are themselves in the log, answered by the same question.
    assert run("consume", "--drain", env=env).returncode == 0
    who = run("who-accessed", pnr, "--format", "json", env=env)
    rows = [json.loads(line) for line in who.stdout.splitlines()]
    dpo = [r for r in rows if r["actor_id"] == "dpo-42"]
    assert {(r["purpose"], r["access_kind"], r["resource"]) for r in dpo} == {
        ("dpo.access_request", "export", "audit_log/access_report"),
        ("dpo.complaint_handling", "export", "audit_log/complaint_report"),
    }
    staff = [r for r in rows if r["actor_role"] != "dpo"]
    assert len(staff) == len([e for e in own if isinstance(e, PersonalDataAccessed)])


def test_every_lineage_command_answers(settings: Settings, env: dict[str, str], tmp_path: Path) -> None:
    pnr, own = _stored_stream(settings, env)

    def json_rows(*args: str) -> list[dict[str, object]]:
        answer = run(*args, "--format", "json", env=env)
        assert answer.returncode == 0, answer.stderr
        return [json.loads(line) for line in answer.stdout.splitlines()]

    shared = json_rows("shared-with", pnr)
    assert sorted(r["recipient"] for r in shared) == sorted(
        e.recipient.name for e in own if isinstance(e, PersonalDataShared)
    )
    assert [r["reference"] for r in json_rows("credit-checks", pnr)] == [
        e.reference for e in own if isinstance(e, CreditCheckPerformed)
    ]
    brought_in = [e for e in own if isinstance(e, PersonalDataCollected | LeadReceived | PublicRegisterLookup)]
    assert sorted(r["event_id"] for r in json_rows("sources", pnr)) == sorted(str(e.event_id) for e in brought_in)
    consented = {e.purpose for e in own if isinstance(e, ConsentGiven)}
    assert {r["purpose"] for r in json_rows("consent", pnr)} == consented  # none given: no rows, no error
    retention = json_rows("retention-status", pnr, "--at", "2027-06-01")
    assert {(r["purpose"], r["category"]) for r in retention} >= {("booking.handling", "payment_information")}
    assert "unknown" not in {r["status"] for r in retention}  # periods from the shipped register
    first_two = json_rows("timeline", pnr, "--limit", "2")
    next_two = json_rows("timeline", pnr, "--limit", "2", "--offset", "2")
    assert {r["event_id"] for r in first_two}.isdisjoint({r["event_id"] for r in next_two})

    picture = tmp_path / "flows.svg"
    graph = run("lineage", pnr, "--svg", str(picture), "--format", "json", env=env)
    assert graph.returncode == 0, graph.stderr
    nodes = json.loads(graph.stdout.splitlines()[-1])["nodes"]
    assert {n["kind"] for n in nodes} == {"source", "purpose", "recipient"}
    assert "<svg" in picture.read_text()

    employee = next(e.actor.id for e in own if isinstance(e, PersonalDataAccessed))
    touched = json_rows("actor-activity", employee, "--as", "dpo-7")
    assert touched and all(len(str(r["subject"])) == 64 for r in touched)  # pseudonymous keys only
    assert pnr not in json.dumps(touched)

    # The investigation is itself in the log: an access by the DPO on every subject the answer showed.
    assert run("consume", "--drain", env=env).returncode == 0
    investigated = json_rows("actor-activity", "dpo-7")
    assert {r["subject"] for r in investigated} == {r["subject"] for r in touched}
    assert {(r["events"], tuple(r["purposes"])) for r in investigated} == {(1, ("dpo.investigation",))}
    seen_by_dpo = [r for r in json_rows("who-accessed", pnr) if r["actor_id"] == "dpo-7"]
    assert [(r["purpose"], r["resource"]) for r in seen_by_dpo] == [
        ("dpo.investigation", f"audit_log/actor_activity/{employee}")
    ]


def test_bad_input_is_answered_clearly(env: dict[str, str], tmp_path: Path) -> None:
    assert run("db", "migrate", env=env).returncode == 0
    pnr = generate_personnummer(random.Random(5))
    wrong_type = run("report", "access", pnr, "--out", str(tmp_path / "r.txt"), env=env)
    assert wrong_type.returncode == 2 and "out: must end in .pdf" in _flat(wrong_type.stderr)
    broken = f"{pnr[:-1]}{(int(pnr[-1]) + 1) % 10}"  # wrong check digit
    invalid = run("report", "complaint", broken, "--out", str(tmp_path / "c.pdf"), env=env)
    assert invalid.returncode == 2 and "identifier: not a valid personnummer" in _flat(invalid.stderr)
    assert broken not in invalid.stderr and "Traceback" not in invalid.stderr
    page = run("shared-with", pnr, "--offset", "-1", env=env)
    assert page.returncode == 2 and "offset: must be between" in _flat(page.stderr)
    big = run("sources", pnr, "--limit", "100001", env=env)
    assert big.returncode == 2 and "limit: must be between 1 and 100000" in _flat(big.stderr)
    nobody = run("report", "access", pnr, "--out", str(tmp_path / "nobody.pdf"), env=env)
    assert nobody.returncode == 0, nobody.stderr  # an unknown subject: an empty report, not an error
    assert "None recorded." in _pdf_text(tmp_path / "nobody.pdf")
    no_broker = {**env, "PDTRAIL_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"}
    kept = run("shared-with", pnr, env=no_broker)
    assert kept.returncode == 0, kept.stderr  # answered: the lookup waits in the SDK's spool for the broker
    assert "kept in the SDK's spool" in _flat(kept.stderr)
    no_spool = {**no_broker, "PDTRAIL_EMITTER__SPOOL_MAX_BYTES": "0"}
    unrecorded = run("shared-with", pnr, env=no_spool)
    assert unrecorded.returncode == 2 and unrecorded.stdout == ""  # no trace, no answer: the desk's rule too
    assert "the lookup was not recorded in the audit log" in _flat(unrecorded.stderr)
    no_actor = run("actor-activity", " ", env=env)
    assert no_actor.returncode == 2 and "actor_id: must be 1 to 200 characters" in _flat(no_actor.stderr)
