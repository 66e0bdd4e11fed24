"""The access report's Art. 15 sections as PDF flowables: the controller and the DPO, the declared
purposes with their bases, categories, recipients, retention and sources, automated decisions, the
subject's rights and the right to complain to IMY. Every code is shown by its plain-language label."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, Paragraph, Table, TableStyle

from pdtrail.queries._labels import say
from pdtrail.queries._report_text import column, period, text

_STYLES = getSampleStyleSheet()
# splitLongWords=0: a cell wraps between words only, never inside one ("Integritetsskydds-myndigheten").
CELL = ParagraphStyle("cell", parent=_STYLES["BodyText"], fontSize=7, leading=8.5, splitLongWords=0)
HEAD = ParagraphStyle("head", parent=CELL, fontName="Helvetica-Bold")
_SMALLER = [ParagraphStyle(f"cell{size}", parent=CELL, fontSize=size, leading=size + 1.5) for size in (6, 5)]
_PADDING = 6  # a cell's left and right padding together
BODY = ParagraphStyle("body", parent=_STYLES["BodyText"], fontSize=9, leading=11.5, splitLongWords=0)

SECTIONS = ("controller", "register_purposes", "automated", "rights", "complaint")


def cell(text: str, width: float, style: ParagraphStyle = CELL) -> Paragraph:
    """A table cell's paragraph, wrapped between words; a word too long for its column even alone
    (a company's own long label) sets the whole cell a size or two smaller rather than overflow."""
    room = width - _PADDING
    longest = max(text.split(), key=lambda w: stringWidth(w, style.fontName, style.fontSize), default="")
    for smaller in (style, *_SMALLER):
        if stringWidth(longest, smaller.fontName, smaller.fontSize) <= room:
            style = smaller
            break
    else:
        style = _SMALLER[-1]
    return Paragraph(escape(text), style)


def _contact(title: str, who: dict[str, Any], lang: str) -> Paragraph:
    lines = [f"<b>{escape(title)}:</b> {escape(who['name'])}"]
    if who.get("organisation_number"):
        lines[0] += escape(f" ({column('org_no', lang)} {who['organisation_number']})")
    for key in ("address", "email", "phone", "web"):
        if who.get(key):
            lines.append(f"{escape(column(key, lang))}: {escape(who[key])}")
    return Paragraph("<br/>".join(lines), BODY)


def _purposes_table(report: dict[str, Any], lang: str, width: float) -> Flowable:
    labels = report.get("labels")
    # Widths that hold the longest single words ("Kreditupplysningsföretag:") of either language.
    spec = [("purpose", 0.17), ("legal_bases", 0.17), ("data_categories", 0.18), ("recipients_where", 0.19),
            ("sources", 0.19), ("retention", 0.1)]  # fmt: skip
    rows = [[Paragraph(escape(column(k, lang)), HEAD) for k, _ in spec]]
    for p in report["register_purposes"]:
        if not p["declared"]:
            cells = [say(labels, "purposes", p["purpose"], lang), text("not_declared", lang), "", "", "", ""]
        else:
            cells = [
                say(labels, "purposes", p["purpose"], lang),
                "; ".join(say(labels, "legal_bases", b, lang) for b in p["legal_bases"]),
                say(labels, "categories", p["categories"], lang),
                "; ".join(f"{say(labels, 'recipients', r['recipient'], lang)}: {r['name']} ({r['country']})"
                          for r in p["recipients"]) or "-",
                "; ".join(f"{say(labels, 'sources', s['source'], lang)}: {s['name']} ({s['country']})"
                          for s in p["sources"]) or "-",
                period(p["retention"], lang),
            ]  # fmt: skip
        rows.append([cell(c, width * share) for c, (_, share) in zip(cells, spec, strict=True)])
    table = Table(rows, colWidths=[width * share for _, share in spec], repeatRows=1)
    table.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f7f7f7")]),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]))  # fmt: skip
    return table


def art15_section(name: str, report: dict[str, Any], lang: str, width: float) -> list[Flowable]:
    """The flowables of one Art. 15 section (heading included)."""
    needs = {"register_purposes": "register_purposes", "automated": "automated_decisions",
             "complaint": "complaint_authority"}.get(name, name)  # fmt: skip
    if needs not in report:  # a report written by an older pdtrail (a JSON file read back) lacks it
        return []
    heading = Paragraph(escape(text(name, lang)), _STYLES["Heading2"])
    labels = report.get("labels")
    if name == "controller":
        return [heading, _contact(text("controller_is", lang), report["controller"], lang),
                _contact(text("dpo", lang), report["dpo"], lang)]  # fmt: skip
    if name == "register_purposes":
        if not report["register_purposes"]:
            return [heading, Paragraph(escape(text("none", lang)), BODY)]
        return [heading, _purposes_table(report, lang, width)]
    if name == "automated":
        decided = report["automated_decisions"]
        if not decided:
            return [heading, Paragraph(escape(text("no_automated", lang)), BODY)]
        return [heading, *(
            Paragraph(f"<b>{escape(say(labels, 'purposes', p['purpose'], lang))}:</b> "
                      f"{escape(p['automated_decision'][lang])}", BODY)
            for p in decided
        )]  # fmt: skip
    if name == "rights":
        items = [Paragraph(escape("- " + say(labels, "rights", r, lang)), BODY) for r in report["rights"]]
        return [heading, *items, Paragraph(escape(text("rights_how", lang)), BODY)]
    if name == "complaint":
        authority = report["complaint_authority"]
        return [heading, Paragraph(escape(text("complaint_how", lang)), BODY),
                _contact("IMY", authority, lang)]  # fmt: skip
    raise KeyError(name)
