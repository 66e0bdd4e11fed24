"""The query endpoint of the process that owns an embedded store.

A small HTTP server on 127.0.0.1 (threaded, bearer token from the owner file) that runs only the
named queries of :mod:`pdtrail.queries`: ``POST /v1/query/<name>`` with ``{"params": {...}}``,
``GET /v1/health``. Errors are JSON ``{"error": "..."}``, never a stack trace.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pdtrail.errors import PdtrailError
from pdtrail.queries import QueryBackend, to_json_value

logger = logging.getLogger("pdtrail.store")
MAX_BODY = 1 << 20


class QueryServer:
    """Serves ``backend`` on ``host:port`` (0 = any free port) in a background thread."""

    def __init__(
        self, backend: QueryBackend, token: str, *, host: str = "127.0.0.1", port: int = 0,
        health: Callable[[], dict[str, Any]] | None = None,
    ) -> None:  # fmt: skip
        handler = _make_handler(backend, token, health or (lambda: {}))
        self._httpd = ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="pdtrail-query", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}"

    def start(self) -> QueryServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _make_handler(
    backend: QueryBackend, token: str, health: Callable[[], dict[str, Any]]
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "pdtrail"

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("query endpoint: " + format, *args)

        def _reply(self, status: int, payload: dict[str, Any]) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _authorised(self) -> bool:
            given = self.headers.get("Authorization", "").removeprefix("Bearer ")
            if hmac.compare_digest(given.encode(), token.encode()):
                return True
            self._reply(401, {"error": "missing or wrong token"})
            return False

        def do_GET(self) -> None:
            if not self._authorised():
                return
            if self.path == "/v1/health":
                self._reply(200, {"status": "ok", **health()})
            else:
                self._reply(404, {"error": f"no such endpoint: {self.path}"})

        def do_POST(self) -> None:
            if not self._authorised():
                return
            if not self.path.startswith("/v1/query/"):
                self._reply(404, {"error": f"no such endpoint: {self.path}"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._reply(413, {"error": "request body too large"})
                return
            try:
                params = json.loads(self.rfile.read(length) or b"{}").get("params", {})
                result = backend.run(self.path.removeprefix("/v1/query/"), params)
            except (ValueError, AttributeError):
                self._reply(400, {"error": 'body must be JSON: {"params": {...}}'})
                return
            except PdtrailError as exc:
                self._reply(400, {"error": str(exc)})
                return
            except Exception:
                logger.exception("query failed in the store owner")
                self._reply(500, {"error": "internal error in the store owner; see its log"})
                return
            rows = [[to_json_value(v) for v in row] for row in result.rows]
            self._reply(200, {"columns": result.columns, "types": result.types, "rows": rows})

    return Handler
