"""The API of the DPO's day, under /api/v1 next to the subject's views: open rights requests (cases),
the findings of the whole log, a subject opened by its pseudonymous key, and who accessed with the
audit log's own lookups apart."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from pdtrail.desk import _case_list as day
from pdtrail.desk._api import Since, TheDesk, Until, Who, _link, _utc
from pdtrail.desk._auth import Permission
from pdtrail.desk._cases import check_reference
from pdtrail.desk._contract import COMMON_ERRORS, ContractRoute, Limit, Offset, Reference, errors
from pdtrail.queries import FINDING_KINDS

# The contract's router (pdtrail.desk._contract): every operation declares its error statuses.
router = APIRouter(route_class=ContractRoute, responses=COMMON_ERRORS)
Kind = Literal[
    "consent_withdrawn", "after_erasure", "during_restriction", "purpose_not_registered", "unregistered_recipient",
    "basis_not_allowed", "category_not_declared", "role_not_allowed", "after_retention", "late_answer",
]  # fmt: skip
# The contract names every kind the queries know, and no other (spelled out for the OpenAPI document).
assert set(get_args(Kind)) == set(FINDING_KINDS), "the findings endpoint's kinds differ from the queries'"


class RightsCaseOut(BaseModel):
    subject: str = Field(description="the subject's pseudonymous key, masked")
    subject_key: str = Field(description="the key itself, to open the subject by (POST /subjects/by_key)")
    key_version: int
    subject_kind: str
    right: str
    request_id: str
    received_at: dt.datetime
    extended: bool
    extended_at: dt.datetime | None
    deadline: dt.datetime = Field(description="Art. 12(3): one calendar month after receipt, three if extended")
    overdue: bool
    status: Literal["open", "extended", "overdue"]


class CaseCounts(BaseModel):
    open: int
    overdue: int
    extended: int
    per_right: dict[str, int]


class CaseList(BaseModel):
    items: list[RightsCaseOut] = Field(description="overdue first, then by deadline")
    counts: CaseCounts
    truncated: bool


class ByKey(BaseModel):
    subject_key: str = Field(
        min_length=64, max_length=64, pattern=r"^[0-9a-f]{64}$", description="from a case or finding"
    )
    purpose: Literal["complaint_handling", "access_request"] = "access_request"


class Opened(BaseModel):
    subject: str = Field(description="the sealed reference to read the subject by")
    purpose: str
    shown_as: str


class CaseOut(BaseModel):
    subject: str
    case: RightsCaseOut | None = Field(description="the open request, or null once it is answered")


class FindingOut(BaseModel):
    kind: str
    description: str
    subject: str
    subject_key: str
    event_id: str
    occurred_at: dt.datetime
    event_type: str
    purpose: str
    legal_basis: str
    actor_id: str
    actor_role: str
    detail: str


class FindingList(BaseModel):
    items: list[FindingOut]
    counts: dict[str, int] = Field(description="findings per kind in the period and purpose")
    total: int
    truncated: bool
    kinds: dict[str, str]
    purposes: list[str]


class AccessTotals(BaseModel):
    business: int
    audit_log: int
    all: int


class AccessPage(BaseModel):
    items: list[dict[str, Any]]
    totals: AccessTotals
    scope: Literal["business", "audit_log", "all"]
    limit: int
    offset: int
    next: str | None


@router.get("/cases", response_model=CaseList, summary="Open rights requests, overdue first (dpo)")
def cases(who: Who, desk: TheDesk) -> dict[str, Any]:
    return day.rights_cases(desk, who)


@router.post(
    "/subjects/by_key", status_code=201, response_model=Opened, summary="Open a subject by its key",
    responses=errors(404),  # no event of the log holds the key
)  # fmt: skip
def open_by_key(body: ByKey, who: Who, desk: TheDesk) -> dict[str, Any]:
    case = day.open_by_key(desk, who, body.subject_key, body.purpose)
    return {"subject": case.reference, "purpose": case.purpose, "shown_as": case.identifier.shown_as}


@router.get(
    "/subjects/{reference}/rights_requests/{request_id}", response_model=CaseOut, summary="One open rights request"
)
def rights_request(
    reference: Reference, request_id: Annotated[str, Path(min_length=1, max_length=200)], who: Who, desk: TheDesk
) -> dict[str, Any]:
    desk.require(who, Permission.REPORTS)
    case = desk.case(who, check_reference(reference))
    return {"subject": case.identifier.shown_as, "case": day.rights_case(desk, who, case, request_id)}


@router.get("/findings", response_model=FindingList, summary="Findings of the whole log (auditor, dpo)")
def log_findings(
    who: Who, desk: TheDesk, since: Since = None, until: Until = None,
    kind: Annotated[Kind | None, Query(description="one finding kind")] = None,
    purpose: Annotated[str | None, Query(min_length=1, max_length=200, description="one purpose")] = None,
) -> dict[str, Any]:  # fmt: skip
    return day.log_findings(desk, who, kind, purpose, _utc(since), _utc(until))


@router.get("/subjects/{reference}/accesses", response_model=AccessPage, summary="Who accessed, by scope")
def accesses(
    reference: Reference, request: Request, who: Who, desk: TheDesk, since: Since = None, until: Until = None,
    scope: Annotated[Literal["business", "audit_log", "all"], Query(description="business (default): "
                     "without the audit log's own lookups; audit_log: only those; all")] = "business",
    limit: Limit = None, offset: Offset = None,
) -> JSONResponse:  # fmt: skip
    case = desk.case(who, check_reference(reference))
    page, totals = day.accesses(desk, who, case, scope, _utc(since), _utc(until), limit, offset)
    following = None
    if page.has_more:
        url = request.url.include_query_params(limit=page.limit, offset=page.offset + page.limit)
        following = _link(request, url.path, url.query)
    body = {"items": page.rows, "totals": totals, "scope": scope, "limit": page.limit, "offset": page.offset}
    return JSONResponse({**body, "next": following})
