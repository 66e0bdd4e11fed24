"""Merkle roots and inclusion paths (integrity/_merkle.py, verify_proof.root_from_inclusion_path) against
RFC 9162 written out here from its recursive definitions, and against the published RFC 6962 test vectors."""

from __future__ import annotations

import hashlib

import pytest

from pdtrail.integrity._merkle import inclusion_path, merkle_root
from pdtrail.integrity.verify_proof import leaf_hash, node_hash, root_from_inclusion_path


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _split(size: int) -> int:
    """RFC 9162 2.1.1: the largest power of two smaller than size."""
    k = 1
    while k * 2 < size:
        k *= 2
    return k


def reference_mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 MTH over leaf hashes: a leaf is its own hash, a node is SHA-256(0x01 || left || right)."""
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return _sha256(b"\x01" + reference_mth(leaves[:k]) + reference_mth(leaves[k:]))


def reference_sides(index: int, size: int) -> list[str]:
    """From RFC 9162 PATH(m, D[n]): on which side of the running node each path element sits, leaf upwards."""
    if size == 1:
        return []
    k = _split(size)
    if index < k:
        return [*reference_sides(index, k), "right"]
    return [*reference_sides(index - k, size - k), "left"]


def _leaves(count: int) -> list[bytes]:
    return [_sha256(b"leaf %d" % n) for n in range(count)]


def _fold(leaf: bytes, index: int, size: int, path: list[bytes]) -> bytes | None:
    """root_from_inclusion_path, with a rejected path as None."""
    try:
        return root_from_inclusion_path(leaf, index, size, path)
    except ValueError:
        return None


def _flip(digest: bytes, bit: int) -> bytes:
    flipped = bytearray(digest)
    flipped[bit // 8 % len(flipped)] ^= 1 << (bit % 8)
    return bytes(flipped)


# ---- RFC 6962 / 9162 published test vectors ----------------------------------------------------

RFC_LEAF_DATA = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
RFC_ROOTS = [  # MTH of the first n leaves, n = 1..8
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
RFC_PATHS = {  # (index, size): inclusion path
    (0, 1): [],
    (2, 3): ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    (1, 5): [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
    (0, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (5, 8): [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}


def _rfc_leaves() -> list[bytes]:
    return [_sha256(b"\x00" + bytes.fromhex(data)) for data in RFC_LEAF_DATA]


def test_the_reference_reproduces_the_published_roots() -> None:
    leaves = _rfc_leaves()
    assert [reference_mth(leaves[:n]).hex() for n in range(1, 9)] == RFC_ROOTS


def test_published_roots() -> None:
    leaves = _rfc_leaves()
    assert [merkle_root(leaves[:n]).hex() for n in range(1, 9)] == RFC_ROOTS


@pytest.mark.parametrize(("index", "size"), list(RFC_PATHS), ids=lambda v: str(v))
def test_published_inclusion_paths(index: int, size: int) -> None:
    leaves = _rfc_leaves()[:size]
    path = inclusion_path(leaves, index)
    assert [h.hex() for h in path] == RFC_PATHS[(index, size)]
    assert root_from_inclusion_path(leaves[index], index, size, path).hex() == RFC_ROOTS[size - 1]


# ---- merkle_root -------------------------------------------------------------------------------


def test_root_equals_the_recursive_definition_for_every_size_up_to_70() -> None:
    leaves = _leaves(70)
    for size in range(1, 71):
        assert merkle_root(leaves[:size]) == reference_mth(leaves[:size]), size


def test_a_single_leaf_is_its_own_root() -> None:
    leaf = _sha256(b"only")
    assert merkle_root([leaf]) == leaf


def test_no_leaves_have_no_root() -> None:
    with pytest.raises(ValueError):
        merkle_root([])


def test_root_depends_on_order_and_does_not_touch_its_input() -> None:
    leaves = _leaves(5)
    before = list(leaves)
    root = merkle_root(leaves)
    assert leaves == before
    assert merkle_root(leaves[::-1]) != root
    assert merkle_root([*leaves, leaves[-1]]) != root  # a duplicated last leaf is not the same tree


def test_hash_primitives() -> None:
    left, right = _sha256(b"l"), _sha256(b"r")
    assert node_hash(left, right) == _sha256(b"\x01" + left + right)
    # canonical JSON: sorted keys, no spaces, UTF-8 (not \u escapes)
    assert leaf_hash({"b": 1, "a": "\u00e4"}) == _sha256(b'\x00{"a":"\xc3\xa4","b":1}')
    assert leaf_hash({}) != node_hash(b"", b"")  # domain separation between leaves and nodes


# ---- inclusion paths ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", range(1, 41))
def test_every_path_leads_to_the_root(size: int) -> None:
    leaves = _leaves(size)
    root = merkle_root(leaves)
    for index in range(size):
        path = inclusion_path(leaves, index)
        assert len(path) == len(reference_sides(index, size))
        assert root_from_inclusion_path(leaves[index], index, size, path) == root, index


@pytest.mark.parametrize("size", range(1, 41))
def test_a_wrong_index_or_path_length_does_not_lead_to_the_root(size: int) -> None:
    leaves = _leaves(size)
    root = merkle_root(leaves)
    for index in range(size):
        path = inclusion_path(leaves, index)
        leaf = leaves[index]
        for other in range(size):
            if other != index:
                assert _fold(leaf, other, size, path) != root, (index, other)
        with pytest.raises(ValueError):
            root_from_inclusion_path(leaf, index, size, [*path, root])
        if path:
            with pytest.raises(ValueError):
                root_from_inclusion_path(leaf, index, size, path[:-1])
        for bad in (-1, size, size + 1):
            with pytest.raises(ValueError):
                root_from_inclusion_path(leaf, bad, size, path)


@pytest.mark.parametrize("size", range(1, 41))
def test_a_flipped_bit_in_any_path_element_changes_the_root(size: int) -> None:
    leaves = _leaves(size)
    root = merkle_root(leaves)
    for index in range(size):
        path = inclusion_path(leaves, index)
        for position in range(len(path)):
            for bit in (0, 7 * position + 3, 255):
                altered = [*path]
                altered[position] = _flip(path[position], bit)
                assert _fold(leaves[index], index, size, altered) != root, (index, position, bit)
        assert _fold(_flip(leaves[index], 100), index, size, path) != root


@pytest.mark.parametrize("size", range(1, 41))
def test_a_wrong_size_leads_to_the_root_only_for_a_tree_of_the_same_shape(size: int) -> None:
    """The fold checks the path against the size only through its shape: leaf 0 of 5 and leaf 0 of 6 both
    have three siblings to the right, so the same path folds to the same root under either size. That is
    RFC 9162 as written; the verifier must (and check_proof does) compare the size with the signed one."""
    leaves = _leaves(size)
    root = merkle_root(leaves)
    same_shape = 0
    for index in range(size):
        path = inclusion_path(leaves, index)
        for wrong in range(index + 1, 45):
            if wrong == size:
                continue
            got = _fold(leaves[index], index, wrong, path)
            if reference_sides(index, wrong) == reference_sides(index, size):
                assert got == root, (index, wrong)
                same_shape += 1
            else:
                assert got != root, (index, wrong)
    if size == 5:
        assert same_shape > 0


def test_inclusion_path_rejects_an_index_outside_the_tree() -> None:
    leaves = _leaves(4)
    for bad in (-1, 4, 5):
        with pytest.raises(ValueError):
            inclusion_path(leaves, bad)
    with pytest.raises(ValueError):
        inclusion_path([], 0)
