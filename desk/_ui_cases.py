"""The web pages of the DPO's day: the case list, a case, the findings of the whole log, who accessed
with the audit log's own lookups apart, and the preview of a report before it is downloaded.

Opening a subject from a case or a finding is a POST with the page's CSRF token (it records a lookup);
what comes back is the sealed reference, so a case's link keeps working after a desk restart.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pdtrail.desk import _case_list as day
from pdtrail.desk import _ui as ui
from pdtrail.desk._auth import Permission
from pdtrail.desk._cases import check_reference
from pdtrail.desk._sessions import same_token
from pdtrail.desk.exceptions import invalid
from pdtrail.queries import SCOPES

router = APIRouter(include_in_schema=False)
SCOPE_LABELS = {"business": "Business accesses", "audit_log": "Audit-log lookups", "all": "All"}


async def _checked_form(request: Request) -> tuple[Any, dict[str, str]]:
    session = ui._session(request)
    form = await ui._form(request)
    if not same_token(form.get("csrf"), session.csrf):
        raise ui._refused_form()
    return session.principal, form


@router.get("/cases", response_class=HTMLResponse)
def case_list(request: Request) -> Response:
    who, desk = ui._principal(request), ui._desk(request)
    context: dict[str, Any] = {"who": who, "may_cases": who.may(Permission.REPORTS), "cases": None}
    if context["may_cases"]:
        context["cases"] = day.rights_cases(desk, who)
    return ui.templates.TemplateResponse(request, "cases.html", context)


@router.post("/subjects/by_key")
async def open_by_key(request: Request) -> Response:
    """Opens a subject known by key (from a case or a finding); then its case page or its timeline."""
    who, form = await _checked_form(request)
    desk = ui._desk(request)
    purpose = form.get("purpose") or "access_request"
    case = day.open_by_key(desk, who, form.get("subject_key", ""), purpose)
    request_id = form.get("request_id", "")
    if request_id:
        return RedirectResponse(f"/cases/{case.reference}?{urlencode({'request': request_id})}", status_code=303)
    return RedirectResponse(f"/subjects/{case.reference}/timeline", status_code=303)


@router.get("/cases/{reference}", response_class=HTMLResponse)
def case_page(reference: str, request: Request) -> Response:
    who, desk = ui._principal(request), ui._desk(request)
    desk.require(who, Permission.REPORTS)
    case = desk.case(who, check_reference(reference))
    request_id = request.query_params.get("request", "")[:200]
    rights = day.rights_case(desk, who, case, request_id) if request_id else None
    context = {
        "who": who, "case": case, "request_id": request_id, "rights": rights,
        "case_reference": request.query_params.get("case_reference", request_id)[:100],
        "expires_at": f"{dt.datetime.fromtimestamp(case.expires, dt.UTC):%Y-%m-%d %H:%M} UTC",
    }  # fmt: skip
    return ui.templates.TemplateResponse(request, "case.html", context)


@router.get("/findings", response_class=HTMLResponse)
def findings_page(request: Request) -> Response:
    who, desk = ui._principal(request), ui._desk(request)
    chosen = {k: request.query_params.get(k, "").strip() for k in ("kind", "purpose", "since", "until")}
    context: dict[str, Any] = {"who": who, "may_findings": who.may(Permission.FINDINGS), "found": None, **chosen}
    if context["may_findings"]:
        context["labels"] = ui._labels(desk)  # purposes in the register's words, the code in each cell's title
        context["found"] = day.log_findings(
            desk, who, chosen["kind"] or None, chosen["purpose"] or None,
            ui._moment(request, "since"), ui._moment(request, "until"),
        )  # fmt: skip
    return ui.templates.TemplateResponse(request, "findings.html", context)


@router.get("/subjects/{reference}/who_accessed", response_class=HTMLResponse)
def who_accessed(reference: str, request: Request) -> Response:
    """The subject's who-accessed tab, the audit log's own lookups apart (default: business accesses)."""
    who, desk = ui._principal(request), ui._desk(request)
    case = desk.case(who, check_reference(reference))
    scope = request.query_params.get("scope", "business")
    if scope not in SCOPES:
        raise invalid("scope", f"must be one of {', '.join(SCOPES)}")
    since, until = request.query_params.get("since", ""), request.query_params.get("until", "")
    offset, size = ui._int(request, "offset", 0), ui._page_size(desk)
    page, totals = day.accesses(
        desk, who, case, scope, ui._moment(request, "since"), ui._moment(request, "until"), size, offset
    )
    window = {k: v for k, v in (("since", since), ("until", until)) if v}
    context: dict[str, Any] = {
        "who": who, "case": case, "tab": "who_accessed", "tabs": ui.TABS, "graph": None, "since": since,
        "until": until, "window": urlencode(window), "may_report": who.may(Permission.REPORTS),
        "may_findings": who.may(Permission.FINDINGS), "rows": page.rows,
        "columns": ui._columns("who_accessed", page.rows), "scope": scope, "scopes": SCOPE_LABELS, "totals": totals,
        "scope_links": {s: urlencode({**window, "scope": s}) for s in SCOPES},
    }  # fmt: skip
    context.update(ui._pager({**window, "scope": scope}, offset, size, page.has_more))
    return ui.templates.TemplateResponse(request, "subject.html", context)


@router.get("/subjects/{reference}/report-preview", response_class=HTMLResponse)
def report_preview(reference: str, request: Request) -> Response:
    """The report as the subject or the authority will read it, before it is downloaded or sent."""
    who, desk = ui._principal(request), ui._desk(request)
    case = desk.case(who, check_reference(reference))
    kind = request.query_params.get("kind", "access")
    case_reference = request.query_params.get("case_reference", "")
    since, until = request.query_params.get("since", ""), request.query_params.get("until", "")
    report = desk.report(who, case, kind, ui._moment(request, "since"), ui._moment(request, "until"), case_reference)
    query = {
        k: v for k, v in (("kind", kind), ("case_reference", case_reference), ("since", since), ("until", until)) if v
    }
    context = {"who": who, "case": case, "report": report, "kind": kind, "download": urlencode(query),
               "case_reference": case_reference}  # fmt: skip
    return ui.templates.TemplateResponse(request, "report_preview.html", context)
