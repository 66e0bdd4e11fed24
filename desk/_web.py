"""What every answer of the desk carries, and what every state-changing UI request must show.

* Security headers on every answer (API, UI, static files, errors): a Content-Security-Policy that
  allows only the desk's own scripts, styles and images and no framing, ``X-Frame-Options: DENY``,
  ``nosniff``, ``Referrer-Policy: same-origin`` (subject references are in URLs: they never leave
  in a Referer), ``Cache-Control: no-store`` on answers about people, and HSTS over TLS.
* The Origin check: a UI request that is not GET/HEAD/OPTIONS must come from the desk's own origin
  (``Origin``, else ``Referer``; neither is refused): ``desk.base_url`` when set, else the origin
  the browser addressed. The forms' CSRF tokens (:mod:`pdtrail.desk._sessions`) come on top of it.
  The API takes bearer tokens in a header, which a foreign page cannot make a browser send.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pdtrail.config import DeskSettings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# The API's browsable docs (Swagger UI) load their script and style from a CDN and start inline.
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` in lower case, default ports dropped; None for what is not an http(s) URL."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    # `port is not None`, not `port`: port 0 is falsy, and taken for the default it made
    # "http://desk:0" the desk's own origin (found by the generated foreign origins of tests/security).
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


class WebGuard:
    """ASGI middleware: the headers on every answer, the Origin check on every state-changing UI request."""

    def __init__(self, app: ASGIApp, settings: DeskSettings) -> None:
        self.app = app
        self.base_origin = origin_of(settings.base_url) if settings.base_url else None
        self.behind_tls_proxy = settings.behind_tls_proxy

    def secure(self, scope: Scope) -> bool:
        return self.behind_tls_proxy or scope.get("scheme") == "https"

    def expected_origin(self, scope: Scope, headers: Headers) -> str | None:
        if self.base_origin:
            return self.base_origin
        scheme = "https" if self.secure(scope) else "http"
        return origin_of(f"{scheme}://{headers.get('host', '')}")

    def origin_allowed(self, scope: Scope) -> bool:
        headers = Headers(scope=scope)
        given = headers.get("origin")
        claimed = origin_of(given) if given and given != "null" else None
        if given is None:
            referer = headers.get("referer")
            claimed = origin_of(referer) if referer else None
        expected = self.expected_origin(scope, headers)
        return claimed is not None and expected is not None and claimed == expected

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        secure = self.secure(scope)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = DOCS_CSP if path == "/api/docs" else CSP
                headers["X-Frame-Options"] = "DENY"
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "same-origin"
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                if not path.startswith("/static/"):
                    headers["Cache-Control"] = "no-store"
                if secure:
                    headers["Strict-Transport-Security"] = "max-age=31536000"
            await send(message)

        if scope["method"] not in SAFE_METHODS and not path.startswith("/api/") and not self.origin_allowed(scope):
            refused = PlainTextResponse(
                "refused: this request did not come from the desk's own pages (Origin check)", status_code=403
            )
            await refused(scope, receive, with_headers)
            return
        await self.app(scope, receive, with_headers)
