"""Proof: a tamper-evident log that an auditor can verify.

At ingest, every stored row becomes a leaf (SHA-256 over its canonical form); per Kafka partition, in
offset order, the consumer signs a checkpoint (Ed25519) over the Merkle root of the rows since the
previous checkpoint, chained to it, every N rows or T seconds. Checkpoints go to ClickHouse and to a
Kafka topic kept forever. ``verify`` recomputes everything from the stored rows and names what
changed; ``prove`` makes an inclusion proof that ``verify_proof.py`` checks offline.
"""

from __future__ import annotations

import base64

from pdtrail.config import Settings
from pdtrail.integrity._canonical import JSON_PLAIN_SQL, LEAF_FORMAT, LEAF_SQL, row_leaves
from pdtrail.integrity._checkpoint import Checkpoint
from pdtrail.integrity._external import read_external
from pdtrail.integrity._keys import Signer, generate_key_files, load_public_keys, load_signer
from pdtrail.integrity._prove import prove
from pdtrail.integrity._recorder import IntegrityRecorder
from pdtrail.integrity._verify import Finding, VerifyReport, verify
from pdtrail.integrity.exceptions import IntegrityError, ProofError, SigningKeyError


def signer_from_settings(settings: Settings) -> Signer:
    integrity = settings.integrity
    key_b64 = integrity.signing_key.get_secret_value() if integrity.signing_key else None
    return load_signer(key_file=integrity.signing_key_file, key_b64=key_b64)


def public_keys_from_settings(settings: Settings) -> dict[str, bytes]:
    """Every public key that may have signed a checkpoint: the keys directory and the current signer."""
    also = []
    if settings.integrity.signing_key or settings.integrity.signing_key_file:
        also.append(signer_from_settings(settings).public_key_raw)
    return load_public_keys(settings.integrity.public_keys_dir, *also)


def encode_key(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


__all__ = [
    "JSON_PLAIN_SQL",
    "LEAF_FORMAT",
    "LEAF_SQL",
    "Checkpoint",
    "Finding",
    "IntegrityError",
    "IntegrityRecorder",
    "ProofError",
    "Signer",
    "SigningKeyError",
    "VerifyReport",
    "encode_key",
    "generate_key_files",
    "load_public_keys",
    "load_signer",
    "prove",
    "public_keys_from_settings",
    "read_external",
    "row_leaves",
    "signer_from_settings",
    "verify",
]
