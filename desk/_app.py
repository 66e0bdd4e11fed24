"""The FastAPI application: the API under /api/v1 (spec at /api/openapi.json) and the UI at /."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from pdtrail.config import Settings
from pdtrail.desk._auth import TokenStore
from pdtrail.desk._contract import document
from pdtrail.desk._service import Desk
from pdtrail.desk._sessions import SessionBook
from pdtrail.desk._web import WebGuard
from pdtrail.desk.exceptions import DeskError
from pdtrail.errors import PdtrailError, RetryableError
from pdtrail.queries import LookupNotRecordedError, QueryBackend

logger = logging.getLogger("pdtrail.desk")
HERE = Path(__file__).parent


def create_app(
    settings: Settings, backend: QueryBackend, *, tokens: TokenStore | None = None, desk: Desk | None = None
) -> FastAPI:
    """The desk over ``backend``; tokens from ``settings.desk`` unless given."""
    from pdtrail.desk import _api, _api_cases, _ui, _ui_cases

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.desk.close()

    app = FastAPI(
        title="pdtrail — the DPO's desk",
        version="1",
        description="Lineage answers and reports about one data subject, for the data protection officer.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.desk = desk or Desk(settings, backend)
    app.state.tokens = tokens or TokenStore.from_settings(settings.desk)
    app.state.sessions = SessionBook(
        ttl_s=settings.desk.session_ttl_s, per_identity=settings.desk.sessions_per_identity
    )
    app.add_middleware(WebGuard, settings=settings.desk)
    app.include_router(_api_cases.router, prefix="/api/v1")  # before the subject's catch-all view route
    app.include_router(_api.router, prefix="/api/v1")
    app.include_router(_ui_cases.router)  # before the subject's catch-all tab route
    app.include_router(_ui.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    _install_error_handlers(app)
    app.openapi = lambda: document(app, settings.desk.max_page_size)  # type: ignore[method-assign]
    return app


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error(request: Request, error: DeskError, headers: Mapping[str, str] | None = None) -> Response:
    if _wants_json(request):
        headers = {**(headers or {}), **({"WWW-Authenticate": "Bearer"} if error.status == 401 else {})}
        return JSONResponse(error.as_json(), status_code=error.status, headers=headers)
    from pdtrail.desk._ui import error_page

    page = error_page(request, error)
    if headers and error.status != 401:  # a 401 page is a redirect to the sign-in
        page.headers.update(headers)
    return page


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DeskError)
    async def desk_error(request: Request, exc: DeskError) -> Response:
        return _error(request, exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        first: dict[str, Any] = exc.errors()[0] if exc.errors() else {}
        return _error(request, DeskError(422, "invalid_parameter", _message(first), _field(first)))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400:  # a body FastAPI cannot read as JSON: like any other invalid body
            return _error(request, DeskError(422, "invalid_parameter", "the body is not valid JSON", "body"))
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        # Starlette's 405 names the methods the path takes in ``Allow``: the client needs it (RFC 9110).
        return _error(request, DeskError(exc.status_code, code, str(exc.detail)), exc.headers)

    @app.exception_handler(RetryableError)
    async def unavailable(request: Request, exc: RetryableError) -> Response:
        logger.warning("desk: %s", exc)
        return _error(request, DeskError(503, "unavailable", str(exc)))

    @app.exception_handler(PdtrailError)
    async def pdtrail_error(request: Request, exc: PdtrailError) -> Response:
        logger.warning("desk: %s", exc)
        status = 503 if isinstance(exc, LookupNotRecordedError) else 400
        return _error(request, DeskError(status, "unavailable" if status == 503 else "bad_request", str(exc)))

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        logger.exception("desk: unexpected error on %s", request.url.path)
        return _error(request, DeskError(500, "internal", "internal error; the desk's log has the details"))


def _field(error: dict[str, Any]) -> str:
    """The request field an error is about: the parameter's or body member's name, ``body`` for a body
    that is not JSON or not an object (FastAPI's location then ends in a character position or is empty)."""
    loc = [part for part in error.get("loc", ()) if isinstance(part, str)]
    if error.get("type") == "json_invalid" or len(loc) < 2:
        return loc[0] if len(loc) == 1 and loc[0] != "body" else "body"
    return loc[1]  # (where, name[, inner...]): the top-level name is what the client sent


def _message(error: dict[str, Any]) -> str:
    # pydantic's message, without the value: an identifier sent in the wrong place must not come back.
    return str(error.get("msg", "invalid request"))[:200]
