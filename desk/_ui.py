"""The web UI for the DPO: server-rendered pages over the same :class:`Desk` as the API.

Sign-in starts a server-side session (:mod:`pdtrail.desk._sessions`): the HttpOnly, SameSite=Strict
cookie holds its random id (``Secure`` over TLS), never the token. Every form that changes state,
sign-in included, carries a CSRF token and must come from the desk's own origin (``_web``). The
identifier is posted once in a form; every page after that carries only the case reference.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from pdtrail.desk import _timeline_view
from pdtrail.desk._auth import Permission, Principal
from pdtrail.desk._cases import PURPOSES, check_reference
from pdtrail.desk._service import Desk
from pdtrail.desk._sessions import Session, SessionBook, same_token
from pdtrail.desk.exceptions import DeskError, invalid
from pdtrail.queries._labels import register_labels, say
from pdtrail.queries._report_text import column, value
from pdtrail.schemas import load_register

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
# A column whose values are register codes is shown by their labels (the code stays in the cell's title).
templates.env.globals.update(say=say, column=column, value=value, LABELLED={
    "purpose": "purposes", "purposes": "purposes", "legal_basis": "legal_bases", "legal_bases": "legal_bases",
    "data_categories": "categories", "categories": "categories", "category": "categories",
    "event_type": "event_types", "collection_source": "collection_sources",
})  # fmt: skip
COOKIE = "pdtrail_desk"
LOGIN_COOKIE = "pdtrail_desk_login"  # the sign-in form's CSRF token, before there is a session
TABS = {
    "timeline": "Timeline",
    "who_accessed": "Who accessed",
    "shared_with": "Shared with",
    "sources": "Sources",
    "credit_checks": "Credit checks",
    "consent_state": "Consent",
    "retention_status": "Retention",
    "lineage": "Lineage",
    "findings": "Findings",
    "reports": "Reports",
}
PAGED_TABS = ("timeline", "who_accessed", "shared_with", "sources", "credit_checks")
STATE_TABS = ("consent_state", "retention_status")  # as they stood at the end of the period (default now)
PAGE_SIZE = 100  # or desk.max_page_size, if smaller


class _SignIn(Exception):
    """No valid cookie: the page sends the browser to sign in."""


def _session(request: Request) -> Session:
    sessions: SessionBook = request.app.state.sessions
    session = sessions.get(request.cookies.get(COOKIE))
    if session is None:
        raise DeskError(401, "unauthorised", "sign in with your desk token")
    request.state.csrf = session.csrf  # for the forms of the page (the sign-out button is on every one)
    return session


def _principal(request: Request) -> Principal:
    return _session(request).principal


def _secure(request: Request) -> bool:
    return bool(_desk(request).settings.desk.behind_tls_proxy) or request.url.scheme == "https"


def _refused_form() -> DeskError:
    return DeskError(403, "csrf", "the form is stale or did not come from the desk: reload the page and try again")


def _desk(request: Request) -> Desk:
    desk: Desk = request.app.state.desk
    return desk


async def _form(request: Request) -> dict[str, str]:
    # Plain urlencoded forms: parsed here rather than pulling in a multipart parser for three fields.
    body = (await request.body())[:65536].decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def _moment(request: Request, name: str) -> dt.datetime | None:
    text = request.query_params.get(name, "").strip()
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise invalid(name, "not a date (use 2026-03-01 or 2026-03-01T12:00)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _page_size(desk: Desk) -> int:
    return min(PAGE_SIZE, desk.settings.desk.max_page_size)


def _int(request: Request, name: str, default: int) -> int:
    text = request.query_params.get(name, "")
    try:
        return int(text) if text else default
    except ValueError:
        raise invalid(name, "must be a whole number") from None


_SUBJECT_PATH = re.compile(r"^/subjects/([^/]+)/")


def error_page(request: Request, error: DeskError) -> Response:
    """The error inside the desk's layout: signed in, the header's navigation stays; on a subject's
    page whose case the DPO holds, the case's tabs stay too, so the next click is one away."""
    if error.status == 401:
        return RedirectResponse("/login", status_code=303)
    context: dict[str, Any] = {"error": error, "who": None, "case": None, "tabs": TABS, "tab": None, "window": ""}
    try:
        context["who"] = who = _principal(request)
        found = _SUBJECT_PATH.match(request.url.path)
        if found:
            context["case"] = _desk(request).case(who, check_reference(found.group(1)))
    except DeskError:
        pass  # not signed in, or not this DPO's case: the plain error
    return templates.TemplateResponse(request, "error.html", context, status_code=error.status)


def _labels(desk: Desk) -> dict[str, Any]:
    return register_labels(load_register(desk.settings.processing_register.path))


