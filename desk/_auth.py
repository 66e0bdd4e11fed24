"""Tokens and roles of the DPO's desk.

A token is a random string handed to one person or service; the desk keeps only its SHA-256, from
``desk.tokens`` and ``desk.tokens_file``. The token's identity is the actor of the meta-audit event
every lookup records. Roles: ``dpo`` may do everything, ``auditor`` reads lineage, actor activity and
findings, ``read_only`` reads lineage only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from enum import StrEnum

from pdtrail.config import DeskSettings, DeskToken
from pdtrail.errors import ConfigError


class Permission(StrEnum):
    LINEAGE = "lineage"
    ACTIVITY = "activity"
    FINDINGS = "findings"
    REPORTS = "reports"


ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "dpo": frozenset(Permission),
    "auditor": frozenset({Permission.LINEAGE, Permission.ACTIVITY, Permission.FINDINGS}),
    "read_only": frozenset({Permission.LINEAGE}),
}


@dataclass(frozen=True)
class Principal:
    identity: str
    role: str

    def may(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS.get(self.role, frozenset())


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(identity: str, role: str) -> tuple[str, DeskToken]:
    """A fresh token and the entry (with its hash only) to put in the tokens file."""
    token = "pdt_" + secrets.token_urlsafe(32)
    return token, DeskToken(identity=identity, role=role, token_sha256=token_digest(token))


class TokenStore:
    """Checks bearer tokens against the configured hashes, in constant time per entry."""

    def __init__(self, entries: list[DeskToken]) -> None:
        self._entries = [(bytes.fromhex(e.token_sha256), Principal(e.identity, e.role)) for e in entries]

    @classmethod
    def from_settings(cls, desk: DeskSettings) -> TokenStore:
        entries = list(desk.tokens)
        if desk.tokens_file is not None:
            entries += _read_tokens_file(desk)
        return cls(entries)

    def __len__(self) -> int:
        return len(self._entries)

    def authenticate(self, token: str | None) -> Principal | None:
        if not token:
            return None
        given = hashlib.sha256(token.encode()).digest()
        found: Principal | None = None
        # Compare with every entry, so the time taken does not tell which entry (if any) matched.
        for digest, principal in self._entries:
            if hmac.compare_digest(given, digest) and found is None:
                found = principal
        return found


def _read_tokens_file(desk: DeskSettings) -> list[DeskToken]:
    assert desk.tokens_file is not None
    try:
        raw = json.loads(desk.tokens_file.read_text())
        return [DeskToken(**entry) for entry in raw]
    except OSError as exc:
        raise ConfigError("PDTRAIL_DESK__TOKENS_FILE", f"cannot read: {exc.strerror}") from None
    except (ValueError, TypeError) as exc:
        reason = str(exc).splitlines()[0][:200]
        raise ConfigError(
            "PDTRAIL_DESK__TOKENS_FILE", f"must be a JSON list of {{identity, role, token_sha256}}: {reason}"
        ) from None
