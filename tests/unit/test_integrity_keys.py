"""Ed25519 signing keys: files, the environment variable, public keys by id, and the errors that name the source."""

from __future__ import annotations

import base64
import hashlib
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from pdtrail.config import load_settings
from pdtrail.errors import PdtrailError
from pdtrail.integrity import (
    Signer,
    SigningKeyError,
    encode_key,
    generate_key_files,
    load_public_keys,
    load_signer,
    public_keys_from_settings,
    signer_from_settings,
)
from pdtrail.integrity.verify_proof import key_id

RAW = bytes(range(32))  # a fixed private key, for tests only


def _raw_public(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def test_key_id_is_a_prefix_of_the_public_key_hash() -> None:
    signer = Signer(Ed25519PrivateKey.from_private_bytes(RAW))
    assert signer.key_id == key_id(signer.public_key_raw) == hashlib.sha256(signer.public_key_raw).hexdigest()[:16]
    assert len(signer.public_key_raw) == 32


def test_signing_is_deterministic() -> None:
    signer = Signer(Ed25519PrivateKey.generate())
    assert signer.sign(b"message") == signer.sign(b"message") != signer.sign(b"other message")
    signer.private_key.public_key().verify(signer.sign(b"message"), b"message")


def test_generate_key_files(tmp_path: Path) -> None:
    directory = tmp_path / "keys" / "nested"
    key_path, pub_path = generate_key_files(directory)
    assert key_path.parent == pub_path.parent == directory
    assert key_path.suffix == ".key" and pub_path.suffix == ".pub" and key_path.stem == pub_path.stem
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert key_path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert pub_path.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")

    signer = load_signer(key_file=key_path, key_b64=None)
    assert signer.key_id == key_path.stem
    assert load_public_keys(directory) == {key_path.stem: signer.public_key_raw}


def test_every_generated_key_is_new_and_found_by_id(tmp_path: Path) -> None:
    first, _ = generate_key_files(tmp_path)
    second, _ = generate_key_files(tmp_path)
    assert first.stem != second.stem
    found = load_public_keys(tmp_path)
    assert set(found) == {first.stem, second.stem}
    for path in (first, second):
        assert found[path.stem] == load_signer(key_file=path, key_b64=None).public_key_raw


def test_a_key_from_the_environment_variable() -> None:
    signer = load_signer(key_file=None, key_b64=base64.b64encode(RAW).decode())
    assert signer.public_key_raw == _raw_public(Ed25519PrivateKey.from_private_bytes(RAW))
    assert encode_key(RAW) == base64.b64encode(RAW).decode()


def test_the_environment_variable_wins_over_the_file(tmp_path: Path) -> None:
    key_path, _ = generate_key_files(tmp_path)
    signer = load_signer(key_file=key_path, key_b64=encode_key(RAW))
    assert signer.public_key_raw == _raw_public(Ed25519PrivateKey.from_private_bytes(RAW))


@pytest.mark.parametrize(
    "value",
    [
        "not base64 at all!",
        "QUJDRA",  # bad padding
        base64.b64encode(RAW[:31]).decode(),
        base64.b64encode(RAW + b"\x00").decode(),
        base64.b64encode(RAW * 2).decode(),
        RAW.hex(),  # hex is not base64 of 32 bytes
    ],
    ids=["garbage", "padding", "31-bytes", "33-bytes", "64-bytes", "hex"],
)
def test_a_bad_environment_key_names_the_variable(value: str) -> None:
    with pytest.raises(SigningKeyError) as info:
        load_signer(key_file=None, key_b64=value)
    assert isinstance(info.value, PdtrailError)
    assert info.value.source == "PDTRAIL_INTEGRITY__SIGNING_KEY"
    assert "PDTRAIL_INTEGRITY__SIGNING_KEY" in str(info.value)
    assert value not in str(info.value)  # a secret is not repeated back


def test_no_key_at_all_says_how_to_make_one() -> None:
    with pytest.raises(SigningKeyError) as info:
        load_signer(key_file=None, key_b64=None)
    assert "`pdtrail keys generate`" in str(info.value)
    assert "PDTRAIL_INTEGRITY__SIGNING_KEY" in str(info.value)


def test_an_unreadable_key_file_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.key"
    _, pub_path = generate_key_files(tmp_path / "keys")
    garbage = tmp_path / "garbage.key"
    garbage.write_text("not a key\n")
    for path in (missing, pub_path, garbage):
        with pytest.raises(SigningKeyError) as info:
            load_signer(key_file=path, key_b64=None)
        assert info.value.source == str(path)


def test_a_key_file_of_another_algorithm_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ec.key"
    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    with pytest.raises(SigningKeyError, match="not an Ed25519 private key"):
        load_signer(key_file=path, key_b64=None)


def test_a_passphrase_protected_key_file_is_a_signing_key_error(tmp_path: Path) -> None:
    path = tmp_path / "encrypted.key"
    key = Ed25519PrivateKey.generate()
    path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(b"passphrase")))
    with pytest.raises(SigningKeyError) as info:
        load_signer(key_file=path, key_b64=None)
    assert info.value.source == str(path)


def test_public_keys_without_a_directory(tmp_path: Path) -> None:
    raw = _raw_public(Ed25519PrivateKey.from_private_bytes(RAW))
    assert load_public_keys(None) == {}
    assert load_public_keys(None, raw) == {key_id(raw): raw}
    assert load_public_keys(tmp_path / "does-not-exist", raw) == {key_id(raw): raw}


def test_public_keys_skip_other_algorithms_and_other_files(tmp_path: Path) -> None:
    _, pub_path = generate_key_files(tmp_path)
    ec_public = ec.generate_private_key(ec.SECP256R1()).public_key()
    (tmp_path / "ec.pub").write_bytes(ec_public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    (tmp_path / "notes.txt").write_text("not a key")
    extra = _raw_public(Ed25519PrivateKey.from_private_bytes(RAW))
    found = load_public_keys(tmp_path, extra)
    assert set(found) == {pub_path.stem, key_id(extra)}


def test_an_unreadable_public_key_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pub"
    bad.write_text("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    with pytest.raises(SigningKeyError) as info:
        load_public_keys(tmp_path)
    assert info.value.source == str(bad)


@pytest.mark.usefixtures("isolated_env")
def test_keys_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    older, _ = generate_key_files(tmp_path / "pub")
    monkeypatch.setenv("PDTRAIL_INTEGRITY__SIGNING_KEY", encode_key(RAW))
    monkeypatch.setenv("PDTRAIL_INTEGRITY__PUBLIC_KEYS_DIR", str(tmp_path / "pub"))
    settings = load_settings()
    signer = signer_from_settings(settings)
    assert signer.public_key_raw == _raw_public(Ed25519PrivateKey.from_private_bytes(RAW))
    assert set(public_keys_from_settings(settings)) == {signer.key_id, older.stem}


@pytest.mark.usefixtures("isolated_env")
def test_keys_from_settings_with_a_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key_path, _ = generate_key_files(tmp_path / "keys")
    monkeypatch.setenv("PDTRAIL_INTEGRITY__SIGNING_KEY_FILE", str(key_path))
    settings = load_settings()
    assert signer_from_settings(settings).key_id == key_path.stem
    assert set(public_keys_from_settings(settings)) == {key_path.stem}


@pytest.mark.usefixtures("isolated_env")
def test_no_key_in_settings() -> None:
    settings = load_settings()
    assert public_keys_from_settings(settings) == {}
    with pytest.raises(SigningKeyError, match="pdtrail keys generate"):
        signer_from_settings(settings)
