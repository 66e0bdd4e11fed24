"""The HTTP API, under /api/v1. Bearer tokens; errors are ``{"error": {"code", "message", "field"}}``.

A subject is looked up once (``POST /subjects`` with the identifier in the body) and then read by
its opaque reference, so identifiers never appear in URLs, links or access logs.

How to declare an endpoint so the published contract holds (tests/integration/test_desk_contract.py
checks every operation of the document with schemathesis, new ones included):

* Put it on ``router``: it then declares 401/403/422/503 with the error body, and 404 when its path
  has parameters (:mod:`pdtrail.desk._contract`). Declare any other status it answers with
  ``responses=errors(409, ...)``.
* Take the shared parameter types (``Reference``, ``ActorId``, ``Since``, ``Until``, ``At``,
  ``Limit``, ``Offset``) and ``Literal`` for closed sets (kinds, views, formats): the schema then says
  what the desk accepts. A new parameter states its bounds (``Query(ge=, le=, max_length=, pattern=)``).
* Raise :class:`pdtrail.desk.exceptions.DeskError` (``invalid``, ``not_found``, ...) for what the
  schema cannot say; its status must be one the operation declares.
* A GET under ``/subjects/{reference}`` is linked from ``POST /subjects`` automatically.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from pdtrail.desk._answers import Page, plain
from pdtrail.desk._auth import Principal
from pdtrail.desk._cases import check_reference
from pdtrail.desk._contract import COMMON_ERRORS, ActorId, At, ContractRoute, Limit, Offset, Reference, Since, Until
from pdtrail.desk._service import Desk
from pdtrail.desk.exceptions import unauthorised

router = APIRouter(route_class=ContractRoute, responses=COMMON_ERRORS)
# Declares the bearer scheme in the document; the desk answers a missing or unknown token itself (401).
_bearer = HTTPBearer(auto_error=False, description="a desk token (pdtrail desk token ...)")


def desk_of(request: Request) -> Desk:
    desk: Desk = request.app.state.desk
    return desk


def api_principal(
    request: Request, _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    header = request.headers.get("Authorization", "")
    if not header:
        raise unauthorised("missing bearer token (Authorization: Bearer <token>)")
    scheme, _, token = header.partition(" ")
    principal = request.app.state.tokens.authenticate(token.strip()) if scheme.lower() == "bearer" else None
    if principal is None:
        raise unauthorised("the bearer token is not valid")
    return principal


Who = Annotated[Principal, Depends(api_principal)]
View = Literal["timeline", "who_accessed", "shared_with", "sources", "credit_checks", "purposes"]
CaseNumber = Annotated[str, Query(max_length=100, description="the authority's case number, for a complaint")]
TheDesk = Annotated[Desk, Depends(desk_of)]


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    return moment.replace(tzinfo=dt.UTC) if moment is not None and moment.tzinfo is None else moment


class Lookup(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt member is an error, not silently a default

    identifier: str = Field(
        min_length=1,
        max_length=320,
        pattern=r"\S",
        description="personnummer/samordningsnummer (any form), e-mail or customer id; one that is not valid "
        "for its kind (a check digit, an address) is answered 422",
    )
    kind: Literal["personnummer", "email", "customer_id"] | None = Field(None, description="default: guessed")
    purpose: Literal["complaint_handling", "access_request"] = Field(
        "complaint_handling", description="why the DPO looks: recorded with every lookup in this case"
    )


def _link(request: Request, path: str, query: str = "") -> str:
    """A link to ``path``: under ``desk.base_url`` when configured, else relative to the desk's root.
    Never built from the Host header, which the client chooses."""
    base = (desk_of(request).settings.desk.base_url or "").rstrip("/")
    return f"{base}{path}" + (f"?{query}" if query else "")


def _paged(request: Request, page: Page) -> JSONResponse:
    following = None
    if page.has_more:
        following_url = request.url.include_query_params(limit=page.limit, offset=page.offset + page.limit)
        following = _link(request, following_url.path, following_url.query)
    # The rows are JSON values already: a JSONResponse skips FastAPI's per-value re-encoding of long pages.
    return JSONResponse({"items": page.rows, "limit": page.limit, "offset": page.offset, "next": following})


class Opened(BaseModel):
    subject: str = Field(description="the subject reference: every view of the subject is read by it")
    purpose: str
    links: dict[str, str] = Field(description="the subject's views, by name")


@router.post("/subjects", status_code=201, summary="Look a subject up; returns the reference to read it by")
def open_subject(body: Lookup, request: Request, who: Who, desk: TheDesk) -> Opened:
    case = desk.open_case(who, body.identifier, body.kind, body.purpose)
    base = _link(request, f"/api/v1/subjects/{case.reference}")
    views = ["timeline", "who_accessed", "shared_with", "sources", "credit_checks", "purposes"]
    links = {v: f"{base}/{v}" for v in views}
    links |= {v: f"{base}/{v}" for v in ("consent_state", "retention_status", "lineage", "findings")}
    links |= {"access_report": f"{base}/reports/access", "complaint_report": f"{base}/reports/complaint"}
    return Opened(subject=case.reference, purpose=case.purpose, links=links)


@router.get("/subjects/{reference}/consent_state", summary="Consent per purpose at a date (default now)")
def consent_state(reference: Reference, who: Who, desk: TheDesk, at: At = None) -> dict[str, Any]:
    case = desk.case(who, check_reference(reference))
    return {"items": desk.state_at(who, case, "consent_state", _utc(at))}


@router.get("/subjects/{reference}/retention_status", summary="Retention per purpose and category")
def retention_status(reference: Reference, who: Who, desk: TheDesk, at: At = None) -> dict[str, Any]:
    case = desk.case(who, check_reference(reference))
    return {"items": desk.state_at(who, case, "retention_status", _utc(at))}


@router.get("/subjects/{reference}/lineage", summary="Sources → purposes → recipients (JSON)")
def lineage(reference: Reference, who: Who, desk: TheDesk, since: Since = None, until: Until = None) -> dict[str, Any]:
    case = desk.case(who, check_reference(reference))
    graph = desk.graph(who, case, _utc(since), _utc(until))
    return plain(graph.as_dict() if hasattr(graph, "as_dict") else graph)


@router.get("/subjects/{reference}/lineage.picture", summary="The lineage graph as a picture (PNG or SVG)")
def lineage_picture(
    reference: Reference, who: Who, desk: TheDesk, since: Since = None, until: Until = None
) -> Response:
    case = desk.case(who, check_reference(reference))
    image, media_type = desk.picture(desk.graph(who, case, _utc(since), _utc(until)))
    return Response(image, media_type=media_type)


@router.get("/subjects/{reference}/findings", summary="Findings about this subject (auditor, dpo)")
def findings(reference: Reference, who: Who, desk: TheDesk, since: Since = None, until: Until = None) -> dict[str, Any]:
    case = desk.case(who, check_reference(reference))
    return {"items": desk.findings(who, case, _utc(since), _utc(until))}


@router.get("/subjects/{reference}/reports/{kind}", summary="Access report (Art. 15) or complaint response (dpo)")
def report(
    reference: Reference, kind: Literal["access", "complaint"], who: Who, desk: TheDesk, since: Since = None,
    until: Until = None, format: Literal["json", "pdf"] = "json", lang: Literal["en", "sv"] = "en",
    case_reference: CaseNumber = "",
    verify: Annotated[bool, Query(description="complaint: verify the period's signed checkpoints here")] = True,
) -> Response:  # fmt: skip
    case = desk.case(who, check_reference(reference))
    data = desk.report(who, case, kind, _utc(since), _utc(until), case_reference, verify=verify)
    if format == "json":
        return JSONResponse(plain(data))
    name = f"{kind}-report-{dt.datetime.now(dt.UTC):%Y%m%d}.pdf"
    return Response(
        desk.pdf(data, lang),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/subjects/{reference}/{view}", name="subject_view", summary="A paged view of the subject")
def subject_view(
    reference: Reference, view: View,
    request: Request, who: Who, desk: TheDesk, since: Since = None, until: Until = None, limit: Limit = None,
    offset: Offset = None,
) -> JSONResponse:  # fmt: skip
    case = desk.case(who, check_reference(reference))
    lim, off = desk.check_page(limit, offset)
    return _paged(request, desk.page(who, case, view, _utc(since), _utc(until), lim, off))


@router.get("/actors/{actor_id}/activity", summary="Every subject one actor touched (auditor, dpo)")
def actor_activity(
    actor_id: ActorId, request: Request, who: Who, desk: TheDesk, since: Since = None, until: Until = None,
    limit: Limit = None, offset: Offset = None,
) -> JSONResponse:  # fmt: skip
    lim, off = desk.check_page(limit, offset)
    return _paged(request, desk.activity(who, actor_id, _utc(since), _utc(until), lim, off))


@router.get("/whoami", summary="The identity and role of the token")
def whoami(who: Who) -> dict[str, str]:
    return {"identity": who.identity, "role": who.role}