def _login_page(request: Request, message: str | None, status: int = 200) -> Response:
    # A fresh sign-in token per form shown (double submit: cookie and field must match), so a foreign
    # page cannot sign a browser in under the attacker's token (login CSRF).
    token = secrets.token_urlsafe(32)
    context = {"message": message, "login_csrf": token}
    response = templates.TemplateResponse(request, "login.html", context, status_code=status)
    response.set_cookie(
        LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request), max_age=3600, path="/login"
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    return _login_page(request, None)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await _form(request)
    if not same_token(form.get("csrf"), request.cookies.get(LOGIN_COOKIE)):
        return _login_page(request, "The sign-in form was stale: sign in again.", 403)
    principal = request.app.state.tokens.authenticate(form.get("token", "").strip())
    if principal is None:
        return _login_page(request, "That token is not valid.", 401)
    sessions: SessionBook = request.app.state.sessions
    session_id, _ = sessions.start(principal)
    response = RedirectResponse("/", status_code=303)
    secure = _secure(request)
    response.set_cookie(
        COOKIE, session_id, httponly=True, samesite="strict", secure=secure, max_age=int(sessions.ttl_s), path="/"
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login", secure=secure, httponly=True, samesite="strict")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    session = _session(request)
    if not same_token((await _form(request)).get("csrf"), session.csrf):
        raise _refused_form()
    request.app.state.sessions.end(request.cookies.get(COOKIE))  # the cookie is worthless from now on
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", secure=_secure(request), httponly=True, samesite="strict")
    return response


@router.get("/", response_class=HTMLResponse)
def search_form(request: Request) -> Response:
    who = _principal(request)
    return templates.TemplateResponse(request, "search.html", {"who": who, "purposes": PURPOSES, "message": None})


@router.post("/search")
async def search(request: Request) -> Response:
    session = _session(request)
    who = session.principal
    form = await _form(request)
    if not same_token(form.get("csrf"), session.csrf):
        raise _refused_form()
    try:
        case = _desk(request).open_case(who, form.get("identifier", ""), form.get("kind") or None, form.get("purpose"))
    except DeskError as exc:
        context = {"who": who, "purposes": PURPOSES, "message": exc, "kind": form.get("kind", "")}
        return templates.TemplateResponse(request, "search.html", context, status_code=exc.status)
    return RedirectResponse(f"/subjects/{case.reference}/timeline", status_code=303)


@router.get("/actors", response_class=HTMLResponse)
def actor_activity(request: Request) -> Response:
    who, desk = _principal(request), _desk(request)
    actor = request.query_params.get("actor", "").strip()
    since, until = request.query_params.get("since", ""), request.query_params.get("until", "")
    context: dict[str, Any] = {
        "who": who, "actor": actor, "since": since, "until": until, "rows": None,
        "may_activity": who.may(Permission.ACTIVITY),
    }  # fmt: skip
    if actor and context["may_activity"]:
        offset, size = _int(request, "offset", 0), _page_size(desk)
        page = desk.activity(who, actor, _moment(request, "since"), _moment(request, "until"), size, offset)
        query = {k: v for k, v in (("actor", actor), ("since", since), ("until", until)) if v}
        context["rows"] = page.rows
        context["columns"] = _columns("activity", page.rows)
        context.update(_pager(query, offset, size, page.has_more))
    return templates.TemplateResponse(request, "actors.html", context)


@router.get("/subjects/{reference}/lineage.picture")
def picture(reference: str, request: Request) -> Response:
    who, desk = _principal(request), _desk(request)
    case = desk.case(who, check_reference(reference))
    image, media_type = desk.picture(desk.graph(who, case, _moment(request, "since"), _moment(request, "until")))
    return Response(image, media_type=media_type)


@router.get("/subjects/{reference}/report.{fmt}")
def download(reference: str, fmt: str, request: Request) -> Response:
    who, desk = _principal(request), _desk(request)
    case = desk.case(who, check_reference(reference))
    kind = request.query_params.get("kind", "access")
    lang = request.query_params.get("lang", "en")
    if fmt not in ("pdf", "json"):
        raise DeskError(404, "not_found", "reports come as .pdf or .json", "format")
    reference_no = request.query_params.get("case_reference", "")
    report = desk.report(who, case, kind, _moment(request, "since"), _moment(request, "until"), reference_no)
    stamp = f"{dt.datetime.now(dt.UTC):%Y%m%d}"
    disposition = {"Content-Disposition": f'attachment; filename="{kind}-report-{stamp}.{fmt}"'}
    if fmt == "json":
        import json

        from pdtrail.desk._answers import plain

        body = json.dumps(plain(report), indent=2, ensure_ascii=False).encode()
        return Response(body, media_type="application/json", headers=disposition)
    return Response(desk.pdf(report, lang), media_type="application/pdf", headers=disposition)


@router.get("/subjects/{reference}/{tab}", response_class=HTMLResponse)
def subject_page(reference: str, tab: str, request: Request) -> Response:
    who, desk = _principal(request), _desk(request)
    case = desk.case(who, check_reference(reference))
    if tab not in TABS:
        raise DeskError(404, "not_found", f"no page named {tab!r}", "tab")
    since, until = _moment(request, "since"), _moment(request, "until")
    offset = _int(request, "offset", 0)
    context: dict[str, Any] = {
        "who": who, "case": case, "tab": tab, "tabs": TABS, "rows": None, "graph": None,
        "since": request.query_params.get("since", ""), "until": request.query_params.get("until", ""),
        "may_report": who.may(Permission.REPORTS), "may_findings": who.may(Permission.FINDINGS),
    }  # fmt: skip
    window = {k: v for k, v in (("since", context["since"]), ("until", context["until"])) if v}
    context["window"] = urlencode(window)
    context["labels"] = _labels(desk)
    if tab == "timeline":
        context.update(_timeline(request, desk, who, case, since, until, offset, window, context["may_findings"]))
    elif tab in PAGED_TABS:
        size = _page_size(desk)
        page = desk.page(who, case, tab, since, until, size, offset)
        context["rows"] = page.rows
        context["columns"] = _columns(tab, page.rows)
        context.update(_pager(window, offset, size, page.has_more))
        context["past_end"] = offset > 0 and not page.rows
    elif tab in STATE_TABS:
        context["rows"] = rows = desk.state_at(who, case, tab, until)
        context["columns"] = _columns(tab, rows)
        if tab == "retention_status":
            context["marks"] = _retention_marks(rows, until or dt.datetime.now(dt.UTC))
    elif tab == "lineage":
        graph = desk.graph(who, case, since, until)
        context["graph"] = graph.as_dict() if hasattr(graph, "as_dict") else graph
    elif tab == "findings":
        context["rows"] = desk.findings(who, case, since, until) if context["may_findings"] else None
    return templates.TemplateResponse(request, "subject.html", context)


def _timeline(
    request: Request, desk: Desk, who: Principal, case: Any, since: dt.datetime | None, until: dt.datetime | None,
    offset: int, window: dict[str, str], may_findings: bool,
) -> dict[str, Any]:  # fmt: skip
    """The timeline tab: the period read whole (up to the largest page), filtered, sorted and paged here."""
    params = request.query_params
    chosen = {k: params.get(k, "").strip() for k in ("type", "purpose", "sort", "order")}
    largest, size = desk.settings.desk.max_page_size, _page_size(desk)
    page = desk.page(who, case, "timeline", since, until, largest, 0)
    findings = desk.findings(who, case, since, until) if may_findings else []
    view = _timeline_view.build(
        page.rows, findings=findings, labels=_labels(desk), event_type=chosen["type"], purpose=chosen["purpose"],
        sort=chosen["sort"], descending=chosen["order"] == "desc", offset=offset, size=size, capped=page.has_more,
    )  # fmt: skip
    query = {**window, **{k: v for k, v in chosen.items() if v}}
    current = view.chosen

    def link(**changed: str) -> str:
        return f"?{urlencode({k: v for k, v in {**query, **changed}.items() if v})}"

    flip = {"asc": "desc", "desc": "asc"}
    return {
        "sort_links": {
            name: link(sort=name, order=flip[current["order"]] if current["sort"] == name else "asc")
            for name in _timeline_view.SORTS
        },
        "type_links": {kind: link(type=kind) for kind, _ in view.counts},
        "all_types": link(type=""),
        "timeline": view, "rows": view.rows, "query": query,
        "past_end": offset > 0 and offset >= view.total,
        "first_page": link(),
        **_pager(query, offset, size, offset + size < view.total),
    }  # fmt: skip


DUE_SOON = dt.timedelta(days=30)


def _retention_marks(rows: list[dict[str, Any]], at: dt.datetime) -> list[str]:
    """Per row: ``overdue`` (the period has run out and nothing erased the data), ``due`` (it runs out
    within 30 days of ``at``) or nothing; the page marks those rows so they are seen first."""
    marks = []
    for row in rows:
        due = dt.datetime.fromisoformat(row["due_at"]) if row.get("due_at") else None
        if row.get("status") == "overdue":
            marks.append("overdue")
        elif row.get("status") == "retained" and due is not None and due - at <= DUE_SOON:
            marks.append("due")
        else:
            marks.append("")
    return marks


def _pager(query: dict[str, str], offset: int, size: int, has_more: bool) -> dict[str, str | None]:
    return {
        "next": f"?{urlencode({**query, 'offset': offset + size})}" if has_more else None,
        "previous": f"?{urlencode({**query, 'offset': max(0, offset - size)})}" if offset else None,
    }


_HIDDEN = {"event_id", "correlation_id", "source_system", "subject_key", "register_version"}


def _columns(tab: str, rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    return [c for c in rows[0] if c not in _HIDDEN and any(r.get(c) not in ("", None, []) for r in rows)]
