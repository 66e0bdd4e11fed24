"""Merkle trees as in RFC 9162 (Certificate Transparency v2): the root over a segment of leaves and
the inclusion path of one leaf. Hashing and path verification live in verify_proof.py, so that the
standalone verifier and pdtrail compute exactly the same thing."""

from __future__ import annotations

import hashlib

from pdtrail.integrity.verify_proof import NODE_PREFIX


def _split(size: int) -> int:
    """The largest power of two smaller than ``size`` (size >= 2)."""
    k = 1
    while k << 1 < size:
        k <<= 1
    return k


def merkle_root(leaves: list[bytes]) -> bytes:
    if not leaves:
        raise ValueError("a checkpoint covers at least one leaf")
    level = list(leaves)
    sha256 = hashlib.sha256
    # Bottom-up in pairs gives the RFC 9162 tree too: an odd node is carried up unchanged, which is
    # what the largest-power-of-two split does, and it needs no recursion for large segments.
    while len(level) > 1:
        # node_hash inlined: verify hashes every leaf of the log up this loop (a quarter of its Python time).
        paired = [sha256(NODE_PREFIX + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def inclusion_path(leaves: list[bytes], index: int) -> list[bytes]:
    """RFC 9162 PATH(index, leaves): the sibling hashes from the leaf up to the root."""
    if not 0 <= index < len(leaves):
        raise ValueError("leaf index outside the tree")
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*inclusion_path(leaves[:k], index), merkle_root(leaves[k:])]
    return [*inclusion_path(leaves[k:], index - k), merkle_root(leaves[:k])]
