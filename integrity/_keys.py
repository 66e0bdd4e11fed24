"""Ed25519 keys: the consumer signs checkpoints, anyone with the public keys verifies them.

The signing key is a PEM (PKCS#8) file or the base64 of the 32 raw private bytes in an environment
variable. Each key is known by ``key_id`` = the first 16 hex digits of SHA-256 of its raw public key,
stamped on every checkpoint. Rotation: start signing with a new key, keep the old public key in
``public_keys_dir``; old checkpoints verify under it forever.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from pdtrail._files import private_dir, write_private
from pdtrail.integrity.exceptions import SigningKeyError
from pdtrail.integrity.verify_proof import key_id


def public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class Signer:
    private_key: Ed25519PrivateKey

    @property
    def public_key_raw(self) -> bytes:
        return public_raw(self.private_key.public_key())

    @property
    def key_id(self) -> str:
        return key_id(self.public_key_raw)

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)  # Ed25519 is deterministic: same message, same signature


def load_signer(*, key_file: Path | None, key_b64: str | None) -> Signer:
    if key_b64:
        try:
            return Signer(Ed25519PrivateKey.from_private_bytes(base64.b64decode(key_b64)))
        except ValueError:
            raise SigningKeyError("PDTRAIL_INTEGRITY__SIGNING_KEY", "not base64 of 32 raw Ed25519 bytes") from None
    if key_file is None:
        raise SigningKeyError(
            "PDTRAIL_INTEGRITY__SIGNING_KEY_FILE", "no checkpoint signing key; create one with `pdtrail keys generate`"
        )
    try:
        key = load_pem_private_key(key_file.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:  # TypeError: the file is passphrase-protected
        raise SigningKeyError(str(key_file), f"cannot read an Ed25519 private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(str(key_file), "not an Ed25519 private key")
    return Signer(key)


def generate_key_files(directory: Path) -> tuple[Path, Path]:
    """Write ``<key_id>.key`` (0600) and ``<key_id>.pub`` into ``directory``; returns both paths."""
    private = Ed25519PrivateKey.generate()
    kid = key_id(public_raw(private.public_key()))
    private_dir(directory)
    key_path, pub_path = directory / f"{kid}.key", directory / f"{kid}.pub"
    write_private(key_path, private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()), replace=False)
    pub_path.write_bytes(private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    return key_path, pub_path


def load_public_keys(directory: Path | None, *also: bytes) -> dict[str, bytes]:
    """Raw public keys by key id: every ``*.pub`` PEM file in ``directory`` plus ``also``."""
    found = {key_id(raw): raw for raw in also}
    if directory is None or not directory.exists():
        return found
    for path in sorted(directory.glob("*.pub")):
        try:
            key = load_pem_public_key(path.read_bytes())
        except ValueError as exc:
            raise SigningKeyError(str(path), f"not a PEM public key: {exc}") from None
        if isinstance(key, Ed25519PublicKey):
            raw = public_raw(key)
            found[key_id(raw)] = raw
    return found
