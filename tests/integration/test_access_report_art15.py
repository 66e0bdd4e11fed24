"""The access report holds everything GDPR Art. 15 asks for, in words a data subject reads, in both
languages: made from a stream emitted through the SDK and consumed into the store, read back from the PDF."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Table

from pdtrail.config import load_settings
from pdtrail.consumers import AuditConsumer
from pdtrail.producers import AuditEmitter, Pseudonymiser
from pdtrail.queries import LocalQueries, RetentionRules, SubjectLineage
from pdtrail.queries._labels import RIGHTS, SUPERVISORY_AUTHORITY, say
from pdtrail.queries._report_pdf import _LINKS, laid_out
from pdtrail.queries._report_text import COLUMNS, GRAPH_SV, PERIOD_SV, TEXT, VALUES
from pdtrail.queries.reports import access_report
from pdtrail.schemas import CreditCheckPerformed, load_register
from pdtrail.simulate import simulate_company
from tests.conftest import SECRET, SIGNING_KEY

REGISTER = load_register()
_WORD = re.compile(r"[^\W\d_]{3,}")  # a word of three letters or more, any alphabet


@pytest.fixture(scope="module")
def report(kafka_broker: object, store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The access report of a subject who had a credit check, from a consumed stream of a small company."""
    from pdtrail.infra import apply_migrations, ensure_topics
    from pdtrail.store import connect

    name = uuid.uuid4().hex[:10]
    settings = load_settings(
        home=tmp_path_factory.mktemp("home"),
        kafka={"bootstrap_servers": kafka_broker.bootstrap_servers,  # type: ignore[attr-defined]
               "topic": f"events-{name}", "dead_letter_topic": f"events-{name}.dlq", "group_id": f"ingest-{name}"},
        store={"dsn": f"chdb://{store_dir}", "database": f"t_{name}"},
        pseudonym={"secret": SECRET}, consumer={"linger_s": 0.2, "drain_idle_s": 10},
        integrity={"signing_key": SIGNING_KEY, "checkpoint_topic": f"checkpoints-{name}"},
    )  # fmt: skip
    ensure_topics(settings)
    client = connect(settings)
    apply_migrations(client)
    journeys = list(simulate_company(8, seed=57))
    with AuditEmitter(settings) as emitter:
        for _, event in journeys:
            emitter.emit(event)
        assert emitter.flush(60) == 0
    AuditConsumer(settings, client).run(drain=True)
    subject = next(s for s, e in journeys if isinstance(e, CreditCheckPerformed))
    lineage = SubjectLineage(LocalQueries(client), Pseudonymiser.from_settings(settings))
    document = access_report(lineage, subject.personnummer, rules=RetentionRules.from_register())
    assert len(document["events"]) == sum(1 for s, _ in journeys if s is subject)
    yield document


def _pdf_text(pdf: bytes) -> str:
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split())


def _cells(flowables: list[Flowable]) -> Iterator[Paragraph]:
    for flowable in flowables:
        if isinstance(flowable, KeepTogether):
            yield from _cells(flowable._content)
        elif isinstance(flowable, Table):
            # A cell holds its flowables as a sequence (reportlab's _ExpandedCellTuple).
            for row in flowable._cellvalues:
                for cell in row:
                    held = cell if isinstance(cell, list | tuple) else [cell]
                    yield from (f for f in held if isinstance(f, Paragraph))


@pytest.mark.parametrize("lang", ["en", "sv"])
def test_the_access_report_holds_every_art15_item_in_plain_words(report: dict[str, Any], lang: str) -> None:
    pdf, _ = laid_out(report, lang)
    text = _pdf_text(pdf)
    labels = report["labels"]
    controller, dpo = REGISTER.controller, REGISTER.dpo
    # Who is responsible, and how to reach them and their DPO (Art. 13(1)(a)-(b), as Art. 15 answers repeat).
    for contact in (controller.name, controller.email, controller.address, dpo.name, dpo.email, dpo.phone):
        assert contact in text
    used = {p["purpose"] for p in report["purposes"]}
    assert "pre_contract.checks" in used  # the subject had a credit check
    for code in used:
        entry = REGISTER.purposes[code]
        assert say(labels, "purposes", code, lang) in text  # (a) the purpose
        for basis in entry.legal_bases:  # its legal bases
            assert say(labels, "legal_bases", basis.value, lang) in text
        for category in entry.categories:  # (b) the categories
            assert say(labels, "categories", category, lang) in text
        for recipient in entry.recipients:  # (c) the recipients, with their country
            shown = REGISTER.recipients[recipient]
            assert f"{say(labels, 'recipients', recipient, lang)}: {shown.name} ({shown.country})" in text
        for source in entry.sources:  # (g) where the data came from
            assert f"{say(labels, 'sources', source, lang)}: {REGISTER.sources[source].name}" in text
    retention = {"en": "1 year", "sv": "1 år"}[lang]  # (d) how long: pre_contract.checks keeps data a year
    assert retention in text
    for right in RIGHTS:  # (e) the rights
        assert say(labels, "rights", right, lang) in text
    for detail in SUPERVISORY_AUTHORITY.values():  # (f) the right to complain to IMY, and how to reach it
        assert detail in text
    decision = REGISTER.purposes["pre_contract.checks"]  # (h) the automated decision
    assert (decision.automated_decision if lang == "en" else decision.automated_decision_sv) in text
    heading = {"en": "Automated decision-making", "sv": "Automatiserat beslutsfattande"}[lang]
    assert heading in text
    # Codes give way to words: no purpose, legal basis, category, source or event type as a code (an
    # actor's role, e.g. customer_service, is the employee's job title and stays as recorded).
    codes = ["legitimate_interests", "legal_obligation", "contact_details", "data_subject", "personal_data.shared"]
    for code in [*(c for c in used if c not in REGISTER.roles), *codes]:
        assert code not in text


@pytest.mark.parametrize("lang", ["en", "sv"])
def test_no_table_cell_splits_a_word_or_runs_past_its_column(report: dict[str, Any], lang: str) -> None:
    pdf, story = laid_out(report, lang)
    cells = list(_cells(story))
    assert len(cells) > 50
    for cell in cells:
        wrapped = cell.blPara  # set when the table was laid out on the page
        assert wrapped.kind == 0
        words = [w for _, line in wrapped.lines for w in line]
        assert words == cell.text.split(), f"{cell.text!r} was broken inside a word: {wrapped.lines}"
        assert all(space >= -0.5 for space, _ in wrapped.lines), f"{cell.text!r} runs past its column"
    # And read back from the PDF: every word on the page is a whole word of the report or its headings.
    known = set(_WORD.findall(repr([report, TEXT, COLUMNS, VALUES, GRAPH_SV, PERIOD_SV, _LINKS]))) | {"UTC"}
    fragments = sorted({w for w in _WORD.findall(_pdf_text(pdf)) if w not in known})
    assert not fragments, f"pieces of words in the PDF: {fragments[:20]}"
