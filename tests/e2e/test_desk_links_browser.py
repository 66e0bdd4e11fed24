"""The desk in a real headless Chromium: one person known by a personnummer, a customer id and an e-mail,
linked through the SDK; searching by each of the three shows the same timeline, each row saying through
which link it was found."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pdtrail.config import Settings
from pdtrail.desk import new_token
from pdtrail.producers import Actor, AuditEmitter, SubjectIdentifier
from pdtrail.schemas import PersonalDataAccessed
from pdtrail.simulate import generate_personnummer
from tests.conftest import cli_env, free_port
from tests.e2e.test_desk_browser import CHROMIUM, _wait_for_events

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium package is not installed (infra/setup.sh installs it)"
)
LINK = {
    "actor": Actor(type="service", id="crm", role="customer_service"), "purpose": "customer_service",
    "legal_basis": "contract", "data_categories": ["name", "contact_details"], "source_system": "crm",
}  # fmt: skip


# The rows table as cells: its column names and, per row, each cell's text.
_TABLE = """() => ({
  headers: [...document.querySelectorAll('#rows thead th')].map(h => h.textContent.trim()),
  rows: [...document.querySelectorAll('#rows tbody tr')].map(
    tr => [...tr.querySelectorAll('td')].map(td => td.textContent.trim().split(/\\s+/).join(' '))),
})"""


@pytest.fixture
def linked_desk(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, str, list[str], list[str]]]:
    """A running ``pdtrail desk`` over one linked person: (url, token, the three identifiers, access ids)."""
    from pdtrail.infra import ensure_topics

    ensure_topics(settings)
    rng = random.Random(7311)
    identifiers = [
        generate_personnummer(rng),
        f"KUND-{rng.randrange(10**6):06d}",
        f"k{rng.randrange(10**6)}@example.se",
    ]
    pnr, customer, email = (SubjectIdentifier(kind=k, value=v) for k, v in
                            zip(("personnummer", "customer_id", "email"), identifiers, strict=True))  # fmt: skip
    staff = Actor(type="employee", id="emp-3003", role="customer_service")
    accesses = [
        PersonalDataAccessed(subject=s, actor=staff, purpose="customer_service", legal_basis="contract",
                             data_categories=("name",), source_system="crm", access_kind="view",
                             resource="customer-record")
        for s in (pnr, customer, email)
    ]  # fmt: skip
    with AuditEmitter(settings) as audit:
        for event in accesses:
            audit.emit(event)
        audit.link(pnr, customer, reason="customer record opened", **LINK)
        audit.link(customer, email, reason="e-mail confirmed", **LINK)
        assert audit.flush(30) == 0
    token, entry = new_token("dpo-anna", "dpo")
    port = free_port()
    env = cli_env(
        settings, tmp_path / "home", tmp_path / "store", PDTRAIL_DESK__TOKENS=json.dumps([entry.model_dump()])
    )
    log = (tmp_path / "desk.log").open("w")
    desk = subprocess.Popen(
        [sys.executable, "-m", "pdtrail", "desk", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # One access and two link events (one per direction and key version) under the personnummer itself;
        # the linked set gives all three accesses and every link.
        _wait_for_events(url, token, identifiers[0], 3 + 4)
        yield url, token, identifiers, [str(e.event_id) for e in accesses]
    finally:
        desk.terminate()
        desk.wait(30)
        log.close()


def test_each_identifier_of_a_linked_person_shows_the_same_timeline(
    linked_desk: tuple[str, str, list[str], Any],
) -> None:
    from playwright.sync_api import sync_playwright

    url, token, identifiers, _ = linked_desk
    timelines: list[list[str]] = []
    vias: list[list[str]] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_context().new_page()
        page.goto(url + "/login")
        page.fill("#token", token)
        page.click("#sign-in")
        for identifier in identifiers:
            page.goto(url + "/")
            page.fill("#identifier", identifier)
            page.click("#search")
            page.wait_for_url("**/timeline")
            table = page.evaluate(_TABLE)
            headers, rows = table["headers"], table["rows"]
            assert "found via" in headers, headers
            via = headers.index("found via")
            # The DPO's own lookups are recorded in the log too (under the searched key): left out here.
            own = [r for r in rows if not any("dpo-anna" in cell for cell in r)]
            vias.append([r[via] for r in own if r[via]])
            timelines.append(sorted(" | ".join(c for i, c in enumerate(r) if i != via) for r in own))
        browser.close()
    assert len([r for r in timelines[0] if "emp-3003" in r]) == 3  # the three accesses, whichever key
    assert timelines[1] == timelines[0] and timelines[2] == timelines[0]
    assert all(vias) and all(" via link " in v for found in vias for v in found)  # each search followed links
