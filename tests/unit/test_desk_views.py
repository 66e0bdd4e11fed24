"""The desk's timeline view and the lineage picture, on rows shaped like the store's (no services)."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from typing import Any

from pdtrail.desk._timeline_view import build, summary
from pdtrail.queries import QueryResult
from pdtrail.queries._graph import build_graph
from pdtrail.queries._labels import register_labels
from pdtrail.queries.reports import lineage_picture
from pdtrail.schemas import load_register

LABELS = register_labels(load_register())
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def _row(n: int, event_type: str, purpose: str, actor: str, **more: Any) -> dict[str, Any]:
    return {"occurred_at": (T0 + dt.timedelta(minutes=n)).isoformat(), "event_type": event_type, "purpose": purpose,
            "actor_id": actor, "actor_role": "booking", "event_id": f"e{n}", "legal_basis": "contract",
            "data_categories": ["name"], **more}  # fmt: skip


OPERATOR = {"party_name": "Städlaget i Norr AB", "party_country": "SE", "party_role": "processor"}
BOOKKEEPER = {"party_name": "Siffra Redovisning AB", "party_country": "SE", "party_role": "processor"}
ROWS = [
    _row(1, "personal_data.collected", "booking.handling", "web", collection_source="data_subject"),
    _row(2, "personal_data.shared", "booking.handling", "dispatch", **OPERATOR),
    _row(3, "personal_data.accessed", "customer_service", "emp-1", access_kind="view", resource="customer-record"),
    _row(4, "personal_data.shared", "legal_obligation.bookkeeping", "books", **BOOKKEEPER),
]


def _view(**chosen: Any) -> Any:
    settings = {"event_type": "", "purpose": "", "sort": "time", "descending": False, "offset": 0, "size": 100,
                "capped": False, **chosen}  # fmt: skip
    return build(list(ROWS), findings=[{"event_id": "e4", "kind": "unregistered_recipient"}], labels=LABELS,
                 **settings)  # fmt: skip


def test_counts_filters_and_findings_on_their_rows() -> None:
    view = _view()
    assert dict(view.counts) == {"personal_data.shared": 2, "personal_data.collected": 1, "personal_data.accessed": 1}
    assert [r["event_id"] for r in view.rows if r["findings"]] == ["e4"] and view.marked == 1
    shared = _view(event_type="personal_data.shared")
    assert [r["event_id"] for r in shared.rows] == ["e2", "e4"] and shared.total == 2
    booking = _view(purpose="booking.handling")
    assert [r["event_id"] for r in booking.rows] == ["e1", "e2"]
    assert dict(booking.counts) == {"personal_data.collected": 1, "personal_data.shared": 1}  # within the purpose


def test_sorting_and_paging_speak_of_the_whole_period() -> None:
    assert [r["actor_id"] for r in _view(sort="actor").rows] == ["books", "dispatch", "emp-1", "web"]
    assert [r["event_id"] for r in _view(sort="time", descending=True).rows] == ["e4", "e3", "e2", "e1"]
    assert _view(sort="type").rows[0]["event_type"] == "personal_data.accessed"
    second = _view(offset=2, size=2)
    assert [r["event_id"] for r in second.rows] == ["e3", "e4"] and second.shown_from == 3 and second.total == 4
    assert _view(offset=10).rows == []  # past the end: the page says so (the template), not "nothing"


def test_the_summary_fits_the_event_type() -> None:
    assert summary(ROWS[0], LABELS) == "From you"
    assert summary(ROWS[1], LABELS) == "to Städlaget i Norr AB (SE) as processor"
    assert summary(ROWS[2], LABELS) == "view customer-record"


def test_the_picture_labels_its_arrows_and_lists_every_basis_of_a_purpose() -> None:
    columns = ["event_type", "purpose", "collection_source", "party_name", "party_country", "party_role",
               "legal_bases", "data_categories", "events", "first_at", "last_at"]  # fmt: skip
    flows = QueryResult(columns, [], [
        ("personal_data.collected", "contact.offering", "data_subject", "", "", "", ["consent"], ["name"], 2, T0, T0),
        ("personal_data.shared", "contact.offering", "", "Molnverket IT AB", "SE", "processor",
         ["legitimate_interests"], ["contact_details"], 1, T0, T0),
    ])  # fmt: skip
    graph = build_graph(flows)
    purpose = graph.of_kind("purpose")[0]
    assert purpose.legal_bases == ["consent", "legitimate_interests"]  # both, not the first row's only
    svg = lineage_picture(graph, labels=LABELS).decode()
    text = " ".join(unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg))
    assert "Contacting you and offering our services" in text
    assert "Your consent (Art. 6(1)(a))" in text and "Our legitimate interests (Art. 6(1)(f))" in text
    assert "Name (2 events)" in text and "Contact details (1 event)" in text  # the arrows' labels
