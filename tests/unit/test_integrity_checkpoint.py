"""Checkpoints: signed over their canonical JSON, chained by digest, round-tripped through a dict."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pdtrail.integrity import Checkpoint, Signer
from pdtrail.integrity._checkpoint import COLUMNS, PREFIX_BYTES, leaf_matches
from pdtrail.integrity.verify_proof import canonical_json, checkpoint_signed_bytes

UNSIGNED_FIELDS = tuple(name for name in COLUMNS if name != "signature")


def body(signer: Signer, **overrides: Any) -> Checkpoint:
    offsets = [40, 41, 43, 44]
    values: dict[str, Any] = {
        "topic": "pdtrail.events",
        "partition": 2,
        "seq": 3,
        "first_offset": offsets[0],
        "last_offset": offsets[-1],
        "leaf_count": len(offsets),
        "root": hashlib.sha256(b"root").hexdigest(),
        "offsets": offsets,
        "leaf_prefixes": [hashlib.sha256(b"%d" % o).hexdigest()[:16] for o in offsets],
        "months": [202601 for _ in offsets],
        "min_occurred_at": "2026-01-01T00:00:00.000000Z",
        "max_occurred_at": "2026-01-02T00:00:00.000000Z",
        "prev": hashlib.sha256(b"previous").hexdigest(),
        "key_id": signer.key_id,
    }
    return Checkpoint(**{**values, **overrides})


def signed(signer: Signer, checkpoint: Checkpoint) -> Checkpoint:
    """As the recorder signs: over the canonical JSON of the body without the signature."""
    signature = signer.sign(checkpoint_signed_bytes(checkpoint.as_dict())).hex()
    return dataclasses.replace(checkpoint, signature=signature)


def _changed(name: str, value: Any) -> Any:
    if isinstance(value, int):
        return value + 1
    if name == "offsets":
        return [*value[:-1], value[-1] + 1]
    if name == "leaf_prefixes":
        return [*value[:-1], "00" * 8]
    if name == "months":
        return [*value[:-1], value[-1] - 1]
    if name == "prev" or name == "root":
        return hashlib.sha256(value.encode()).hexdigest()
    assert isinstance(value, str), name
    return value + "x"


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


def test_a_signed_checkpoint_verifies_under_its_key(signer: Signer) -> None:
    checkpoint = signed(signer, body(signer))
    assert checkpoint.verifies_under(signer.public_key_raw)
    assert len(bytes.fromhex(checkpoint.signature)) == 64


def test_an_unsigned_checkpoint_does_not_verify(signer: Signer) -> None:
    assert not body(signer).verifies_under(signer.public_key_raw)


def test_another_key_does_not_verify(signer: Signer) -> None:
    other = Signer(Ed25519PrivateKey.generate())
    assert not signed(signer, body(signer)).verifies_under(other.public_key_raw)
    assert not signed(signer, body(signer)).verifies_under(b"\x00" * 31)  # not even a key


@pytest.mark.parametrize("name", UNSIGNED_FIELDS)
def test_any_changed_field_breaks_the_signature(signer: Signer, name: str) -> None:
    checkpoint = signed(signer, body(signer))
    altered = dataclasses.replace(checkpoint, **{name: _changed(name, getattr(checkpoint, name))})
    assert altered != checkpoint
    assert not altered.verifies_under(signer.public_key_raw)


def test_a_changed_signature_does_not_verify(signer: Signer) -> None:
    checkpoint = signed(signer, body(signer))
    raw = bytearray(bytes.fromhex(checkpoint.signature))
    for position in (0, 31, 63):
        tampered = bytearray(raw)
        tampered[position] ^= 0x01
        assert not dataclasses.replace(checkpoint, signature=tampered.hex()).verifies_under(signer.public_key_raw)
    for bad in ("", "zz", checkpoint.signature[:-2], checkpoint.signature + "00"):
        assert not dataclasses.replace(checkpoint, signature=bad).verifies_under(signer.public_key_raw)


def test_signatures_are_deterministic(signer: Signer) -> None:
    assert signed(signer, body(signer)) == signed(signer, body(signer))
    assert signed(signer, body(signer)).signature != signed(signer, body(signer, seq=4)).signature


def test_the_signed_bytes_are_the_canonical_body(signer: Signer) -> None:
    checkpoint = signed(signer, body(signer))
    without = {k: v for k, v in checkpoint.as_dict().items() if k != "signature"}
    assert checkpoint_signed_bytes(checkpoint.as_dict()) == canonical_json(without)
    assert checkpoint_signed_bytes(checkpoint.as_dict()) == checkpoint_signed_bytes(body(signer).as_dict())


def test_digest_is_the_hash_of_the_signed_body(signer: Signer) -> None:
    checkpoint = signed(signer, body(signer))
    assert checkpoint.digest == hashlib.sha256(checkpoint_signed_bytes(checkpoint.as_dict())).hexdigest()
    # The signature is a deterministic function of the body, so the digest leaves it out: the chain
    # links the same thing the signature covers.
    assert checkpoint.digest == body(signer).digest


@pytest.mark.parametrize("name", UNSIGNED_FIELDS)
def test_digest_changes_with_any_field(signer: Signer, name: str) -> None:
    checkpoint = signed(signer, body(signer))
    altered = dataclasses.replace(checkpoint, **{name: _changed(name, getattr(checkpoint, name))})
    assert altered.digest != checkpoint.digest


def test_a_chain_links_by_digest(signer: Signer) -> None:
    first = signed(signer, body(signer, seq=0, prev=""))
    second = signed(signer, body(signer, seq=1, prev=first.digest, first_offset=45, last_offset=45, offsets=[45]))
    assert second.prev == first.digest
    rewritten = signed(signer, dataclasses.replace(first, root=_changed("root", first.root)))
    assert rewritten.verifies_under(signer.public_key_raw)  # a re-signed first checkpoint ...
    assert rewritten.digest != second.prev  # ... no longer is what the second one follows


def test_round_trip_through_a_dict(signer: Signer) -> None:
    checkpoint = signed(signer, body(signer))
    data = checkpoint.as_dict()
    assert list(data) == list(COLUMNS)
    again = Checkpoint.from_dict(data)
    assert again == checkpoint
    assert again.verifies_under(signer.public_key_raw)
    assert checkpoint.as_row() == [data[name] for name in COLUMNS]


def test_from_dict_takes_a_stored_row(signer: Signer) -> None:
    """ClickHouse may hand arrays back as tuples and carry extra columns: the checkpoint is the same."""
    checkpoint = signed(signer, body(signer))
    stored = {
        **checkpoint.as_dict(),
        "offsets": tuple(checkpoint.offsets),
        "leaf_prefixes": tuple(checkpoint.leaf_prefixes),
        "months": tuple(checkpoint.months),
        "written_at": "2026-01-01 00:00:00",
    }
    again = Checkpoint.from_dict(stored)
    assert again == checkpoint and isinstance(again.offsets, list) and isinstance(again.leaf_prefixes, list)
    assert again.verifies_under(signer.public_key_raw)
    with pytest.raises(KeyError):
        Checkpoint.from_dict({k: v for k, v in stored.items() if k != "root"})


def test_a_leaf_matches_the_prefix_it_was_signed_with_whatever_its_length() -> None:
    leaf = hashlib.sha256(b"a row").digest()
    other = hashlib.sha256(b"another row").digest()
    for length in (8, PREFIX_BYTES):  # checkpoints signed before 4-byte prefixes hold 8
        prefix = leaf[:length].hex()
        assert leaf_matches(leaf, prefix)
        assert not leaf_matches(other, prefix)
        assert not leaf_matches(leaf, prefix[:-1] + ("0" if prefix[-1] != "0" else "1"))
    assert PREFIX_BYTES == 4
    assert not leaf_matches(leaf, None)  # an offset the checkpoint does not list
    assert not leaf_matches(leaf, "")  # an empty prefix names nothing
