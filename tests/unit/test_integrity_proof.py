"""The offline verifier (integrity/verify_proof.py) on proofs built here from simulated rows, as ``pdtrail prove``
builds them: valid proofs pass, and each kind of tampering fails at the step the procedure names."""

from __future__ import annotations

import ast
import base64
import copy
import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from pdtrail.consumers._rows import event_row
from pdtrail.integrity import Checkpoint, Signer
from pdtrail.integrity._canonical import canonical_row, values_as_row
from pdtrail.integrity._checkpoint import PREFIX_BYTES
from pdtrail.integrity._merkle import inclusion_path, merkle_root
from pdtrail.integrity.verify_proof import check_proof, checkpoint_signed_bytes, leaf_hash, main
from pdtrail.schemas import SchemaCatalog
from pdtrail.simulate import simulate_company

from ._factories import WHEN, pseudonymiser

VERIFY_PROOF = Path(__file__).resolve().parents[2] / "integrity" / "verify_proof.py"
FIRST_OFFSET = 500
SIZE = 7
OUTSIDE = "step 3: the event's offset is outside the checkpoint's range"


def stored_rows(count: int = SIZE) -> list[dict[str, Any]]:
    """Canonical rows of simulated, pseudonymised events at consecutive offsets of partition 1."""
    pseudo, catalog = pseudonymiser(), SchemaCatalog.default()
    rows = []
    for offset, (_, event) in enumerate(simulate_company(2, seed=17), start=FIRST_OFFSET):
        stored = event.model_copy(update={"subject": pseudo.pseudonymise(event.subject)})  # type: ignore[arg-type]
        values = event_row(stored, catalog.current(stored.avro_name), "pdtrail.events", 1, offset, WHEN)
        rows.append(canonical_row(values_as_row(values)))
        if len(rows) == count:
            return rows
    raise AssertionError("not enough simulated events")


def checkpoint_over(signer: Signer, rows: list[dict[str, Any]], **overrides: Any) -> Checkpoint:
    """As integrity/_recorder.py cuts one."""
    leaves = [leaf_hash(row) for row in rows]
    offsets = [row["kafka_offset"] for row in rows]
    occurred = [row["occurred_at"] for row in rows]
    values: dict[str, Any] = {
        "topic": "pdtrail.events",
        "partition": 1,
        "seq": 0,
        "first_offset": offsets[0],
        "last_offset": offsets[-1],
        "leaf_count": len(leaves),
        "root": merkle_root(leaves).hex(),
        "offsets": offsets,
        "leaf_prefixes": [leaf[:PREFIX_BYTES].hex() for leaf in leaves],
        "months": [int(moment[:4] + moment[5:7]) for moment in occurred],
        "min_occurred_at": min(occurred),
        "max_occurred_at": max(occurred),
        "prev": "",
        "key_id": signer.key_id,
    }
    body = Checkpoint(**{**values, **overrides})
    return dataclasses.replace(body, signature=signer.sign(checkpoint_signed_bytes(body.as_dict())).hex())


def make_proof(signer: Signer, rows: list[dict[str, Any]], index: int, checkpoint: Checkpoint | None = None) -> dict:
    """As integrity/_prove.py makes one."""
    checkpoint = checkpoint or checkpoint_over(signer, rows)
    leaves = [leaf_hash(row) for row in rows]
    return {
        "version": 1,
        "event": copy.deepcopy(rows[index]),
        "index": index,
        "size": checkpoint.leaf_count,
        "path": [h.hex() for h in inclusion_path(leaves, index)],
        "checkpoint": checkpoint.as_dict(),
        "public_key": base64.b64encode(signer.public_key_raw).decode(),
    }


