"""The lineage graph of one subject: sources → purposes → recipients, built from the aggregated flows."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from pdtrail.queries._event_types import source_types
from pdtrail.queries._runner import QueryResult, to_json_value

_CREDIT_CHECK = "credit_check.performed"
_SHARED = "personal_data.shared"
_SOURCE_LABELS = {
    "data_subject": "the data subject",
    "service_usage": "use of the service",
    "third_party_lead": "a lead from a third party",
    "public_register": "a public register",
    "credit_bureau": "a credit bureau",
}


@dataclass
class Node:
    id: str
    kind: str  # source | purpose | recipient
    label: str
    detail: str = ""
    legal_bases: list[str] = field(default_factory=list)  # of a purpose: every basis its events rested on


@dataclass
class Edge:
    source: str
    target: str
    categories: list[str] = field(default_factory=list)
    events: int = 0
    first_at: dt.datetime | None = None
    last_at: dt.datetime | None = None


@dataclass
class LineageGraph:
    """Nodes of three kinds and the edges between them; an unknown subject has an empty graph."""

    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Node]:
        return [n for n in self.nodes if n.kind == kind]

    def as_dict(self) -> dict[str, Any]:
        return {
            "nodes": [asdict(n) for n in self.nodes],
            "edges": [{k: to_json_value(v) for k, v in asdict(e).items()} for e in self.edges],
        }


def _party(row: dict[str, Any]) -> str:
    return f"{row['party_name']} ({row['party_country']})" if row["party_country"] else row["party_name"]


def build_graph(flows: QueryResult) -> LineageGraph:
    """From the lineage_edges query: a source node per organisation (or kind of source) the data came
    from, credit bureaus included; a purpose node per purpose; a recipient node per organisation the
    data was shared with. Edges merge flows between the same two nodes."""
    nodes: dict[str, Node] = {}
    edges: dict[tuple[str, str], Edge] = {}
    sources = set(source_types()) | {_CREDIT_CHECK}

    def edge(a: str, b: str, row: dict[str, Any]) -> None:
        e = edges.setdefault((a, b), Edge(a, b))
        e.categories = sorted(set(e.categories) | set(row["data_categories"]))
        e.events += int(row["events"])
        e.first_at = min(filter(None, (e.first_at, row["first_at"])))
        e.last_at = max(filter(None, (e.last_at, row["last_at"])))

    for row in flows.as_dicts():
        purpose = f"purpose:{row['purpose']}"
        node = nodes.setdefault(purpose, Node(purpose, "purpose", row["purpose"]))
        # A purpose's flows come in one row per event type and party: its bases are the union of all of them.
        node.legal_bases = sorted(set(node.legal_bases) | set(row["legal_bases"]))
        node.detail = ", ".join(node.legal_bases)
        if row["event_type"] in sources:
            label = _party(row) if row["party_name"] else _SOURCE_LABELS.get(row["collection_source"], "")
            label = label or row["event_type"]
            detail = "credit bureau" if row["event_type"] == _CREDIT_CHECK else row["collection_source"]
            source = f"source:{label}"
            nodes.setdefault(source, Node(source, "source", label, detail))
            edge(source, purpose, row)
        elif row["event_type"] == _SHARED:
            recipient = f"recipient:{_party(row)}"
            nodes.setdefault(recipient, Node(recipient, "recipient", _party(row), row["party_role"]))
            edge(purpose, recipient, row)
    order = {"source": 0, "purpose": 1, "recipient": 2}
    ranked = sorted(nodes.values(), key=lambda n: (order[n.kind], n.label))
    return LineageGraph(ranked, sorted(edges.values(), key=lambda e: (e.source, e.target)))
