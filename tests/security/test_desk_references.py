"""Sealed subject references against an attacker who holds one, or none: every changed, cut, lengthened,
replayed-elsewhere or expired reference is refused; a rotation keeps the previous key's references.

Nothing running: the sealing and the case book are exercised directly, with generated inputs."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pdtrail.config import load_settings
from pdtrail.desk._cases import HELD_PER_IDENTITY, CaseBook, check_reference
from pdtrail.desk._refs import RefKeys, Sealed, SealError
from pdtrail.desk.exceptions import DeskError
from pdtrail.producers import Pseudonymiser
from pdtrail.schemas import SubjectKind
from pdtrail.simulate import generate_personnummer
from tests.conftest import SECRET

KEYS = RefKeys("k2", {"k2": os.urandom(32), "k1": os.urandom(32)})
PSEUDONYMS = Pseudonymiser({1: SECRET.encode()}, 1)


def _case(owner: str = "dpo-anna", expires_in: float = 3600) -> Sealed:
    keys = tuple(hashlib.sha256(f"{owner}{n}".encode()).hexdigest() for n in range(2))
    return Sealed(keys, (keys[1], 2), "personnummer", owner, "dpo.complaint_handling", time.time() + expires_in)


def _bytes(reference: str) -> bytes:
    return base64.urlsafe_b64decode(reference + "=" * (-len(reference) % 4))


def _text(blob: bytes) -> str:
    return base64.urlsafe_b64encode(blob).decode().rstrip("=")


def test_a_sealed_reference_opens_to_what_was_sealed_and_shows_none_of_it() -> None:
    case = _case()
    reference = KEYS.seal(case)
    assert KEYS.open(reference) == Sealed(case.keys, case.subject, case.kind, case.owner, case.purpose,
                                          float(int(case.expires)))  # fmt: skip
    for secret in (*case.keys, case.owner, case.purpose, case.kind):
        assert secret not in reference and secret.encode() not in _bytes(reference)
    assert check_reference(reference) == reference  # the API's own check lets it through
    assert KEYS.seal(case) != reference  # a fresh nonce each time: two seals of one case are unlinkable


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_changed_byte_is_refused(data: st.DataObject) -> None:
    blob = bytearray(_bytes(KEYS.seal(_case())))
    at = data.draw(st.integers(0, len(blob) - 1), label="position")
    flip = data.draw(st.integers(1, 255), label="xor")
    blob[at] ^= flip
    with pytest.raises(SealError):
        KEYS.open(_text(bytes(blob)))


@settings(max_examples=200)
@given(data=st.data())
def test_a_cut_or_lengthened_reference_is_refused(data: st.DataObject) -> None:
    blob = _bytes(KEYS.seal(_case()))
    cut = data.draw(st.integers(0, len(blob) - 1), label="keep")
    extra = data.draw(st.binary(min_size=1, max_size=64), label="appended")
    for changed in (blob[:cut], blob + extra, extra + blob):
        with pytest.raises(SealError):
            KEYS.open(_text(changed))


@settings(max_examples=300)
@given(st.text(min_size=0, max_size=300))
def test_any_text_is_refused_without_an_exception_other_than_the_seal_error(text: str) -> None:
    with pytest.raises(SealError):
        KEYS.open(text)


def test_an_expired_reference_is_refused_even_by_the_replica_that_sealed_it() -> None:
    reference = KEYS.seal(_case(expires_in=60))
    assert KEYS.open(reference).owner == "dpo-anna"
    with pytest.raises(SealError, match="expired"):
        KEYS.open(reference, now=time.time() + 61)


def test_rotation_keeps_the_previous_keys_references_until_the_key_is_dropped() -> None:
    old_key, new_key = os.urandom(32), os.urandom(32)
    before = RefKeys("k1", {"k1": old_key})
    reference = before.seal(_case())
    rotated = RefKeys("k2", {"k2": new_key, "k1": old_key})
    assert rotated.open(reference).owner == "dpo-anna"  # sealed under k1, still open
    with pytest.raises(SealError):
        before.open(rotated.seal(_case()))  # new references are sealed under k2 only
    dropped = RefKeys("k2", {"k2": new_key})
    with pytest.raises(SealError):
        dropped.open(reference)
    # The same key id with another key (a key file replaced, not rotated) opens nothing of the old one.
    with pytest.raises(SealError):
        RefKeys("k1", {"k1": new_key}).open(reference)


def test_the_key_file_is_made_once_0600_and_shared_by_every_desk_on_the_home(tmp_path: Path) -> None:
    settings_ = load_settings(home=tmp_path, pseudonym={"secret": SECRET})
    first = RefKeys.from_settings(settings_)
    second = RefKeys.from_settings(settings_)
    path = tmp_path / "desk" / "ref-keys.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "desk").stat().st_mode & 0o777 == 0o700
    assert second.open(first.seal(_case())).owner == "dpo-anna"


@pytest.mark.parametrize(
    "content",
    ["", "[]", '{"current": "k9", "keys": {"k1": "' + base64.b64encode(b"x" * 32).decode() + '"}}',
     '{"current": "k1", "keys": {"k1": "' + base64.b64encode(b"short").decode() + '"}}',
     '{"current": "k1", "keys": {"k1": "not base64!"}}', '{"current": "../x", "keys": {"../x": "'
     + base64.b64encode(b"x" * 32).decode() + '"}}'],
)  # fmt: skip
def test_a_bad_key_file_is_a_config_error_naming_the_setting(tmp_path: Path, content: str) -> None:
    from pdtrail.errors import ConfigError

    path = tmp_path / "keys.json"
    path.write_text(content)
    with pytest.raises(ConfigError) as refused:
        RefKeys.load(path)
    assert "REF_KEYS_FILE" in str(refused.value)
    assert "x" * 32 not in str(refused.value)


def _book() -> CaseBook:
    return CaseBook(KEYS, PSEUDONYMS, ttl_s=3600)


@settings(max_examples=50)
@given(seed=st.integers(0, 2**32 - 1), other=st.sampled_from(["auditor-bo", "clerk-cy", "dpo-anna2", "DPO-ANNA"]))
def test_a_reference_opens_only_for_the_identity_that_looked_the_subject_up(seed: int, other: str) -> None:
    book = _book()
    case = book.open("dpo-anna", generate_personnummer(random.Random(seed)), SubjectKind.PERSONNUMMER,
                     "dpo.complaint_handling")  # fmt: skip
    assert book.get("dpo-anna", case.reference).identifier.keys == case.identifier.keys
    with pytest.raises(DeskError) as refused:
        book.get(other, case.reference)
    assert refused.value.status == 404
    # Replayed by the same identity to another desk whose key differs: refused too.
    with pytest.raises(DeskError):
        CaseBook(RefKeys.generate(), PSEUDONYMS).get("dpo-anna", case.reference)


def test_the_case_carries_keys_only_and_one_identity_cannot_push_out_anothers_cases() -> None:
    book = _book()
    rng = random.Random(5)
    kept = book.open("dpo-anna", raw := generate_personnummer(rng), SubjectKind.PERSONNUMMER, "dpo.access_request")
    assert raw not in kept.reference and raw[2:] not in json.dumps(KEYS.open(kept.reference).as_json())
    # Another identity opens more cases than the book remembers identifiers for.
    for _ in range(HELD_PER_IDENTITY + 10):
        book.open("clerk-cy", generate_personnummer(rng), SubjectKind.PERSONNUMMER, "dpo.complaint_handling")
    again = book.get("dpo-anna", kept.reference)
    assert again.identifier.keys == tuple(PSEUDONYMS.lookup_keys(SubjectKind.PERSONNUMMER, raw))
    assert again.identifier.shown_as.replace("-", "") == raw.replace("-", "")  # still printed on its reports
    # A replica that never saw the identifier still answers, and names the subject by key only.
    elsewhere = CaseBook(KEYS, PSEUDONYMS).get("dpo-anna", kept.reference)
    assert elsewhere.identifier.keys == again.identifier.keys
    assert raw not in elsewhere.identifier.shown_as and "pseudonymous key" in elsewhere.identifier.shown_as
