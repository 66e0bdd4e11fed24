"""Server-side sessions of the web UI, and the CSRF tokens of its forms.

The cookie holds a random session id, never the bearer token; the desk keeps the session (the
principal, its CSRF token, its expiry) under the SHA-256 of that id. Signing out ends the session
here, so a copied cookie is worthless afterwards. One identity holds at most
``desk.sessions_per_identity`` sessions: signing in once more ends that identity's oldest, and no
identity can push out another's. Sessions live in the process that made them (behind a load
balancer, pin a browser to one replica, or it signs in again); the API's bearer tokens and the
subject references work on every replica.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from pdtrail.desk._auth import Principal


@dataclass(frozen=True)
class Session:
    principal: Principal
    csrf: str
    expires: float


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionBook:
    def __init__(self, *, ttl_s: float, per_identity: int) -> None:
        self.ttl_s = ttl_s
        self.per_identity = per_identity
        self._by_identity: dict[str, OrderedDict[str, Session]] = {}
        self._index: dict[str, str] = {}  # digest -> identity
        self._lock = threading.Lock()

    def start(self, principal: Principal) -> tuple[str, Session]:
        """A new session for ``principal``: (the cookie's value, the session)."""
        session_id = secrets.token_urlsafe(32)
        session = Session(principal, secrets.token_urlsafe(32), time.time() + self.ttl_s)
        digest = _digest(session_id)
        with self._lock:
            own = self._by_identity.setdefault(principal.identity, OrderedDict())
            own[digest] = session
            self._index[digest] = principal.identity
            while len(own) > self.per_identity:
                gone, _ = own.popitem(last=False)
                self._index.pop(gone, None)
        return session_id, session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id or len(session_id) > 128:
            return None
        digest = _digest(session_id)
        with self._lock:
            identity = self._index.get(digest)
            own = self._by_identity.get(identity) if identity else None
            session = own.get(digest) if own is not None else None
            if session is not None and session.expires <= time.time():
                self._drop(digest)
                session = None
        return session

    def end(self, session_id: str | None) -> None:
        if session_id:
            with self._lock:
                self._drop(_digest(session_id))

    def _drop(self, digest: str) -> None:
        identity = self._index.pop(digest, None)
        own = self._by_identity.get(identity) if identity is not None else None
        if own is not None:
            own.pop(digest, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._index)


def same_token(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison of a form's CSRF token with the expected one; missing is never equal."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())
