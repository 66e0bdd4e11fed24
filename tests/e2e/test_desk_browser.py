"""The DPO's desk in a real headless Chromium, as a DPO uses it: sign in, search a subject by
personnummer, read the timeline, download the access report as a PDF.

The desk runs as ``pdtrail desk`` in a subprocess that owns its own embedded store and consumes the
test's topic, so the lookups it records land in the log it serves.
"""

from __future__ import annotations

import io
import json
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from pdtrail.config import Settings
from pdtrail.desk import new_token
from pdtrail.producers import AuditEmitter
from pdtrail.queries._labels import register_labels
from pdtrail.schemas import CreditCheckPerformed, load_register
from pdtrail.simulate import generate_personnummer, simulate_company
from tests.conftest import cli_env, free_port

LABELS = register_labels(load_register())
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium package is not installed (infra/setup.sh installs it)"
)


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def desk_url(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, str, Any]]:
    """A running ``pdtrail desk`` over a generated company's stream: (url, dpo token, journeys)."""
    from pdtrail.infra import ensure_topics

    ensure_topics(settings)
    journeys = list(simulate_company(5, seed=41))
    with AuditEmitter(settings) as emitter:
        for _, event in journeys:
            emitter.emit(event)
        assert emitter.flush(30) == 0
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
        _wait_for_events(url, token, journeys[0][0].personnummer, sum(1 for s, _ in journeys if s is journeys[0][0]))
        yield url, token, journeys
    finally:
        desk.terminate()
        desk.wait(30)
        log.close()


def _wait_for_events(url: str, token: str, identifier: str, expected: int, timeout_s: float = 120) -> None:
    """Until the desk answers and has consumed the subject's events (ingest runs inside it)."""
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            ref = httpx.post(f"{url}/api/v1/subjects", json={"identifier": identifier}, headers=headers).json()
            items = httpx.get(f"{url}/api/v1/subjects/{ref['subject']}/timeline", headers=headers).json()["items"]
            if len(items) >= expected:
                return
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        time.sleep(0.5)
    raise AssertionError("the desk did not answer with the subject's events in time")


def test_search_a_subject_read_the_timeline_and_download_the_report(
    desk_url: tuple[str, str, Any], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    url, token, journeys = desk_url
    subject = journeys[0][0]
    own = [e for s, e in journeys if s is subject]
    reference = next(e.reference for e in own if isinstance(e, CreditCheckPerformed))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_context(accept_downloads=True).new_page()
        page.goto(url + "/")
        assert page.url.endswith("/login")  # not signed in: sent to sign in
        page.fill("#token", "wrong")
        page.click("#sign-in")
        assert "not valid" in page.text_content("main")
        page.fill("#token", token)
        page.click("#sign-in")

        page.fill("#identifier", "19811318-0000")  # no such date
        page.click("#search")
        assert "identifier" in page.text_content(".error")

        page.fill("#identifier", f"{subject.personnummer[2:8]}-{subject.personnummer[8:]}")
        page.select_option("#purpose", "access_request")
        page.click("#search")
        page.wait_for_url("**/timeline")
        rows = [_flat(r) for r in page.locator("#rows tbody tr").all_text_contents()]
        # The desk records every lookup in the same log, so the DPO's own earlier lookups show up too.
        assert len([r for r in rows if "dpo-anna" not in r]) == len(own)
        assert "Credit check" in page.text_content("#rows")  # event types in words (the code is the cell's title)

        page.click("#tab-who_accessed")
        page.wait_for_url("**/who_accessed")
        page.click("#tab-credit_checks")
        page.wait_for_url("**/credit_checks")
        assert reference in page.text_content("#rows")
        page.click("#tab-sources")
        page.wait_for_url("**/sources")
        assert "From you" in page.text_content("#rows")  # collection_source data_subject
        page.click("#tab-consent_state")
        page.wait_for_url("**/consent_state")
        assert "now" in page.text_content("#as-of")
        consented = {e.purpose for e in own if type(e).__name__ in ("ConsentGiven", "ConsentWithdrawn")}
        if consented:  # the state per purpose the subject gave or withdrew consent for
            assert all(LABELS["purposes"][purpose]["en"] in page.text_content("#rows") for purpose in consented)
        else:
            assert "Nothing recorded" in page.text_content("#empty")
        page.click("#tab-retention_status")
        page.wait_for_url("**/retention_status")
        collected = next(e for e in own if type(e).__name__ == "PersonalDataCollected")
        assert LABELS["purposes"][collected.purpose]["en"] in page.text_content("#rows")
        page.click("#tab-lineage")
        page.wait_for_url("**/lineage")
        picture = page.locator("#lineage-picture")
        assert picture.evaluate("img => img.complete && img.naturalWidth > 0")

        page.click("#tab-reports")
        with page.expect_download() as download:
            page.click("#access-pdf")
        saved = tmp_path / "access.pdf"
        download.value.save_as(saved)

        # This very session's lookups, recorded through Kafka, show up in the subject's own timeline.
        deadline = time.monotonic() + 60
        recorded: list[str] = []
        while not recorded and time.monotonic() < deadline:
            page.click("#tab-timeline")
            page.wait_for_url("**/timeline")
            rows = [_flat(r) for r in page.locator("#rows tbody tr").all_text_contents()]
            recorded = [r for r in rows if "dpo-anna" in r and LABELS["purposes"]["dpo.access_request"]["en"] in r]
            time.sleep(0.5)
        assert recorded, "the DPO's lookups did not appear in the audit log"

        # The reverse view, for an insider investigation: every subject one employee touched.
        touched: dict[str, set[str]] = {}
        for s, e in journeys:
            touched.setdefault(e.actor.id, set()).add(s.personnummer)
        employee = next(a for a, people in sorted(touched.items()) if a.startswith("emp-") and len(people) >= 2)
        page.click("#nav-actors")
        page.wait_for_url("**/actors")
        page.fill("#actor", employee)
        page.click("#show-activity")
        page.wait_for_url("**/actors?actor=*")
        assert page.locator("#rows tbody tr").count() == len(touched[employee])
        page.fill("#actor", "emp-9999")  # nobody by that id
        page.click("#show-activity")
        assert "touched no subject" in page.text_content("#empty")

        # A subject the log has never seen: an empty answer, said plainly.
        page.goto(url + "/")
        page.fill("#identifier", generate_personnummer(random.Random(4242)))
        page.click("#search")
        page.wait_for_url("**/timeline")
        assert "Nothing recorded" in page.text_content("#empty")

        # Under the desk's Content-Security-Policy its own stylesheet still applies.
        answer = page.goto(url + "/")
        assert answer is not None and "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert page.evaluate("[...document.styleSheets].reduce((n, s) => n + s.cssRules.length, 0)") > 0
        # The session: its cookie holds a random id, never the token; signing out ends it on the server.
        session = next(c for c in page.context.cookies() if c["name"] == "pdtrail_desk")
        assert token not in session["value"] and session["httpOnly"] and session["sameSite"] == "Strict"
        page.click("#logout")
        page.wait_for_url("**/login")
        replayed = httpx.get(url + "/", cookies={"pdtrail_desk": session["value"]}, follow_redirects=False)
        assert replayed.status_code == 303 and replayed.headers["location"] == "/login"
        browser.close()

    data = saved.read_bytes()
    assert data.startswith(b"%PDF")
    text = _flat(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages))
    assert f"{subject.personnummer[:8]}-{subject.personnummer[8:]}" in text
    assert reference in text
