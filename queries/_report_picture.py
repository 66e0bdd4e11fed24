"""The lineage picture: sources → purposes → recipients in three columns, as a vector drawing.

One drawing serves both outputs: embedded as vector graphics in the PDF, and as SVG for the web UI.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reportlab.graphics import renderSVG
from reportlab.graphics.shapes import Drawing, Line, Polygon, Rect, String
from reportlab.lib import colors

WIDTH = 500
_BOX_W, _BOX_H, _GAP, _TOP = 150, 26, 12, 30
_FILL = {"source": "#e3f0fb", "purpose": "#fdf3d8", "recipient": "#e5f5e3"}
_COLUMN_X = {"source": 0, "purpose": (WIDTH - _BOX_W) / 2, "recipient": WIDTH - _BOX_W}


def _fit(text: str, size: float, width: float) -> str:
    # Helvetica averages about half an em per character; cut long labels rather than overflow the box.
    room = int(width / (size * 0.5))
    return text if len(text) <= room else text[: room - 1] + "…"


def lineage_drawing(graph: dict[str, Any], headings: tuple[str, str, str] = ("Sources", "Purposes", "Recipients"),
                    words: Mapping[str, str] | None = None) -> Drawing:  # fmt: skip
    """A drawing of ``graph`` (LineageGraph.as_dict()): one box per node, an arrow per edge. ``words``
    translates the labels the graph itself makes (e.g. "the data subject"); the log's own are kept."""
    say = (lambda t: words.get(t, t)) if words else (lambda t: t)
    columns: dict[str, list[dict[str, Any]]] = {"source": [], "purpose": [], "recipient": []}
    for node in graph["nodes"]:
        columns[node["kind"]].append(node)
    rows = max((len(c) for c in columns.values()), default=0) or 1
    height = _TOP + rows * (_BOX_H + _GAP) + _GAP
    drawing = Drawing(WIDTH, height)
    where: dict[str, tuple[float, float]] = {}
    for (kind, nodes), heading in zip(columns.items(), headings, strict=True):
        x = _COLUMN_X[kind]
        drawing.add(String(x + _BOX_W / 2, height - 14, heading, fontName="Helvetica-Bold", fontSize=10,
                           textAnchor="middle"))  # fmt: skip
        offset = (rows - len(nodes)) * (_BOX_H + _GAP) / 2  # centre a short column
        for i, node in enumerate(nodes):
            y = height - _TOP - offset - (i + 1) * (_BOX_H + _GAP) + _GAP
            drawing.add(Rect(x, y, _BOX_W, _BOX_H, rx=4, ry=4, fillColor=colors.HexColor(_FILL[kind]),
                             strokeColor=colors.HexColor("#555555"), strokeWidth=0.6))  # fmt: skip
            drawing.add(
                String(x + 5, y + 15, _fit(say(node["label"]), 8, _BOX_W - 10), fontName="Helvetica", fontSize=8)
            )
            if node.get("detail"):
                drawing.add(String(x + 5, y + 5, _fit(say(node["detail"]), 6, _BOX_W - 10), fontName="Helvetica",
                                   fontSize=6, fillColor=colors.HexColor("#555555")))  # fmt: skip
            where[node["id"]] = (x, y + _BOX_H / 2)
    for edge in graph["edges"]:
        if edge["source"] not in where or edge["target"] not in where:
            continue
        (x1, y1), (x2, y2) = where[edge["source"]], where[edge["target"]]
        x1 += _BOX_W
        drawing.add(Line(x1, y1, x2 - 4, y2, strokeColor=colors.HexColor("#777777"), strokeWidth=0.7))
        drawing.add(Polygon([x2, y2, x2 - 6, y2 + 3, x2 - 6, y2 - 3], fillColor=colors.HexColor("#777777"),
                            strokeColor=None))  # fmt: skip
    if not graph["nodes"]:
        drawing.add(String(WIDTH / 2, height / 2 - 10, "(no data flows recorded)", fontName="Helvetica",
                           fontSize=9, textAnchor="middle"))  # fmt: skip
    return drawing


def lineage_picture(graph: Any, headings: tuple[str, str, str] = ("Sources", "Purposes", "Recipients")
                    ) -> bytes:  # fmt: skip
    """The lineage picture as SVG (UTF-8 bytes), for a web page or a file. ``graph`` is a
    LineageGraph or its ``as_dict()``."""
    if hasattr(graph, "as_dict"):
        graph = graph.as_dict()
    svg = renderSVG.drawToString(lineage_drawing(graph, headings))
    return svg.encode() if isinstance(svg, str) else bytes(svg)
