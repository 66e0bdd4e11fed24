"""The API's contract with its clients: what the OpenAPI document promises, declared once for every endpoint.

* ``ErrorBody``: the one error shape (:meth:`pdtrail.desk.exceptions.DeskError.as_json`), declared for
  every error status the API answers: 401, 403 and 422 on every operation (the router's defaults,
  with 503 for a lookup that could not be recorded), 404 on every operation with a path parameter
  (:class:`ContractRoute`).
* Shared parameter types (``Reference``, ``ActorId``, ``Since``, ``Until``, ``At``, ``Limit``,
  ``Offset``): the schema states the bounds the desk enforces, so a request valid by the document is
  taken and one that is not is answered 422.
* :func:`document`: the published document, with ``limit``'s maximum from ``desk.max_page_size`` and
  the links from ``POST /subjects`` to every operation under ``/subjects/{reference}``, so a client
  (and a stateful tester) follows a real reference.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import FastAPI, Path, Query
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field

# The store's DateTime64 holds 1900-01-01 to 2299-12-31: a moment outside is refused as the request's
# fault, and the document says so with a pattern on the year (format date-time says the rest).
EARLIEST, LATEST = dt.datetime(1900, 1, 2, tzinfo=dt.UTC), dt.datetime(2299, 12, 30, tzinfo=dt.UTC)
_YEAR = r"^(19\d\d|2[0-2]\d\d)-"
REFERENCE_PATTERN = r"^[A-Za-z0-9_-]+$"  # a sealed reference is base64url (see pdtrail.desk._refs)
MAX_OFFSET = 10_000_000


class ErrorDetail(BaseModel):
    code: str = Field(description="stable: unauthorised, forbidden, not_found, invalid_parameter, ...")
    message: str = Field(description="for people; never repeats a value the request sent")
    field: str | None = Field(description="the request's parameter or body member at fault, if one is")


class ErrorBody(BaseModel):
    """Every error the API answers, whatever its status."""

    error: ErrorDetail


_MEANING = {
    401: "No bearer token, or one the desk does not know",
    403: "The token's role may not use this",
    404: "No such subject reference (unknown, expired or another identity's), or nothing at this path",
    409: "Conflicts with the current state",
    422: "A parameter or body member is invalid: `error.field` names it",
    503: "The store, or the recording of this lookup, is unavailable: try again",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for ``statuses``, each with the error body: for a route's ``responses=``."""
    return {status: {"model": ErrorBody, "description": _MEANING[status]} for status in statuses}


# Every API operation may answer these (the router's ``responses``).
COMMON_ERRORS = errors(401, 403, 422, 503)


class ContractRoute(APIRoute):
    """An API route whose path has parameters also declares 404: the path's values may name nothing."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if "{" in path:
            kwargs["responses"] = {**errors(404), **(kwargs.get("responses") or {})}
        super().__init__(path, endpoint, **kwargs)


def _iso_text(value: object) -> object:
    # pydantic would also take a number of seconds ("0.5"); the document promises RFC 3339 text only.
    if isinstance(value, str) and not re.match(_YEAR, value):
        raise ValueError("must be an RFC 3339 date-time from 1900 to 2299, e.g. 2026-01-31T12:00:00Z")
    return value


def _in_store_range(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None:
        return None
    zoned = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    if not EARLIEST <= zoned <= LATEST:
        raise ValueError("must be between 1900-01-02 and 2299-12-30")
    return zoned  # naive moments are UTC


def _moment(description: str) -> Any:
    return Query(description=description, json_schema_extra={"pattern": _YEAR})


Reference = Annotated[
    str,
    Path(
        min_length=8, max_length=2048, pattern=REFERENCE_PATTERN,
        description="the subject reference `POST /subjects` answered",
    ),
]  # fmt: skip
ActorId = Annotated[
    str, Path(min_length=1, max_length=200, pattern=r"\S", description="the employee's or service's actor id")
]
Since = Annotated[
    dt.datetime | None,
    BeforeValidator(_iso_text),
    AfterValidator(_in_store_range),
    _moment("from this time, inclusive (UTC unless zoned)"),
]
Until = Annotated[
    dt.datetime | None,
    BeforeValidator(_iso_text),
    AfterValidator(_in_store_range),
    _moment("up to this time, exclusive; later than since (else 422)"),
]
At = Annotated[
    dt.datetime | None,
    BeforeValidator(_iso_text),
    AfterValidator(_in_store_range),
    _moment("at this time (default: now)"),
]
Limit = Annotated[int | None, Query(ge=1, description="rows per page (default 100, at most desk.max_page_size)")]
Offset = Annotated[int | None, Query(ge=0, le=MAX_OFFSET, description="rows to skip")]


def document(app: FastAPI, max_page_size: int) -> dict[str, Any]:
    """The OpenAPI document of ``app``, completed as the module docstring says (built once)."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes,
        openapi_version=app.openapi_version,
    )  # fmt: skip
    paths: dict[str, dict[str, Any]] = doc.get("paths", {})
    for operations in paths.values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("name") == "limit" and parameter.get("in") == "query":
                    _set_maximum(parameter["schema"], max_page_size)
    _link_subject_views(paths)
    app.openapi_schema = doc
    return doc


def _set_maximum(schema: dict[str, Any], maximum: int) -> None:
    for variant in schema.get("anyOf", [schema]):
        if variant.get("type") == "integer":
            variant["maximum"] = maximum


def _link_subject_views(paths: dict[str, dict[str, Any]]) -> None:
    opened = paths.get("/api/v1/subjects", {}).get("post", {}).get("responses", {}).get("201")
    if opened is None:
        return
    links: dict[str, Any] = {}
    for path, operations in sorted(paths.items()):
        if not path.startswith("/api/v1/subjects/{reference}"):
            continue
        for method, operation in operations.items():
            if method == "get" and "operationId" in operation:
                links[operation["operationId"]] = {
                    "operationId": operation["operationId"],
                    "parameters": {"path.reference": "$response.body#/subject"},
                    "description": f"read the subject just looked up: {path.removeprefix('/api/v1/subjects/')}",
                }
    opened["links"] = links
