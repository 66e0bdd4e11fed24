"""The desk's views as a DPO reads them, in a real headless Chromium: the timeline's columns, counts,
filters, sorting and findings marked on their rows; an error page inside the case; a page past the
end; the lineage picture with its arrows labelled. A screenshot of the timeline is kept for people."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pdtrail.config import Settings
from pdtrail.desk import new_token
from pdtrail.producers import AuditEmitter
from pdtrail.queries._labels import register_labels
from pdtrail.schemas import load_register
from pdtrail.simulate import simulate_company, simulate_findings
from tests.conftest import cli_env, free_port
from tests.e2e.test_desk_browser import _wait_for_events

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium package is not installed (infra/setup.sh installs it)"
)
LABELS = register_labels(load_register())
HEADINGS = ["!", "When", "Event", "Purpose", "Legal basis", "Categories", "Actor", "What happened"]


@pytest.fixture
def desk(settings: Settings, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A running ``pdtrail desk`` over a small company's stream with findings planted on one subject."""
    from pdtrail.infra import ensure_topics

    ensure_topics(settings)
    journeys = list(simulate_company(30, seed=43))  # findings need 30 subjects to plant on
    # Violations and the history they need (a consent withdrawn first: kind ""), all inside the register.
    planted = [p for p in simulate_findings(journeys) if not p.outside_register]
    journeys += [(p.subject, p.event) for p in planted]
    planted = [p for p in planted if p.kind]
    plant = planted[0]
    with AuditEmitter(settings) as emitter:
        for _, event in journeys:
            emitter.emit(event)
        assert emitter.flush(30) == 0
    token, entry = new_token("dpo-views", "dpo")
    port = free_port()
    env = cli_env(
        settings, tmp_path / "home", tmp_path / "store", PDTRAIL_DESK__TOKENS=json.dumps([entry.model_dump()])
    )
    log = (tmp_path / "desk.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "pdtrail", "desk", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    own = [e for s, e in journeys if s.personnummer == plant.subject.personnummer]
    try:
        _wait_for_events(url, token, plant.subject.personnummer, len(own))
        _wait_for_finding(url, token, plant.subject.personnummer, str(plant.event.event_id))
        yield {"url": url, "token": token, "subject": plant.subject, "own": own,
               "planted": [p for p in planted if p.subject.personnummer == plant.subject.personnummer]}  # fmt: skip
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def _wait_for_finding(url: str, token: str, identifier: str, event_id: str, timeout_s: float = 120) -> None:
    """Until the desk has consumed the planted event and finds it (the DPO's own lookups, recorded as
    events too, may fill the timeline's count before the stream's last events are in)."""
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ref = httpx.post(f"{url}/api/v1/subjects", json={"identifier": identifier}, headers=headers).json()
        items = httpx.get(f"{url}/api/v1/subjects/{ref['subject']}/findings", headers=headers).json()["items"]
        if any(item["event_id"] == event_id for item in items):
            return
        time.sleep(0.5)
    raise AssertionError("the desk did not find the planted finding in time")


def _column(page: Any, index: int) -> list[str]:
    return [" ".join(t.split()) for t in page.locator(f"#rows tbody tr td:nth-child({index})").all_text_contents()]


def test_timeline_columns_counts_filters_sorting_and_findings(desk: dict[str, Any], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    own, subject = desk["own"], desk["subject"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.goto(desk["url"] + "/login")
        page.fill("#token", desk["token"])
        page.click("#sign-in")
        page.fill("#identifier", subject.personnummer)
        page.select_option("#purpose", "access_request")
        page.click("#search")
        page.wait_for_url("**/timeline")
        timeline = page.url

        # A handful of columns that every event has, and one that fits each event's type: it fits the page.
        headings = [" ".join(t.split()).rstrip(" ▲▼") for t in page.locator("#rows thead th").all_text_contents()]
        assert headings == HEADINGS
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        shot = tmp_path / "timeline.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"timeline screenshot: {shot}")

        # Counts per event type add up to the rows, and each is the number of rows of that type.
        types = page.locator("#rows tbody tr").evaluate_all("rows => rows.map(r => r.dataset.type)")
        counts = {
            li.get_attribute("data-type"): int(li.locator("xpath=following-sibling::span").text_content() or 0)
            for li in page.locator("#counts a[data-type]").all()
        }
        assert counts == {t: types.count(t) for t in set(types)}
        assert sum(1 for t in types if t != "personal_data.accessed") >= sum(
            1 for e in own if e.type != "personal_data.accessed"
        )
        shared = LABELS["event_types"]["personal_data.shared"]["en"]
        assert shared in page.text_content("#rows")  # in words; the code is the cell's title
        what = _column(page, 8)
        assert any(s.startswith("to ") for s in what)  # a sharing says to whom

        # The planted findings are marked on their own rows, and on no other.
        marked = page.locator("#rows tbody tr.has-finding").evaluate_all("rows => rows.map(r => r.dataset.eventId)")
        assert {str(p.event.event_id) for p in desk["planted"]} <= set(marked)
        plant = desk["planted"][0]
        row = page.locator(f'#rows tbody tr[data-event-id="{plant.event.event_id}"]')
        assert plant.kind.replace("_", " ") in (row.locator(".finding-mark").first.text_content() or "")

        # Filter by event type, then by purpose: only those rows, as many as the count said.
        page.select_option("#filter-type", "personal_data.shared")
        page.click("#apply-filters")
        page.wait_for_url("**type=personal_data.shared**")
        kept = page.locator("#rows tbody tr").evaluate_all("rows => rows.map(r => r.dataset.type)")
        assert kept and set(kept) == {"personal_data.shared"} and len(kept) == counts["personal_data.shared"]
        page.goto(timeline)
        purpose = next(e.purpose for e in own if e.type == "personal_data.collected")
        page.select_option("#filter-purpose", purpose)
        page.click("#apply-filters")
        page.wait_for_url(f"**purpose={purpose}**")
        assert set(_column(page, 4)) == {LABELS["purposes"][purpose]["en"]}

        # Sorting: by actor, then the other way round; by type; by time, newest first.
        page.goto(timeline)
        page.click("#sort-actor")
        page.wait_for_url("**sort=actor**")
        actors = _column(page, 7)
        assert actors == sorted(actors) and len(set(actors)) > 1
        page.click("#sort-actor")
        page.wait_for_url("**order=desc**")
        backwards = _column(page, 7)  # read anew: the DPO's own lookups join the timeline as it is read
        assert backwards == sorted(backwards, reverse=True) and backwards[0] >= actors[-1]
        page.click("#sort-type")
        page.wait_for_url("**sort=type**")
        by_type = page.locator("#rows tbody tr").evaluate_all("rows => rows.map(r => r.dataset.type)")
        assert by_type == sorted(by_type)
        page.click("#sort-time")
        page.wait_for_url("**sort=time**")
        page.click("#sort-time")
        page.wait_for_url("**order=desc**")
        times = _column(page, 2)
        assert times == sorted(times, reverse=True)
        browser.close()


def test_error_pages_keep_the_case_a_page_past_the_end_says_so_and_the_picture_is_labelled(
    desk: dict[str, Any],
) -> None:
    from playwright.sync_api import sync_playwright

    own, subject = desk["own"], desk["subject"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_context().new_page()
        page.goto(desk["url"] + "/login")
        page.fill("#token", desk["token"])
        page.click("#sign-in")
        page.fill("#identifier", subject.personnummer)
        page.click("#search")
        page.wait_for_url("**/timeline")
        case = page.url.rsplit("/", 1)[0]

        # A page that does not exist, and a bad date: the error inside the layout, the case's tabs kept.
        for where, status, words in ((f"{case}/nosuchtab", 404, "nosuchtab"),
                                     (f"{case}/who_accessed?since=yesterday", 422, "not a date")):  # fmt: skip
            answer = page.goto(where)
            assert answer is not None and answer.status == status
            assert words in (page.text_content("#error") or "")
            assert page.locator("#nav-subjects").is_visible() and page.locator("#case-tabs").is_visible()
            assert page.locator("#logout").is_visible()
            page.click("#tab-shared_with")
            page.wait_for_url("**/shared_with")
            assert page.locator("#rows").is_visible()  # one click back into the case

        # A page past the end is not an empty history.
        for tab in ("timeline", "shared_with"):
            page.goto(f"{case}/{tab}?offset=5000")
            assert "past the end" in (page.text_content("#past-end") or "")
            assert page.locator("#empty").count() == 0
            page.click("#first-page")
            assert page.locator("#rows tbody tr").count() > 0

        # Retention: due by the calendar ("1 year" after 29 October is 29 October), overdue rows marked.
        page.goto(f"{case}/retention_status")
        table = page.locator("#rows").evaluate(
            """t => ({head: [...t.tHead.rows[0].cells].map(c => c.textContent.trim()),
                     rows: [...t.tBodies[0].rows].map(r => ({mark: r.dataset.mark || "",
                        cells: [...r.cells].map(c => (c.title || c.textContent).trim())}))})"""
        )
        at = {name: table["head"].index(name) for name in ("Last processed", "Due for erasure", "Status", "Retention")}
        overdue = 0
        for row in table["rows"]:
            cells = row["cells"]
            last, due, period = cells[at["Last processed"]], cells[at["Due for erasure"]], cells[at["Retention"]]
            if due and period.endswith(("year", "years")) and last[5:10] != "02-29":
                years = int(period.split()[0])
                assert due[4:16] == last[4:16] and int(due[:4]) == int(last[:4]) + years, (last, period, due)
            assert (row["mark"] == "overdue") == (cells[at["Status"]] == "overdue")
            overdue += row["mark"] == "overdue"
        assert overdue  # the stream is years old: some of it is past its period

        # The lineage picture: labelled arrows, and a purpose lists every legal basis its events rested on.
        page.goto(f"{case}/lineage")
        assert page.locator("#lineage-picture").evaluate("img => img.complete && img.naturalWidth > 700")
        svg_text = page.request.get(f"{case}/lineage.picture").text()
        svg = " ".join(html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg_text))  # in order
        flows = {(e.purpose, e.legal_basis.value) for e in own if e.type in ("personal_data.collected",
                                                                             "personal_data.shared")}  # fmt: skip
        for purpose, basis in flows:
            assert LABELS["legal_bases"][basis]["en"].split(" (")[0] in svg, (purpose, basis)
        shared = next(e for e in own if e.type == "personal_data.shared")
        assert "events)" in svg or "event)" in svg  # an arrow says how many times data went along it
        assert LABELS["categories"][shared.data_categories[0]]["en"] in svg
        browser.close()
