"""The DPO's day in a real headless Chromium: the case list (overdue first), a case whose link outlives a
desk restart, its case reference in the report preview, the findings of the whole log filtered by kind,
and who accessed with the audit log's own lookups apart. Screenshots of the case list and the findings
page are saved under the test's tmp dir (their paths are printed).

The desk runs as ``pdtrail desk`` in a subprocess that owns its embedded store and consumes the test's topic.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from pdtrail.config import Settings
from pdtrail.desk import new_token
from pdtrail.producers import Actor, AuditEmitter
from pdtrail.schemas import RightsRequestReceived, SubjectIdentifier
from pdtrail.simulate import simulate_company, simulate_findings
from tests.conftest import cli_env, free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium package is not installed (infra/setup.sh installs it)"
)
REQUESTS = {"DSR-OVERDUE-OLD": 80, "DSR-OVERDUE-NEW": 45, "DSR-DUE-SOON": 27, "DSR-DUE-LATER": 3}  # days ago


@dataclass
class RunningDesk:
    url: str
    token: str
    env: dict[str, str]
    tmp: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        port = int(self.url.rsplit(":", 1)[1])
        log = (self.tmp / "desk.log").open("a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pdtrail", "desk", "--port", str(port)], env=self.env, stdout=log, stderr=log
        )
        log.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(30)
            self.process = None

    def wait_for_cases(self, timeout_s: float = 120) -> None:
        """Until the desk answers and has consumed every planted request (ingest runs inside it)."""
        headers = {"Authorization": f"Bearer {self.token}"}
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                items = httpx.get(f"{self.url}/api/v1/cases", headers=headers).json()["items"]
                if set(REQUESTS) <= {i["request_id"] for i in items}:
                    return
            except (httpx.HTTPError, KeyError, ValueError):
                pass
            time.sleep(0.5)
        raise AssertionError("the desk did not list the planted rights requests in time")


@pytest.fixture
def running(settings: Settings, tmp_path: Path) -> Iterator[tuple[RunningDesk, list[Any], list[Any]]]:
    from pdtrail.infra import ensure_topics

    ensure_topics(settings)
    journeys = list(simulate_company(30, seed=43))
    planted = [p for p in simulate_findings(journeys) if not p.outside_register]
    events = [e for _, e in journeys] + [p.event for p in planted]
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    subjects = list(dict.fromkeys(s for s, _ in journeys))  # one request per subject
    for (request_id, days), subject in zip(REQUESTS.items(), subjects, strict=False):
        events.append(
            RightsRequestReceived(
                subject=SubjectIdentifier(kind="personnummer", value=subject.personnummer),
                occurred_at=now - dt.timedelta(days=days),
                actor=Actor(type="employee", id="emp-0001", role="dpo"),
                purpose="rights.handling",
                legal_basis="legal_obligation",
                data_categories=("name",),
                source_system="dpo-desk",
                right="access",
                request_id=request_id,
            )
        )
    with AuditEmitter(settings) as emitter:
        for event in events:
            emitter.emit(event)
        assert emitter.flush(30) == 0
    token, entry = new_token("dpo-anna", "dpo")
    env = cli_env(
        settings, tmp_path / "home", tmp_path / "store", PDTRAIL_DESK__TOKENS=json.dumps([entry.model_dump()])
    )
    desk = RunningDesk(f"http://127.0.0.1:{free_port()}", token, env, tmp_path)
    desk.start()
    try:
        desk.wait_for_cases()
        yield desk, journeys, [p for p in planted if p.kind]
    finally:
        desk.stop()


def _sign_in(page: Any, url: str, token: str) -> None:
    page.goto(url + "/login")
    page.fill("#token", token)
    page.click("#sign-in")
    page.wait_for_url(url + "/")


def test_a_dpos_day_cases_findings_and_who_accessed(
    running: tuple[RunningDesk, list[Any], list[Any]], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    desk, journeys, planted = running
    identifiers = {s.personnummer for s, _ in journeys}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        _sign_in(page, desk.url, desk.token)

        # The case list: overdue first, then by deadline, with counts.
        page.click("#nav-cases")
        page.wait_for_url("**/cases")
        order = [r for r in page.locator("#cases tbody tr").evaluate_all("rows => rows.map(r => r.dataset.request)")]
        assert [r for r in order if r in REQUESTS] == [
            "DSR-OVERDUE-OLD",
            "DSR-OVERDUE-NEW",
            "DSR-DUE-SOON",
            "DSR-DUE-LATER",
        ]
        statuses = page.locator("#cases tbody td.status").all_text_contents()
        assert statuses == sorted(statuses, key=lambda s: s != "overdue")
        assert int(page.text_content("#count-overdue") or "") == statuses.count("overdue") >= 2
        assert not any(i in page.content() for i in identifiers)  # keys, masked, never an identifier
        shot = tmp_path / "case-list.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"case list screenshot: {shot}")

        # A case: its request, deadline and status; its case reference feeds the report preview.
        page.locator('tr[data-request="DSR-OVERDUE-NEW"] button.open-case').click()
        page.wait_for_url("**/cases/*?request=DSR-OVERDUE-NEW")
        case_url = page.url
        assert page.text_content("#case-status") == "overdue"
        assert page.text_content("#case-right") == "access"
        assert "pseudonymous key" in (page.text_content("#case-subject") or "")
        assert not any(i in page.content() for i in identifiers)
        page.fill("#case_reference", "IMY-2026-77")
        page.click("#preview-report")
        page.wait_for_url("**/report-preview?*")
        assert page.text_content("#report-reference") == "IMY-2026-77"
        assert page.locator("#preview-dpo-lookups").count() == 1
        assert "audit_log/" not in (page.text_content("#preview-accesses") or "")
        assert "case_reference=IMY-2026-77" in (page.get_attribute("#download-pdf", "href") or "")

        # Who accessed: business accesses by default, the audit log's own lookups apart, with totals. The
        # desk consumes its own lookups while the DPO reads, so each page is checked against its own totals.
        def totals() -> dict[str, int]:
            return {s: int(page.text_content(f"#total-{s}") or "") for s in ("business", "audit_log", "all")}

        def rows() -> list[str]:
            return page.locator("#rows tbody tr").all_text_contents()

        page.goto(case_url)
        page.click("#open-who-accessed")
        page.wait_for_url("**/who_accessed")
        business = totals()
        assert business["all"] == business["business"] + business["audit_log"]
        assert len(rows()) == business["business"] and not any("dpo-anna" in r for r in rows())
        page.click("#scope-audit_log")
        page.wait_for_url("**/who_accessed?scope=audit_log")
        lookups = totals()
        assert lookups["audit_log"] >= 1 and len(rows()) == lookups["audit_log"]
        assert all("dpo-anna" in r for r in rows())
        assert lookups["business"] == business["business"]  # only the DPO's lookups grow meanwhile
        page.click("#scope-all")
        page.wait_for_url("**/who_accessed?scope=all")
        assert len(rows()) == totals()["all"] == totals()["business"] + totals()["audit_log"]

        # The findings of the whole log, with counts per kind, filtered by one kind.
        page.click("#nav-findings")
        page.wait_for_url("**/findings")
        counts = {
            r.get_attribute("data-kind"): int(r.locator("td.count").text_content() or "")
            for r in page.locator("#finding-counts tbody tr").all()
        }
        kind = planted[0].kind
        assert counts[kind] >= 1 and sum(counts.values()) == page.locator("#rows tbody tr").count()
        page.select_option("#kind", kind)
        page.click("#apply-filter")
        page.wait_for_url(f"**/findings?kind={kind}*")
        kinds = set(page.locator("#rows tbody tr").evaluate_all("rows => rows.map(r => r.dataset.kind)"))
        assert kinds == {kind} and page.locator("#rows tbody tr").count() == counts[kind]
        shot = tmp_path / "findings.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"findings screenshot: {shot}")
        page.locator("#rows tbody tr button.open-subject").first.click()
        page.wait_for_url("**/timeline")
        page.click("#tab-findings")
        page.wait_for_url("**/findings")
        assert kind in (page.text_content("#rows") or "")

        # A desk restart: the sessions are gone, the case's sealed link is not.
        desk.stop()
        desk.start()
        desk.wait_for_cases()
        _sign_in(page, desk.url, desk.token)
        page.goto(case_url)
        assert page.text_content("#case-status") == "overdue"
        assert page.text_content("#case-request") == "DSR-OVERDUE-NEW"
        browser.close()
