"""The CLI as a user runs it: emit a JSON-lines file, consume, ask the DPO's questions."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from pdtrail.config import Settings
from pdtrail.queries import FINDING_KINDS
from pdtrail.simulate import PAYMENT_PROVIDER, generate_organisation_number, generate_personnummer
from tests.conftest import cli_env, free_port


def run(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pdtrail", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    from pdtrail.infra import ensure_topics

    ensure_topics(settings)
    return cli_env(settings, tmp_path / "home", tmp_path / "store")


def _events(pnr: str, rng: random.Random) -> list[dict[str, object]]:
    base = {
        "subject": {"kind": "personnummer", "value": pnr},
        "legal_basis": "contract",
        "source_system": "crm",
    }
    return [
        {**base, "type": "personal_data.accessed", "occurred_at": "2026-03-02T09:15:00Z",
         "actor": {"type": "employee", "id": "emp-1001", "role": "customer_service"},
         "purpose": "customer_service", "data_categories": ["name", "contact_details"],
         "access_kind": "view", "resource": "customer-record"},
        {**base, "type": "personal_data.shared", "occurred_at": "2026-03-03T10:00:00Z",
         "actor": {"type": "service", "id": "payments", "role": "payment"}, "purpose": "booking.handling",
         "data_categories": ["name", "payment_information"], "recipient_role": "processor",
         "recipient": PAYMENT_PROVIDER.model_dump()},
        {**base, "type": "personal_data.accessed", "occurred_at": "2026-04-10T14:00:00+02:00",
         "actor": {"type": "employee", "id": "emp-1002", "role": "customer_service"}, "purpose": "customer_service",
         "data_categories": ["correspondence"], "access_kind": "export", "resource": "invoice/88"},
        # Outside the processing register: a recipient nobody registered, for a role nobody declared.
        {**base, "type": "personal_data.shared", "occurred_at": "2026-04-11T10:00:00Z",
         "actor": {"type": "employee", "id": "emp-1003", "role": "billing"}, "purpose": "booking.handling",
         "data_categories": ["name", "payment_information"], "recipient_role": "processor",
         "recipient": {"name": "Betala AB", "country": "SE", "organisation_number": generate_organisation_number(rng)}},
    ]  # fmt: skip


def test_emit_consume_and_ask(env: dict[str, str], tmp_path: Path) -> None:
    rng = random.Random(99)
    pnr = generate_personnummer(rng)
    lines = [json.dumps(e) for e in _events(pnr, rng)]
    bad = {"type": "personal_data.accessed", "subject": {"kind": "personnummer", "value": "19000101-0000"}}
    events_file = tmp_path / "events.jsonl"
    events_file.write_text("\n".join([*lines, json.dumps(bad), "{not json"]) + "\n")

    emitted = run("emit", "--file", str(events_file), env=env)
    assert emitted.returncode == 1  # three lines rejected
    out = _flat(emitted.stdout)
    assert "emitted 3, delivered 3, failed 0, rejected 3" in out
    assert "line 4: recipient: 'Betala AB' is not a recipient registered for 'booking.handling'" in out
    assert "line 5: subject.value: not a valid personnummer" in out and "line 5: actor: Field required" in out
    assert "line 6: not JSON" in out
    assert "19000101-0000" not in emitted.stdout + emitted.stderr  # errors never echo identifiers

    consumed = run("consume", "--drain", env=env)
    assert consumed.returncode == 0, consumed.stderr
    assert "stored 3" in consumed.stdout

    short = f"{pnr[2:8]}-{pnr[8:]}"
    who = run("who-accessed", short, "--format", "json", env=env)
    assert who.returncode == 0, who.stderr
    rows = [json.loads(line) for line in who.stdout.splitlines()]
    assert [r["actor_id"] for r in rows] == ["emp-1002", "emp-1001"]  # newest first
    assert rows[0]["occurred_at"].startswith("2026-04-10T12:00:00")  # stored in UTC

    march = run("who-accessed", pnr, "--since", "2026-03-01", "--until", "2026-04-01", "--format", "json", env=env)
    assert [json.loads(line)["actor_id"] for line in march.stdout.splitlines()] == ["emp-1001"]

    table = run("timeline", pnr, env=env)
    assert table.returncode == 0 and "personal_data.shared" in table.stdout and "Betalväxeln AB" in table.stdout
    assert "3 rows" in table.stdout

    csv_out = run("timeline", pnr, "--format", "csv", env=env)
    assert csv_out.stdout.splitlines()[0].startswith("occurred_at,event_type")


def test_bad_questions_get_clear_answers(env: dict[str, str]) -> None:
    empty = run("who-accessed", "nobody@example.org", env=env)
    assert empty.returncode == 2 and "run `pdtrail db migrate`" in _flat(empty.stderr)
    assert run("db", "migrate", env=env).returncode == 0
    inverted = run("timeline", "19811218-9876", "--since", "2026-05-01", "--until", "2026-04-01", env=env)
    assert inverted.returncode == 2 and "since: must be earlier than until" in _flat(inverted.stderr)
    invalid = run("who-accessed", "19811218-9877", "--kind", "personnummer", env=env)
    assert invalid.returncode == 2 and "identifier: not a valid personnummer" in _flat(invalid.stderr)
    assert "19811218-9877" not in invalid.stderr
    unknown = run("who-accessed", "nobody@example.org", "--format", "json", env=env)
    assert unknown.returncode == 0 and unknown.stdout == ""  # an unknown subject is an empty answer
    bad_date = run("timeline", "x", "--since", "yesterday", env=env)
    assert bad_date.returncode == 2 and "not a date or ISO time" in bad_date.stderr
    bad_config = run("timeline", "x", env={**env, "PDTRAIL_CONSUMER__BATCH_SIZE": "many"})
    assert bad_config.returncode == 2 and "PDTRAIL_CONSUMER__BATCH_SIZE" in bad_config.stderr


def test_demo_runs_end_to_end_and_stops_its_broker(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PDTRAIL_HOME": str(tmp_path / "home"),
        "PDTRAIL_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{port}",
    }
    env.pop("PDTRAIL_PSEUDONYM__SECRET", None)
    demo = run("demo", "--subjects", "30", env=env, timeout=300)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    out = _flat(demo.stdout)
    assert "dead-lettered 0" in out and "Who accessed this subject's data" in out and "Kafka stopped" in out
    assert "log verified:" in out and "intact" in out
    findings = out.split("Findings (`pdtrail findings`)")[1].split("log verified")[0]
    assert all(kind in findings for kind in FINDING_KINDS), findings
    assert "11 rows" in findings  # one planted per kind, two late answers
    proof = tmp_path / "home" / "demo-proof.json"
    checked = subprocess.run([sys.executable, "integrity/verify_proof.py", str(proof)], capture_output=True, text=True)
    assert checked.returncode == 0 and checked.stdout.startswith("VALID")
    emitted = int(out.split("✓ emitted ")[1].split()[0])
    assert f"stored {emitted}" in out
    assert (tmp_path / "home" / "pseudonym.secret").stat().st_mode & 0o777 == 0o600
    status = run("broker", "status", env=env)
    assert status.returncode == 1 and "not running" in status.stdout
    # The demo's secret and store serve later questions too.
    pnr = out.split("Try: pdtrail timeline ")[1].split()[0]
    later = run("timeline", pnr, "--format", "json", env=env)
    assert later.returncode == 0 and len(later.stdout.splitlines()) >= 6
    found = run("findings", "--as-of", "2028-01-01", "--format", "json", env=env)
    assert found.returncode == 1, found.stderr  # there are findings
    rows = [json.loads(line) for line in found.stdout.splitlines()]
    assert sorted(r["kind"] for r in rows) == sorted([*FINDING_KINDS, "late_answer"])
    erased = next(r for r in rows if r["kind"] == "after_erasure")
    none = run("findings", pnr, "--only", "late_answer", env=env)
    assert none.returncode == 0 and "0 rows" in none.stdout
    own = run("findings", pnr, "--as-of", "2028-01-01", "--format", "json", env=env)  # every kind, one person
    assert own.returncode in (0, 1), own.stderr
    assert all(json.loads(line)["kind"] in FINDING_KINDS for line in own.stdout.splitlines())
    assert erased["subject_key"] not in found.stderr
