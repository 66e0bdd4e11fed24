"""A checkpoint: a signed statement that these rows, in this order, are the log of one partition."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pdtrail.integrity.verify_proof import checkpoint_signed_bytes, verify_signature

# Of each leaf hash, kept in the checkpoint to name the row that changed. The prefix only names: a changed row
# whose new leaf happens to share it still breaks the signed Merkle root, so 4 bytes (one named row in 4e9 left
# to the root check) detect exactly what 8 did, at half the bytes: the prefixes are random, the one per-event
# cost of integrity on disk (bench/bench_bytes.py). Checkpoints signed before hold 8; see leaf_matches.
PREFIX_BYTES = 4
COLUMNS = (
    "topic", "partition", "seq", "first_offset", "last_offset", "leaf_count", "root", "offsets",
    "leaf_prefixes", "months", "min_occurred_at", "max_occurred_at", "prev", "key_id", "signature",
)  # fmt: skip


def leaf_matches(leaf: bytes, prefix: str | None) -> bool:
    """Whether ``leaf`` is the one a checkpoint listed as ``prefix`` (hex, of whatever length it was signed with)."""
    return bool(prefix) and leaf[: len(prefix or "") // 2].hex() == prefix


@dataclass(frozen=True)
class Checkpoint:
    """``prev`` is the digest of the previous checkpoint of the partition ("" for the first), so the
    checkpoints form a chain: one removed or altered breaks it. No timestamp: the same rows give the
    same checkpoint, byte for byte (Ed25519 signatures are deterministic)."""

    topic: str
    partition: int
    seq: int
    first_offset: int
    last_offset: int
    leaf_count: int
    root: str
    offsets: list[int]
    leaf_prefixes: list[str]
    months: list[int]  # yyyymm of each row's occurred_at: what retention may drop
    min_occurred_at: str
    max_occurred_at: str
    prev: str
    key_id: str
    signature: str = ""

    def as_dict(self) -> dict[str, Any]:
        # Fields and fresh lists of their values: dataclasses.asdict deep-copies each of the thousand
        # offsets and prefixes one by one (a seventh of the consumer's time on the ingest profile).
        return {name: list(value) if isinstance(value, list) else value for name, value in self._fields()}

    def _fields(self) -> list[tuple[str, Any]]:
        return [(name, getattr(self, name)) for name in COLUMNS]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Checkpoint:
        values = {name: data[name] for name in COLUMNS}
        values["offsets"] = [int(o) for o in values["offsets"]]
        values["leaf_prefixes"] = list(values["leaf_prefixes"])
        values["months"] = [int(m) for m in values["months"]]
        return cls(**values)

    @cached_property
    def _signed(self) -> bytes:
        # The canonical JSON of a thousand offsets and prefixes, made once: verify needs it for the signature
        # and again as the next checkpoint's ``prev`` (made twice, it was a twelfth of verify's Python time).
        return checkpoint_signed_bytes(self.as_dict())

    @property
    def digest(self) -> str:
        """What the next checkpoint's ``prev`` must be."""
        return hashlib.sha256(self._signed).hexdigest()

    def verifies_under(self, public_key_raw: bytes) -> bool:
        return verify_signature({"signature": self.signature}, public_key_raw, self._signed)

    def as_row(self) -> list[Any]:
        return [getattr(self, name) for name in COLUMNS]
