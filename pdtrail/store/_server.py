"""The query endpoint of the process that owns an embedded store.

An ASGI application served by uvicorn on 127.0.0.1 in a background thread (bearer token from the
owner file) that runs only the named queries of :mod:`pdtrail.queries`: ``POST /v1/query/<name>``
with ``{"params": {...}}``, ``GET /v1/health``. Errors are JSON ``{"error": "..."}``, never a stack
trace; what is not HTTP at all (garbage, a bad or negative ``Content-Length``) is answered 400 by
the HTTP server itself, and a body is read only up to ``MAX_BODY``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from pdtrail.errors import PdtrailError
from pdtrail.queries import QueryBackend, to_json_value

logger = logging.getLogger("pdtrail.store")
MAX_BODY = 1 << 20
BODY_TIMEOUT_S = 10.0
QUERY_PREFIX = "/v1/query/"


class _TooLarge(Exception):
    pass


class QueryApp:
    """The endpoint as a bare ASGI app: three answers, each a JSON object, and nothing else."""

    def __init__(self, backend: QueryBackend, token: str, health: Callable[[], dict[str, Any]]) -> None:
        self.backend = backend
        self._token = token.encode()
        self.health = health
        self._lock = threading.Lock()  # one query at a time: a chDB client is not safe across threads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # lifespan and websockets: nothing to do
        request = Request(scope, receive)
        try:
            response = await self._answer(request)
        except ClientDisconnect:
            return  # the client left before its body was complete: nobody to answer
        await response(scope, receive, send)

    def _authorised(self, request: Request) -> bool:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").encode()
        return hmac.compare_digest(given, self._token)

    async def _answer(self, request: Request) -> JSONResponse:
        path, method = request.url.path, request.method
        if not self._authorised(request):
            return JSONResponse({"error": "missing or wrong token"}, status_code=401)
        if path == "/v1/health":
            if method != "GET":
                return JSONResponse({"error": "use GET"}, status_code=405, headers={"Allow": "GET"})
            return JSONResponse({"status": "ok", **self.health()})
        if not path.startswith(QUERY_PREFIX):
            return JSONResponse({"error": "no such endpoint"}, status_code=404)
        if method != "POST":
            return JSONResponse({"error": "use POST"}, status_code=405, headers={"Allow": "POST"})
        try:
            async with asyncio.timeout(BODY_TIMEOUT_S):  # a body announced and never sent holds no slot
                body = await _body(request)
        except _TooLarge:
            return JSONResponse({"error": "request body too large"}, status_code=413)
        except TimeoutError:
            return JSONResponse({"error": "the request body did not arrive in time"}, status_code=408)
        try:
            params = json.loads(body or b"{}").get("params", {})
            if not isinstance(params, dict):
                raise ValueError("params is not an object")
        except (ValueError, AttributeError, UnicodeDecodeError):
            return JSONResponse({"error": 'body must be JSON: {"params": {...}}'}, status_code=400)
        return await run_in_threadpool(self._run, path.removeprefix(QUERY_PREFIX), params)

    def _run(self, name: str, params: dict[str, Any]) -> JSONResponse:
        try:
            with self._lock:
                result = self.backend.run(name, params)
        except PdtrailError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except Exception:
            logger.exception("query failed in the store owner")
            return JSONResponse({"error": "internal error in the store owner; see its log"}, status_code=500)
        rows = [[to_json_value(v) for v in row] for row in result.rows]
        return JSONResponse({"columns": result.columns, "types": result.types, "rows": rows})


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise _TooLarge  # said so up front: do not read it
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:  # chunked, or longer than declared: stop reading
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


class QueryServer:
    """Serves ``backend`` on ``host:port`` (0 = any free port) under uvicorn in a background thread."""

    def __init__(
        self, backend: QueryBackend, token: str, *, host: str = "127.0.0.1", port: int = 0,
        health: Callable[[], dict[str, Any]] | None = None,
    ) -> None:  # fmt: skip
        self.app = QueryApp(backend, token, health or (lambda: {}))
        # Bound here, so the URL is known before the server runs and the port cannot be taken meanwhile.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self._socket.listen(128)
        config = uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=5,
            limit_concurrency=64, h11_max_incomplete_event_size=64 * 1024, server_header=False,
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="pdtrail-query", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._socket.getsockname()[:2]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    def start(self, wait_s: float = 10.0) -> QueryServer:
        self._thread.start()
        deadline = time.monotonic() + wait_s
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._socket.close()
