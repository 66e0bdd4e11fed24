"""The report builders, the PDF and the picture, on results shaped like the store's (no services)."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest
from pypdf import PdfReader

from pdtrail.producers import Pseudonymiser
from pdtrail.queries import (
    InvalidQueryParameterError,
    QueryResult,
    RetentionRules,
    SubjectLineage,
    load_sql,
    query_names,
    record_lookup,
)
from pdtrail.queries._graph import build_graph
from pdtrail.queries._report_data import findings_for, recipients
from pdtrail.queries._retention import retention_rows
from pdtrail.queries.reports import lineage_picture, render_pdf

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def _flows() -> QueryResult:
    columns = ["event_type", "purpose", "collection_source", "party_name", "party_country", "party_role",
               "legal_bases", "data_categories", "events", "first_at", "last_at"]  # fmt: skip
    rows = [
        ("personal_data.collected", "booking.handling", "data_subject", "", "", "", ["contract"], ["name"], 1, T0, T0),
        ("credit_check.performed", "credit_assessment", "", "Kreditkollen AB", "SE", "", ["legitimate_interests"],
         ["credit_report"], 2, T0, T0 + dt.timedelta(days=3)),
        ("personal_data.shared", "payment", "", "Betalväxeln AB", "SE", "processor", ["contract"],
         ["name", "payment_information"], 1, T0, T0),
        ("personal_data.shared", "payment", "", "Betalväxeln AB", "SE", "processor", ["contract"],
         ["contact_details"], 1, T0 + dt.timedelta(days=1), T0 + dt.timedelta(days=1)),
        ("personal_data.accessed", "customer_service", "", "", "", "", ["contract"], ["name"], 4, T0, T0),
    ]  # fmt: skip
    return QueryResult(columns, [], rows)


def _report(kind: str = "access") -> dict[str, Any]:
    graph = build_graph(_flows()).as_dict()
    shared = QueryResult(
        ["occurred_at", "recipient", "recipient_org_no", "recipient_country", "recipient_role", "purpose",
         "legal_basis", "data_categories"],
        [], [(T0, "Betalväxeln AB", "559197-0784", "SE", "processor", "payment", "contract", ["name"])],
    )  # fmt: skip
    report: dict[str, Any] = {
        "report": kind,
        "generated_at": T0.isoformat(),
        "subject": {"kind": "personnummer", "identifier": "19620117-6176"},
        "period": {"since": None, "until": None},
        "purposes": [{"purpose": "payment", "legal_bases": ["contract"], "data_categories": ["name"],
                      "first_at": T0.isoformat(), "last_at": T0.isoformat(), "events": 1}],
        "categories": ["name"],
        "recipients": recipients(shared),
        "retention": [{"purpose": "payment", "category": "name", "last_processed": T0.isoformat(),
                       "retention_days": 30, "due_at": None, "status": "overdue"}],
        "sources": [], "credit_checks": [], "consent": [], "accesses": [], "events": [],
        "lineage": graph, "truncated": [],
        "findings": {"available": False, "items": [], "note": "findings not available in this version of pdtrail"},
        "integrity": {"how": ["pdtrail verify --since a --until b"], "checked": None, "note": "not checked here"},
        "reference": "IMY-1",
    }  # fmt: skip
    return json.loads(json.dumps(report))  # exactly what a JSON report file holds


def _text(pdf: bytes) -> str:
    return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())


def test_graph_merges_flows_into_sources_purposes_and_recipients() -> None:
    graph = build_graph(_flows())
    assert [n.label for n in graph.of_kind("source")] == ["Kreditkollen AB (SE)", "the data subject"]
    assert [n.label for n in graph.of_kind("recipient")] == ["Betalväxeln AB (SE)"]
    assert {n.label for n in graph.of_kind("purpose")} == {"booking.handling", "credit_assessment", "payment",
                                                            "customer_service"}  # fmt: skip
    to_payments = [e for e in graph.edges if e.target == "recipient:Betalväxeln AB (SE)"]
    assert len(to_payments) == 1 and to_payments[0].events == 2
    assert to_payments[0].categories == ["contact_details", "name", "payment_information"]
    assert to_payments[0].last_at == T0 + dt.timedelta(days=1)


def test_picture_is_svg_with_every_node() -> None:
    graph = build_graph(_flows())
    svg = lineage_picture(graph).decode()
    assert "<svg" in svg and all(n.label in svg for n in graph.nodes)
    empty = lineage_picture({"nodes": [], "edges": []}).decode()
    assert "no data flows recorded" in empty


def test_retention_status_per_category() -> None:
    used = QueryResult(
        ["purpose", "category", "first_processed", "last_processed", "last_ended", "ended_by", "events"], [],
        [("payment", "name", T0, T0, dt.datetime(1970, 1, 1, tzinfo=dt.UTC), "", 1),
         ("payment", "iban", T0, T0, T0 + dt.timedelta(days=2), "data.erased", 1),
         ("marketing", "email", T0, T0, dt.datetime(1970, 1, 1, tzinfo=dt.UTC), "", 1)],
    )  # fmt: skip
    rules = RetentionRules.from_mapping({"payment": dt.timedelta(days=30)})
    early = {r["category"]: r for r in retention_rows(used, rules, T0 + dt.timedelta(days=10)).as_dicts()}
    assert early["name"]["status"] == "retained" and early["name"]["due_at"] == T0 + dt.timedelta(days=30)
    assert early["iban"]["status"] == "erased" and early["iban"]["ended_by"] == "data.erased"
    assert early["email"]["status"] == "not declared"
    late = {r["category"]: r for r in retention_rows(used, rules, T0 + dt.timedelta(days=31)).as_dicts()}
    assert late["name"]["status"] == "overdue"
    unknown = retention_rows(used, RetentionRules(None, note="no register"), T0).as_dicts()
    assert {r["status"] for r in unknown} == {"erased", "unknown"}


@pytest.mark.parametrize(
    ("lang", "headings"),
    [
        ("en", ["Access report (GDPR Art. 15)", "Purposes and legal bases", "Recipients", "Retention", "Data flows"]),
        ("sv", ["Registerutdrag enligt artikel 15 GDPR", "Ändamål och rättslig grund", "Mottagare", "Lagringstid",
                "Dataflöden", "ska redan ha gallrats"]),
    ],
)  # fmt: skip
def test_access_report_pdf_has_the_headings_and_the_recipients(lang: str, headings: list[str]) -> None:
    text = _text(render_pdf(_report(), lang=lang))
    for heading in headings:
        assert heading in text
    assert "Betalväxeln AB" in text and "19620117-6176" in text and "payment" in text
    assert ("den registrerade" in text) == (lang == "sv")  # the graph's own label, translated


def test_complaint_pdf_says_when_findings_and_integrity_are_not_available() -> None:
    text = _text(render_pdf(_report("complaint"), lang="sv"))
    assert "Yttrande över klagomål" in text and "Diarienummer: IMY-1" in text
    assert "findings not available" in text and "pdtrail verify --since a --until b" in text
    assert "Loggens integritet" in text


def test_render_refuses_unknown_language_and_report() -> None:
    with pytest.raises(InvalidQueryParameterError) as caught:
        render_pdf(_report(), lang="de")
    assert caught.value.parameter == "lang"
    with pytest.raises(InvalidQueryParameterError):
        render_pdf({**_report(), "report": "gossip"})


def test_findings_guard_reports_absence_plainly(pseudo: Pseudonymiser, monkeypatch: pytest.MonkeyPatch) -> None:
    import pdtrail.queries as queries

    # A pdtrail without the findings queries cannot be produced from this one: take the name away.
    monkeypatch.delattr(queries, "findings")
    found = findings_for(SubjectLineage(None, pseudo), ["k"], None, None)  # type: ignore[arg-type]
    assert found == {"available": False, "items": [], "note": "findings not available in this version of pdtrail"}


def test_every_lineage_query_is_parameterised_and_paged() -> None:
    for name in (n for n in query_names() if not n.startswith("finding_")):
        sql = load_sql(name)
        assert "{since:DateTime64(6, 'UTC')}" in sql and "{limit:UInt32}" in sql and "{offset:UInt64}" in sql


def test_record_lookup_refuses_bad_purpose_and_actor_before_sending(isolated_env: object) -> None:
    from pdtrail.config import load_settings

    settings = load_settings(pseudonym={"secret": "s" * 40})
    with pytest.raises(InvalidQueryParameterError) as caught:
        record_lookup(settings, "dpo-1", "curiosity", "19620117-6176")
    assert caught.value.parameter == "purpose"
    with pytest.raises(InvalidQueryParameterError) as caught:
        record_lookup(settings, "someone@example.org", "dpo.access_request", "19620117-6176")
    assert caught.value.parameter == "actor_id" and "example.org" not in str(caught.value)


def test_every_finding_kind_has_swedish_words() -> None:
    from pdtrail.queries import FINDING_KINDS
    from pdtrail.queries._report_text import FINDINGS_SV

    assert set(FINDINGS_SV) == set(FINDING_KINDS)
