#!/usr/bin/env python3
"""Verify a pdtrail inclusion proof offline: ``python verify_proof.py proof.json [public_key.pem]``.

Needs only the Python standard library and ``cryptography``. A proof (made by ``pdtrail prove``) says:
this stored event is leaf ``index`` of ``size`` leaves whose Merkle root a signed checkpoint commits to.
The procedure, step by step:

1. leaf = SHA-256(0x00 || canonical JSON of the event's stored columns)   (canonical: sorted keys, no
   spaces, UTF-8; times as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``)
2. root = the RFC 9162 (Certificate Transparency v2) inclusion-path fold of the leaf with ``path``,
   where an inner node is SHA-256(0x01 || left || right)
3. root must equal the checkpoint's ``root``; the checkpoint's offset range must hold the event's offset
4. the Ed25519 signature must verify over the checkpoint's canonical JSON without ``signature``, under
   the public key given (or the one in the proof, whose id must equal the checkpoint's ``key_id``).

Exit code 0 and "VALID" when every step holds; 1 and the first step that failed otherwise.
pdtrail's own code uses these functions, so the proof is checked the same way everywhere.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from typing import Any

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def leaf_hash(canonical_row: dict[str, Any]) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + canonical_json(canonical_row)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def root_from_inclusion_path(leaf: bytes, index: int, size: int, path: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.3.2: the root implied by a leaf, its index, the tree size and the path."""
    if not 0 <= index < size:
        raise ValueError("leaf index outside the tree")
    fn, sn, node = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            raise ValueError("inclusion path is too long")
        if fn & 1 or fn == sn:
            node = node_hash(sibling, node)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            node = node_hash(node, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ValueError("inclusion path is too short")
    return node


def key_id(public_key_raw: bytes) -> str:
    return hashlib.sha256(public_key_raw).hexdigest()[:16]


def checkpoint_signed_bytes(checkpoint: dict[str, Any]) -> bytes:
    return canonical_json({k: v for k, v in checkpoint.items() if k != "signature"})


def verify_signature(checkpoint: dict[str, Any], public_key_raw: bytes, signed: bytes | None = None) -> bool:
    """``signed``: the checkpoint's signed bytes, when the caller has them already."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public_key_raw).verify(
            bytes.fromhex(checkpoint["signature"]), checkpoint_signed_bytes(checkpoint) if signed is None else signed
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def check_proof(proof: dict[str, Any], public_key_raw: bytes | None = None) -> str | None:
    """None when the proof holds, else the first failed step in words."""
    checkpoint = proof["checkpoint"]
    try:
        key = public_key_raw if public_key_raw is not None else base64.b64decode(proof["public_key"], validate=True)
    except (ValueError, TypeError):
        return "step 4: the proof's public key is not base64"
    if key_id(key) != checkpoint["key_id"]:
        return "step 4: the public key is not the one that signed the checkpoint"
    leaf = leaf_hash(proof["event"])
    try:
        root = root_from_inclusion_path(leaf, proof["index"], proof["size"], [bytes.fromhex(h) for h in proof["path"]])
    except ValueError as exc:
        return f"step 2: {exc}"
    if proof["size"] != checkpoint["leaf_count"] or root.hex() != checkpoint["root"]:
        return "step 3: the event does not lead to the checkpoint's root (event or path altered)"
    offset = proof["event"]["kafka_offset"]
    if not checkpoint["first_offset"] <= offset <= checkpoint["last_offset"]:
        return "step 3: the event's offset is outside the checkpoint's range"
    if not verify_signature(checkpoint, key):
        return "step 4: the checkpoint's signature does not verify"
    return None


def _load_public_key(path: str) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

    with open(path, "rb") as handle:
        key = load_pem_public_key(handle.read())
    if not isinstance(key, Ed25519PublicKey):
        raise SystemExit(f"{path}: not an Ed25519 public key")
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    with open(argv[0], encoding="utf-8") as handle:
        proof = json.load(handle)
    failure = check_proof(proof, _load_public_key(argv[1]) if len(argv) > 1 else None)
    if failure:
        print(f"INVALID: {failure}")
        return 1
    event = proof["event"]
    print(f"VALID: event {event['event_id']} is leaf {proof['index']} of {proof['size']} under checkpoint "
          f"{proof['checkpoint']['topic']}[{proof['checkpoint']['partition']}] #{proof['checkpoint']['seq']}, "
          f"signed by key {proof['checkpoint']['key_id']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