def write(tmp_path: Path, proof: dict, name: str = "proof.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(proof, indent=2), encoding="utf-8")
    return str(path)


def pem_of(raw_public: bytes, tmp_path: Path, name: str = "key.pem") -> str:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    path = tmp_path / name
    key = Ed25519PublicKey.from_public_bytes(raw_public)
    path.write_bytes(key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    return str(path)


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return stored_rows()


@pytest.fixture
def proof(signer: Signer, rows: list[dict[str, Any]]) -> dict:
    return make_proof(signer, rows, 3)


def _fails_at(proof: dict, *steps: str, key: bytes | None = None) -> str:
    failure = check_proof(proof, key)
    assert failure is not None
    assert failure.startswith(steps), failure
    return failure


# ---- valid proofs ------------------------------------------------------------------------------


def test_every_leaf_has_a_valid_proof(signer: Signer, rows: list[dict[str, Any]]) -> None:
    checkpoint = checkpoint_over(signer, rows)
    for index in range(len(rows)):
        proof = make_proof(signer, rows, index, checkpoint)
        assert check_proof(proof) is None
        assert check_proof(proof, signer.public_key_raw) is None
        assert check_proof(json.loads(json.dumps(proof))) is None  # as read back from the file


def test_a_one_leaf_checkpoint(signer: Signer, rows: list[dict[str, Any]]) -> None:
    proof = make_proof(signer, rows[:1], 0)
    assert proof["path"] == [] and check_proof(proof) is None


def test_main_prints_valid(signer: Signer, proof: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([write(tmp_path, proof)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("VALID: ")
    assert proof["event"]["event_id"] in out
    assert f"leaf 3 of {SIZE}" in out
    assert "pdtrail.events[1] #0" in out
    assert signer.key_id in out


def test_main_with_a_pem_public_key(
    signer: Signer, proof: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([write(tmp_path, proof), pem_of(signer.public_key_raw, tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("VALID: ")


def test_a_pem_key_is_used_instead_of_the_proofs_own(
    signer: Signer, proof: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = Signer(Ed25519PrivateKey.generate())
    assert main([write(tmp_path, proof), pem_of(other.public_key_raw, tmp_path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("INVALID: step 4")


def test_main_refuses_a_pem_key_of_another_algorithm(proof: dict, tmp_path: Path) -> None:
    path = tmp_path / "ec.pem"
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    path.write_bytes(public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    with pytest.raises(SystemExit, match="not an Ed25519 public key"):
        main([write(tmp_path, proof), str(path)])


def test_main_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "step by step" in capsys.readouterr().out
    assert main([]) == 2
    assert "verify_proof.py proof.json" in capsys.readouterr().out


# ---- step 1 and 3: the event --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("purpose", "marketing"),
        ("legal_basis", "consent"),
        ("actor_id", "someone-else"),
        ("occurred_at", "2020-01-01T00:00:00.000000Z"),
        ("subject_key", "0" * 64),
        ("data_categories", ["name"]),
        ("kafka_offset", FIRST_OFFSET + 4),
        ("kafka_partition", 0),
        ("event_id", "00000000-0000-4000-8000-000000000000"),
    ],
)
def test_an_altered_event_fails_step_3(proof: dict, column: str, value: Any) -> None:
    assert proof["event"][column] != value
    proof["event"][column] = value
    _fails_at(proof, "step 3: the event does not lead")


def test_an_added_or_removed_event_field_fails_step_3(proof: dict) -> None:
    added, removed = copy.deepcopy(proof), copy.deepcopy(proof)
    added["event"]["ingested_at"] = "2026-01-01T00:00:00.000000Z"
    del removed["event"]["correlation_id"]
    _fails_at(added, "step 3")
    _fails_at(removed, "step 3")


def test_a_changed_encoding_of_the_same_event_fails_step_3(proof: dict) -> None:
    """The canonical form is exact: the same instant written another way is another event."""
    proof["event"]["occurred_at"] = proof["event"]["occurred_at"].replace("Z", "+00:00")
    _fails_at(proof, "step 3")


# ---- step 2 and 3: the path ---------------------------------------------------------------------


def test_an_altered_path_fails(proof: dict) -> None:
    for position in range(len(proof["path"])):
        altered = copy.deepcopy(proof)
        digest = bytearray(bytes.fromhex(altered["path"][position]))
        digest[5] ^= 0x10
        altered["path"][position] = digest.hex()
        _fails_at(altered, "step 3")
    shorter, longer, garbage = copy.deepcopy(proof), copy.deepcopy(proof), copy.deepcopy(proof)
    shorter["path"].pop()
    longer["path"].append("00" * 32)
    garbage["path"][0] = "not hex"
    _fails_at(shorter, "step 2: inclusion path is too short")
    _fails_at(longer, "step 2: inclusion path is too long")
    _fails_at(garbage, "step 2")
    swapped = copy.deepcopy(proof)
    swapped["path"][0], swapped["path"][1] = swapped["path"][1], swapped["path"][0]
    _fails_at(swapped, "step 3")


def test_a_wrong_index_or_size_fails(proof: dict) -> None:
    for index in [*range(-1, SIZE + 2)]:
        if index != proof["index"]:
            _fails_at({**proof, "index": index}, "step 2", "step 3")
    for size in range(1, 2 * SIZE):
        if size != SIZE:
            _fails_at({**proof, "size": size}, "step 2", "step 3")


def test_a_proof_from_another_checkpoint_fails(signer: Signer, rows: list[dict[str, Any]]) -> None:
    """A valid path and event, presented with a (validly signed) checkpoint over other rows."""
    proof = make_proof(signer, rows, 2)
    proof["checkpoint"] = checkpoint_over(signer, rows[:-1]).as_dict()
    _fails_at(proof, "step 3")


def test_an_offset_outside_the_checkpoint_range(signer: Signer, rows: list[dict[str, Any]]) -> None:
    """The root matches and the signature holds, but the signed range does not hold the event's offset."""
    shifted = checkpoint_over(signer, rows, first_offset=FIRST_OFFSET + 100, last_offset=FIRST_OFFSET + 106)
    proof = make_proof(signer, rows, 3, shifted)
    assert check_proof(proof) == OUTSIDE
    edge = checkpoint_over(signer, rows, first_offset=FIRST_OFFSET + 4)  # starts just after the event
    assert check_proof(make_proof(signer, rows, 3, edge)) == OUTSIDE
    inclusive = checkpoint_over(signer, rows, first_offset=FIRST_OFFSET + 3, last_offset=FIRST_OFFSET + 3)
    assert check_proof(make_proof(signer, rows, 3, inclusive)) is None


def test_main_prints_the_failed_step(proof: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proof["event"]["purpose"] = "marketing"
    assert main([write(tmp_path, proof)]) == 1
    assert capsys.readouterr().out.startswith("INVALID: step 3")


# ---- step 4: the key and the signature ----------------------------------------------------------


def test_another_public_key_in_the_proof_fails_step_4(proof: dict) -> None:
    other = Signer(Ed25519PrivateKey.generate())
    proof["public_key"] = base64.b64encode(other.public_key_raw).decode()
    assert check_proof(proof) == "step 4: the public key is not the one that signed the checkpoint"


def test_another_public_key_given_fails_step_4(proof: dict) -> None:
    other = Signer(Ed25519PrivateKey.generate())
    _fails_at(proof, "step 4", key=other.public_key_raw)


def test_a_forged_checkpoint_under_another_key_fails_step_4(signer: Signer, rows: list[dict[str, Any]]) -> None:
    """The forger re-signs with their key but keeps the real key id and public key: the signature fails."""
    forger = Signer(Ed25519PrivateKey.generate())
    forged = checkpoint_over(forger, rows, key_id=signer.key_id)
    proof = make_proof(signer, rows, 1, forged)
    assert check_proof(proof) == "step 4: the checkpoint's signature does not verify"
    # ... and with their own key id and public key it verifies, but only under a key the auditor does not hold.
    own = make_proof(forger, rows, 1)
    assert check_proof(own) is None
    _fails_at(own, "step 4", key=signer.public_key_raw)


def test_a_tampered_signature_fails_step_4(proof: dict) -> None:
    signature = bytearray(bytes.fromhex(proof["checkpoint"]["signature"]))
    for position in (0, 40, 63):
        tampered = copy.deepcopy(proof)
        flipped = bytearray(signature)
        flipped[position] ^= 0x80
        tampered["checkpoint"]["signature"] = flipped.hex()
        assert check_proof(tampered) == "step 4: the checkpoint's signature does not verify"
    for bad in ("", "not hex", signature.hex()[:-2]):
        tampered = copy.deepcopy(proof)
        tampered["checkpoint"]["signature"] = bad
        assert check_proof(tampered) == "step 4: the checkpoint's signature does not verify"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("topic", "other.topic"),
        ("partition", 0),
        ("seq", 9),
        ("prev", "ab" * 32),
        ("first_offset", FIRST_OFFSET - 1),
        ("last_offset", FIRST_OFFSET + 50),
        ("offsets", [0, 1, 2, 3, 4, 5, 6]),
        ("leaf_prefixes", ["00" * PREFIX_BYTES] * SIZE),
        ("min_occurred_at", "2000-01-01T00:00:00.000000Z"),
    ],
)
def test_a_tampered_checkpoint_fails_step_4(proof: dict, field: str, value: Any) -> None:
    assert proof["checkpoint"][field] != value
    proof["checkpoint"][field] = value
    assert check_proof(proof) == "step 4: the checkpoint's signature does not verify"


def test_a_tampered_root_or_count_fails_step_3(proof: dict) -> None:
    root, count = copy.deepcopy(proof), copy.deepcopy(proof)
    root["checkpoint"]["root"] = "00" * 32
    count["checkpoint"]["leaf_count"] = SIZE + 1
    _fails_at(root, "step 3")
    _fails_at(count, "step 3")


def test_a_tampered_key_id_fails_step_4(proof: dict) -> None:
    proof["checkpoint"]["key_id"] = "0" * 16
    _fails_at(proof, "step 4")


def test_a_public_key_that_is_not_base64_fails_step_4(proof: dict) -> None:
    proof["public_key"] = "not base64!"
    _fails_at(proof, "step 4")


# ---- the verifier stands alone ------------------------------------------------------------------


def test_the_verifier_imports_only_the_standard_library_and_cryptography() -> None:
    tree = ast.parse(VERIFY_PROOF.read_text())
    modules = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    allowed = set(sys.stdlib_module_names) | {"__future__"}
    assert {m for m in modules if m.split(".")[0] not in allowed} <= {
        m for m in modules if m.startswith("cryptography")
    }
    assert not any(m.startswith("pdtrail") for m in modules)


def test_the_verifier_runs_as_a_script_from_a_copy(proof: dict, tmp_path: Path) -> None:
    script = tmp_path / "verify_proof.py"
    shutil.copy(VERIFY_PROOF, script)
    ok = subprocess.run(
        [sys.executable, "-I", str(script), write(tmp_path, proof)], capture_output=True, text=True, cwd=tmp_path
    )
    assert (ok.returncode, ok.stdout[:6]) == (0, "VALID:"), ok.stderr
    proof["checkpoint"]["seq"] += 1
    bad = subprocess.run(
        [sys.executable, "-I", str(script), write(tmp_path, proof, "bad.json")], capture_output=True, text=True
    )
    assert (bad.returncode, bad.stdout.strip()) == (1, "INVALID: step 4: the checkpoint's signature does not verify")
