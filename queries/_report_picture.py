"""The lineage picture: sources → purposes → recipients in three columns, as a vector drawing.

One drawing serves both outputs: embedded as vector graphics in the PDF, and as SVG for the web UI.
Boxes grow to hold their text (wrapped on words, never cut); a purpose box lists every legal basis
its events rested on; an edge may carry its label: the categories that flowed and how many times.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reportlab.graphics import renderSVG
from reportlab.graphics.shapes import Drawing, Line, Polygon, Rect, String
from reportlab.lib import colors
from reportlab.pdfbase.pdfmetrics import stringWidth

from pdtrail.queries._labels import say
from pdtrail.queries._report_text import value

WIDTH = 500  # the PDF's picture; the web's is wider, to leave room for the edges' labels
_BOX_W, _GAP, _TOP, _PAD = 150, 12, 30, 5
_LABEL, _DETAIL, _EDGE = 8.0, 6.5, 6.5  # font sizes
_FILL = {"source": "#e3f0fb", "purpose": "#fdf3d8", "recipient": "#e5f5e3"}
Labels = dict[str, dict[str, dict[str, str]]]


def _wrap(text: str, size: float, width: float, font: str = "Helvetica") -> list[str]:
    """``text`` in lines no wider than ``width``, broken between words only."""
    lines: list[str] = []
    for word in text.split():
        if lines and stringWidth(f"{lines[-1]} {word}", font, size) <= width:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return lines or [""]


def _node_text(node: dict[str, Any], say_word: Any, labels: Labels | None, lang: str) -> tuple[list[str], list[str]]:
    inner = _BOX_W - 2 * _PAD
    if node["kind"] == "purpose":
        title = say(labels, "purposes", node["label"], lang) if labels else node["label"]
        bases = node.get("legal_bases") or [b for b in node.get("detail", "").split(", ") if b]
        shown = [say(labels, "legal_bases", b, lang) if labels else b for b in bases]
        detail = [line for basis in shown for line in _wrap(basis, _DETAIL, inner)]
    else:
        title = say_word(node["label"])
        shown = node.get("detail", "")
        if labels and shown:  # a kind of source or a recipient's role: the fixed words for it
            shown = value(say(labels, "collection_sources", shown, lang), lang)
        detail = _wrap(say_word(shown), _DETAIL, inner) if shown else []
    return _wrap(title, _LABEL, inner, "Helvetica-Bold"), detail


def lineage_drawing(graph: dict[str, Any], headings: tuple[str, str, str] = ("Sources", "Purposes", "Recipients"),
                    words: Mapping[str, str] | None = None, *, labels: Labels | None = None, lang: str = "en",
                    edge_labels: bool = False) -> Drawing:  # fmt: skip
    """A drawing of ``graph`` (LineageGraph.as_dict()): one box per node, an arrow per edge. ``words``
    translates the labels the graph itself makes (e.g. "the data subject"); ``labels`` (from the
    register) names purposes, legal bases and categories in plain words; ``edge_labels`` writes on each
    arrow what flowed along it (it widens the picture, to leave the arrows room)."""
    say_word = (lambda t: words.get(t, t)) if words else (lambda t: t)
    gap_x = 200 if edge_labels else (WIDTH - 3 * _BOX_W) / 2
    width = 3 * _BOX_W + 2 * gap_x
    column_x = {"source": 0.0, "purpose": _BOX_W + gap_x, "recipient": 2 * (_BOX_W + gap_x)}
    columns: dict[str, list[tuple[dict[str, Any], list[str], list[str]]]] = {"source": [], "purpose": [],
                                                                              "recipient": []}  # fmt: skip
    for node in graph["nodes"]:
        columns[node["kind"]].append((node, *_node_text(node, say_word, labels, lang)))

    def box_h(title: list[str], detail: list[str]) -> float:
        return 2 * _PAD + len(title) * (_LABEL + 2) + len(detail) * (_DETAIL + 1.5)

    column_h = {k: sum(box_h(t, d) + _GAP for _, t, d in nodes) for k, nodes in columns.items()}
    height = _TOP + max([*column_h.values(), 40.0]) + _GAP
    drawing = Drawing(width, height)
    where: dict[str, tuple[float, float]] = {}
    for (kind, nodes), heading in zip(columns.items(), headings, strict=True):
        x = column_x[kind]
        drawing.add(String(x + _BOX_W / 2, height - 14, heading, fontName="Helvetica-Bold", fontSize=10,
                           textAnchor="middle"))  # fmt: skip
        y_top = height - _TOP - (height - _TOP - _GAP - column_h[kind]) / 2  # centre a short column
        for node, title, detail in nodes:
            h = box_h(title, detail)
            y = y_top - h
            drawing.add(Rect(x, y, _BOX_W, h, rx=4, ry=4, fillColor=colors.HexColor(_FILL[kind]),
                             strokeColor=colors.HexColor("#555555"), strokeWidth=0.6))  # fmt: skip
            line_y = y_top - _PAD - _LABEL
            for line in title:
                drawing.add(String(x + _PAD, line_y, line, fontName="Helvetica-Bold", fontSize=_LABEL))
                line_y -= _LABEL + 2
            for line in detail:
                drawing.add(String(x + _PAD, line_y + 1, line, fontName="Helvetica", fontSize=_DETAIL,
                                   fillColor=colors.HexColor("#444444")))  # fmt: skip
                line_y -= _DETAIL + 1.5
            where[node["id"]] = (x, y + h / 2)
            y_top = y - _GAP
    for edge in graph["edges"]:
        if edge["source"] not in where or edge["target"] not in where:
            continue
        (x1, y1), (x2, y2) = where[edge["source"]], where[edge["target"]]
        x1 += _BOX_W
        drawing.add(Line(x1, y1, x2 - 4, y2, strokeColor=colors.HexColor("#777777"), strokeWidth=0.7))
        drawing.add(Polygon([x2, y2, x2 - 6, y2 + 3, x2 - 6, y2 - 3], fillColor=colors.HexColor("#777777"),
                            strokeColor=None))  # fmt: skip
        if edge_labels:
            categories = edge.get("categories", [])
            cats = say(labels, "categories", categories, lang) if labels else ", ".join(categories)
            times = edge.get("events", 0)
            text = f"{cats} ({times} {'event' if times == 1 else 'events'})" if times else cats
            lines = _wrap(text, _EDGE, gap_x - 30)[:3]
            mid_x, mid_y = (x1 + x2) / 2, (y1 + y2) / 2
            for i, line in enumerate(lines):
                drawing.add(String(mid_x, mid_y + 3 + (len(lines) - 1 - i) * (_EDGE + 1), line,
                                   fontName="Helvetica", fontSize=_EDGE, textAnchor="middle",
                                   fillColor=colors.HexColor("#2b4a6f")))  # fmt: skip
    if not graph["nodes"]:
        drawing.add(String(width / 2, height / 2 - 10, "(no data flows recorded)", fontName="Helvetica",
                           fontSize=9, textAnchor="middle"))  # fmt: skip
    return drawing


def lineage_picture(graph: Any, headings: tuple[str, str, str] = ("Sources", "Purposes", "Recipients"), *,
                    labels: Labels | None = None, lang: str = "en") -> bytes:  # fmt: skip
    """The lineage picture as SVG (UTF-8 bytes), for a web page or a file, its arrows labelled with
    what flowed. ``graph`` is a LineageGraph or its ``as_dict()``; ``labels`` names the codes in words."""
    if hasattr(graph, "as_dict"):
        graph = graph.as_dict()
    svg = renderSVG.drawToString(lineage_drawing(graph, headings, labels=labels, lang=lang, edge_labels=True))
    return svg.encode() if isinstance(svg, str) else bytes(svg)
