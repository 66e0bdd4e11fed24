"""A report dict as a PDF for people: headings in English or Swedish, tables, the lineage picture."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from pdtrail.queries._labels import say
from pdtrail.queries._report_pdf_art15 import BODY, CELL, HEAD, SECTIONS, art15_section, cell
from pdtrail.queries._report_picture import lineage_drawing
from pdtrail.queries._report_text import GRAPH_SV, LANGS, column, finding_kind, period, text, value
from pdtrail.queries.exceptions import InvalidQueryParameterError

_STYLES = getSampleStyleSheet()
_CELL, _HEAD, _BODY = CELL, HEAD, BODY
_MONO = ParagraphStyle("mono", parent=_BODY, fontName="Courier", fontSize=7.5, leading=9.5)
_WIDTH = A4[0] - 30 * mm


def _when(value: Any) -> str:
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        return dt.datetime.fromisoformat(value).astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")
    return _plain(value)


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _party(row: dict[str, Any], prefix: str) -> str:
    name = row.get(prefix, "") or ""
    extra = " ".join(x for x in (row.get(f"{prefix}_country", ""), row.get(f"{prefix}_org_no", "")) if x)
    return f"{name} ({extra})" if name and extra else name


_LINKS = {
    "from": {"en": "from", "sv": "från"}, "by": {"en": "by", "sv": "av"}, "to": {"en": "to", "sv": "till"},
    "as": {"en": "as", "sv": "som"}, "at": {"en": "at", "sv": "hos"}, "ref": {"en": "ref", "sv": "ref"},
}  # fmt: skip


def _detail(row: dict[str, Any], lang: str = "en") -> str:
    """One phrase for the type-specific columns of a timeline row, in ``lang``."""

    def w(word: str) -> str:
        return _LINKS[word][lang]

    kind = row.get("event_type", "")
    party = _party({"p": row.get("party_name"), "p_country": row.get("party_country"),
                    "p_org_no": row.get("party_org_no")}, "p")  # fmt: skip
    if kind == "personal_data.collected":
        source = say(_LABELS.get(), "collection_sources", row.get("collection_source", ""), lang)
        return source + (f": {party}" if party else "")
    if kind == "personal_data.accessed":
        return f"{row.get('access_kind', '')} {row.get('resource', '')} {w('by')} {row.get('actor_id', '')}"
    if kind == "personal_data.shared":
        return f"{w('to')} {party} {w('as')} {value(row.get('party_role', ''), lang)}"
    if kind == "credit_check.performed":
        outcome = f", {row['outcome']}" if row.get("outcome") else ""
        return f"{w('at')} {party}, {w('ref')} {row.get('reference', '')}{outcome}"
    fields = ("gdpr_right", "action", "outcome", "reference", "reason")
    bits = [party, *(str(row.get(f) or "") for f in fields), f"{w('by')} {row.get('actor_id', '')}"]
    return ", ".join(b for b in bits if b)


_COMPUTED = {"status", "state", "role"}  # columns the report computes, in the report's language


class _Say:
    """A cell shown by its plain-language label (``kind`` of code: purposes, categories, legal_bases)."""

    def __init__(self, kind: str, field: str) -> None:
        self.kind, self.field = kind, field

    def __call__(self, row: dict[str, Any]) -> str:
        return _plain(row.get(self.field))


# The labels of the report being rendered (render_pdf sets them): a context variable, as the desk
# renders reports for several DPOs at once on its worker threads.
_LABELS: ContextVar[dict[str, Any] | None] = ContextVar("report_labels", default=None)


def _shown(key: str, show: Callable[[dict[str, Any]], str], row: dict[str, Any], lang: str) -> str:
    if isinstance(show, _Say):
        return say(_LABELS.get(), show.kind, row.get(show.field), lang)
    if show is _detail:
        return _detail(row, lang)
    if key == "retention" and row.get("retention"):
        return period(str(row["retention"]), lang)
    if key in _COMPUTED:
        return value(show(row), lang)
    if key == "kind" and "detail" in row and "event_id" in row:  # a finding: its kind in words
        return finding_kind(row, lang)
    return show(row)


Cell = Callable[[dict[str, Any]], str]


def _table(rows: Sequence[dict[str, Any]], spec: Sequence[tuple[str, Cell, float]], lang: str) -> Flowable:
    """A table with one row per dict; ``spec`` gives (column key, how to show it, share of the width)."""
    if not rows:
        return Paragraph(escape(text("none", lang)), _BODY)
    head = [Paragraph(escape(column(key, lang)), _HEAD) for key, _, _ in spec]
    body = [[cell(_shown(key, show, row, lang), _WIDTH * share) for key, show, share in spec] for row in rows]
    table = Table([head, *body], colWidths=[_WIDTH * share for _, _, share in spec], repeatRows=1)
    table.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
        ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.HexColor("#888888")),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f7f7f7")]),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]))  # fmt: skip
    return table


def _get(key: str) -> Cell:
    return lambda row: _plain(row.get(key))


def _purpose(key: str = "purpose") -> Cell:
    return _Say("purposes", key)


def _basis(key: str = "legal_basis") -> Cell:
    return _Say("legal_bases", key)


def _cats(key: str = "data_categories") -> Cell:
    return _Say("categories", key)


def _at(key: str) -> Cell:
    return lambda row: _when(row.get(key))


_SECTIONS: dict[str, list[tuple[str, Cell, float]]] = {
    "purposes": [("purpose", _purpose(), 0.22), ("legal_bases", _basis("legal_bases"), 0.16),
                 ("data_categories", _cats(), 0.34), ("first_at", _at("first_at"), 0.1),
                 ("last_at", _at("last_at"), 0.1), ("events", _get("events"), 0.08)],
    "recipients": [("recipient", lambda r: _party(r, "recipient"), 0.22),
                   ("role", _get("role"), 0.14), ("purposes", _purpose("purposes"), 0.17),
                   ("legal_bases", _basis("legal_bases"), 0.13), ("categories", _cats("categories"), 0.16),
                   ("first_at", _at("first_at"), 0.09), ("last_at", _at("last_at"), 0.09)],
    "retention": [("purpose", _purpose(), 0.2), ("category", _cats("category"), 0.16),
                  ("last_processed", _at("last_processed"), 0.14), ("retention", _get("retention"), 0.12),
                  ("due_at", _at("due_at"), 0.14), ("status", _get("status"), 0.24)],
    "sources": [("occurred_at", _at("occurred_at"), 0.13), ("source", _Say("collection_sources", "collection_source"),
                                                             0.14),
                ("source_party", lambda r: _party(r, "source_party") or "-", 0.25), ("purpose", _purpose(), 0.16),
                ("data_categories", _cats(), 0.32)],
    "credit_checks": [("occurred_at", _at("occurred_at"), 0.13), ("bureau", lambda r: _party(r, "bureau"), 0.27),
                      ("reference", _get("reference"), 0.13), ("outcome", _get("outcome"), 0.11),
                      ("purpose", _purpose(), 0.14), ("legal_basis", _basis(), 0.22)],
    "consent": [("purpose", _purpose(), 0.4), ("state", _get("state"), 0.2),
                ("changed_at", _at("changed_at"), 0.4)],
    "accesses": [("occurred_at", _at("occurred_at"), 0.13), ("actor", lambda r: f"{r['actor_id']} ({r['actor_role']})",
                                                              0.19),
                 ("access_kind", lambda r: f"{r['access_kind']} {r['resource']}", 0.18),
                 ("purpose", _purpose(), 0.16), ("legal_basis", _basis(), 0.12),
                 ("data_categories", _cats(), 0.22)],
    "dpo_lookups": [("purpose", _purpose(), 0.4), ("times", _get("times"), 0.2),
                    ("first_at", _at("first_at"), 0.2), ("last_at", _at("last_at"), 0.2)],
    "events": [("occurred_at", _at("occurred_at"), 0.12), ("event_type", _Say("event_types", "event_type"), 0.19),
               ("purpose", _purpose(), 0.15), ("legal_basis", _basis(), 0.12),
               ("data_categories", _cats(), 0.19), ("detail", _detail, 0.23)],
    "findings": [("occurred_at", _at("occurred_at"), 0.13),
                 ("kind", _get("kind"), 0.25),
                 ("purpose", _purpose(), 0.15), ("actor", _get("actor_id"), 0.12),
                 ("detail", _get("detail"), 0.35)],
}  # fmt: skip
_ORDER = {
    "access": ["controller", "register_purposes", "purposes", "categories", "recipients", "retention", "sources",
               "automated", "rights", "complaint", "credit_checks", "consent", "lineage", "accesses", "dpo_lookups",
               "events"],
    "complaint": ["events", "purposes", "recipients", "accesses", "credit_checks", "consent", "findings",
                  "lineage", "integrity"],
}  # fmt: skip


def _heading(title: str) -> Paragraph:
    return Paragraph(escape(title), _STYLES["Heading2"])


def _section(name: str, report: dict[str, Any], lang: str) -> list[Flowable]:
    if name in SECTIONS:
        return art15_section(name, report, lang, _WIDTH)
    title = text("timeline" if name == "events" and report["report"] == "complaint" else name, lang)
    if name == "purposes" and "register_purposes" in report:  # the declared purposes come first
        title = text("purposes_in_log", lang)
    if name == "categories":
        shown = say(report.get("labels"), "categories", report["categories"], lang)
        body: Flowable = Paragraph(escape(shown or text("none", lang)), _BODY)
    elif name == "lineage":
        headings = tuple(text("picture_headings", lang).split("|"))
        drawing = lineage_drawing(
            report["lineage"], headings, GRAPH_SV if lang == "sv" else None, labels=report.get("labels"), lang=lang
        )
        scale = min(1.0, _WIDTH / drawing.width)
        scaled = Drawing(drawing.width * scale, drawing.height * scale)
        scaled.add(drawing)
        scaled.scale(scale, scale)
        body = scaled
    elif name == "findings":
        findings = report["findings"]
        if not findings["available"]:
            body = Paragraph(escape(findings["note"]), _BODY)
        elif not findings["items"]:
            body = Paragraph(escape(text("no_findings", lang)), _BODY)
        else:
            body = _table(findings["items"], _SECTIONS["findings"], lang)
    elif name == "integrity":
        return [_heading(title), *_integrity(report["integrity"], lang)]
    elif name == "retention":
        parts = [_table(report["retention"], _SECTIONS["retention"], lang)]
        if report.get("retention_note"):
            parts.append(Paragraph(escape(report["retention_note"]), _CELL))
        return [_heading(title), *parts]
    else:
        body = _table(report.get(name, []), _SECTIONS[name], lang)
    return [KeepTogether([_heading(title), body])] if not isinstance(body, Table) else [_heading(title), body]


def _integrity(section: dict[str, Any], lang: str) -> list[Flowable]:
    parts: list[Flowable] = [Paragraph(escape(text("how_verify", lang)), _BODY)]
    parts += [Paragraph(escape(line), _MONO) for line in section["how"]]
    checked = section.get("checked")
    if checked:
        state = text("intact" if checked["ok"] else "not_intact", lang)
        summary = (f"{text('verify_result', lang)}: {state}: {checked['checkpoints']} checkpoints, "
                   f"{checked['rows']} rows, checked {_when(checked['checked_at'])} UTC")  # fmt: skip
        if checked.get("events_proven") or checked.get("events_unproven"):
            summary += "; " + text("proven", lang).format(
                proven=checked.get("events_proven", 0),
                total=sum(
                    checked.get(k, 0) for k in ("events_proven", "events_unproven", "events_awaiting_checkpoint")
                ),
            )
        parts.append(Spacer(1, 4))
        parts.append(Paragraph(f"<b>{escape(summary)}</b>", _BODY))
        parts += [Paragraph(escape(line), _CELL) for line in [*checked["findings"], checked.get("note", "")] if line]
    if section.get("note"):
        parts.append(Paragraph(escape(section["note"]), _CELL))
    return parts


def render_pdf(report: dict[str, Any], lang: str = "en") -> bytes:
    """The report (from access_report or complaint_report) as a PDF; ``lang`` is ``en`` or ``sv``."""
    return laid_out(report, lang)[0]


def laid_out(report: dict[str, Any], lang: str = "en") -> tuple[bytes, list[Flowable]]:
    """The PDF and the flowables it was laid out from (wrapped to their widths: how a cell broke its
    lines can be read back from them)."""
    if lang not in LANGS:
        raise InvalidQueryParameterError("lang", f"must be one of {', '.join(LANGS)}")
    kind = report.get("report")
    if kind not in _ORDER:
        raise InvalidQueryParameterError("report", "must be an access or a complaint report")
    title = text(f"{kind}_title", lang)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=15 * mm, title=title, author="pdtrail")  # fmt: skip
    period = report["period"]
    span = " to ".join(_when(p) or "…" for p in (period["since"], period["until"]))
    meta = [
        (text("subject", lang), f"{report['subject']['identifier']} ({report['subject']['kind']})"),
        (text("period", lang), span if any(period.values()) else text("whole_log", lang)),
        (text("generated", lang), f"{_when(report['generated_at'])} UTC"),
    ]
    if report.get("reference"):
        meta.insert(0, (text("reference", lang), report["reference"]))
    labelled = _LABELS.set(report.get("labels"))
    story: list[Flowable] = [Paragraph(escape(title), _STYLES["Title"])]
    story += [Paragraph(f"<b>{escape(k)}:</b> {escape(v)}", _BODY) for k, v in meta]
    if report.get("truncated"):
        story.append(Paragraph(escape(f"{text('truncated', lang)}: {', '.join(report['truncated'])}"), _BODY))
    for name in _ORDER[kind]:
        story += [Spacer(1, 6), *_section(name, report, lang)]

    def footer(canvas: Any, document: Any) -> None:
        canvas.setFont("Helvetica", 7)
        canvas.drawRightString(A4[0] - 15 * mm, 8 * mm, f"{title} · {text('page', lang)} {document.page}")

    try:
        doc.build(list(story), onFirstPage=footer, onLaterPages=footer)
    finally:
        _LABELS.reset(labelled)
    return buffer.getvalue(), story
