"""Sealed subject references: what a case is, carried by the reference itself.

A reference is the subject's pseudonymous keys (one per key version, never the identifier), the
identity it is bound to, the DPO's purpose and the expiry, sealed with AES-256-GCM under the desk's
reference key. Any replica holding the key opens it, and a restart keeps it valid until it expires;
a changed byte, another key, a cut or lengthened reference all fail the authentication tag.

The keys come from ``desk.ref_keys_file`` (``{"current": "<id>", "keys": {"<id>": "<base64 of 32
bytes>", ...}}``): references are sealed under ``current`` and opened under any listed key, so a
rotation adds a key, makes it current, and drops the old one once its references have expired
(``desk.ref_ttl_s``). Without the setting, the desk makes ``<home>/desk/ref-keys.json`` (0600).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pdtrail._files import private_dir, write_private
from pdtrail.config import Settings
from pdtrail.errors import ConfigError

FORMAT = 1
NONCE = 12
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
SETTING = "PDTRAIL_DESK__REF_KEYS_FILE"


class SealError(Exception):
    """The reference does not open: not one of ours, changed, cut, or under a key no longer held."""


@dataclass(frozen=True)
class Sealed:
    """What a reference carries. ``subject`` is (key, key_version) under the current pseudonym key."""

    keys: tuple[str, ...]
    subject: tuple[str, int]
    kind: str
    owner: str
    purpose: str
    expires: float

    def as_json(self) -> dict[str, Any]:
        raw = b"".join(bytes.fromhex(k) for k in self.keys)
        return {
            "k": base64.b64encode(raw).decode(), "s": [self.subject[0], self.subject[1]], "t": self.kind,
            "i": self.owner, "p": self.purpose, "e": int(self.expires),
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Sealed:
        raw = base64.b64decode(data["k"], validate=True)
        if not raw or len(raw) % 32:
            raise ValueError("keys are 32 bytes each")
        keys = tuple(raw[i : i + 32].hex() for i in range(0, len(raw), 32))
        key, version = data["s"]
        return cls(keys, (str(key), int(version)), str(data["t"]), str(data["i"]), str(data["p"]), float(data["e"]))


class RefKeys:
    """The desk's reference keys: seals under ``current``, opens under any of ``keys``."""

    def __init__(self, current: str, keys: dict[str, bytes]) -> None:
        if current not in keys:
            raise ConfigError(SETTING, f"the current key {current!r} is not among the keys")
        for kid, key in keys.items():
            if not _KEY_ID.match(kid) or len(key) != 32:
                raise ConfigError(SETTING, f"key {kid[:32]!r}: ids are 1-32 of A-Z a-z 0-9 _ -, keys 32 bytes")
        self.current = current
        self._aead = {kid.encode(): AESGCM(key) for kid, key in keys.items()}

    @classmethod
    def generate(cls) -> RefKeys:
        return cls("k1", {"k1": AESGCM.generate_key(bit_length=256)})

    @classmethod
    def from_settings(cls, settings: Settings) -> RefKeys:
        configured = settings.desk.ref_keys_file
        if configured is not None:
            return cls.load(configured)
        local = settings.home / "desk" / "ref-keys.json"
        if not local.exists():
            private_dir(local.parent)
            made = {"current": "k1", "keys": {"k1": base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()}}
            with contextlib.suppress(FileExistsError):  # another replica on this home made it first: use it
                write_private(local, json.dumps(made), replace=False)
        return cls.load(local)

    @classmethod
    def load(cls, path: Path) -> RefKeys:
        try:
            data = json.loads(path.read_text())
            keys = {str(kid): base64.b64decode(value, validate=True) for kid, value in data["keys"].items()}
            return cls(str(data["current"]), keys)
        except OSError as exc:
            raise ConfigError(SETTING, f"cannot read {path}: {exc.strerror}") from None
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
            raise ConfigError(
                SETTING, 'must be JSON {"current": "<id>", "keys": {"<id>": "<base64 of 32 bytes>"}}'
            ) from None

    def seal(self, case: Sealed) -> str:
        kid = self.current.encode()
        header = bytes([FORMAT, len(kid)]) + kid
        nonce = secrets.token_bytes(NONCE)
        body = json.dumps(case.as_json(), separators=(",", ":")).encode()
        sealed = self._aead[kid].encrypt(nonce, body, header)  # the header is authenticated too
        return base64.urlsafe_b64encode(header + nonce + sealed).decode().rstrip("=")

    def open(self, reference: str, *, now: float | None = None) -> Sealed:
        """The sealed case; :class:`SealError` if it does not open or has expired."""
        try:
            blob = base64.urlsafe_b64decode(reference + "=" * (-len(reference) % 4))
        except (ValueError, binascii.Error):
            raise SealError("not base64") from None
        if len(blob) < 2 or blob[0] != FORMAT:
            raise SealError("not a sealed reference")
        end = 2 + blob[1]
        kid, nonce, sealed = blob[2:end], blob[end : end + NONCE], blob[end + NONCE :]
        aead = self._aead.get(kid)
        if aead is None or len(nonce) != NONCE:
            raise SealError("sealed under a key this desk does not hold")
        try:
            case = Sealed.from_json(json.loads(aead.decrypt(nonce, sealed, blob[:end])))
        except InvalidTag:
            raise SealError("the reference was changed") from None
        except (ValueError, KeyError, TypeError, binascii.Error):  # authentic but not ours: an older format
            raise SealError("not a case") from None
        if case.expires <= (time.time() if now is None else now):
            raise SealError("expired")
        return case
