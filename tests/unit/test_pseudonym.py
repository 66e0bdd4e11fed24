"""Pseudonymisation: one subject, one key per secret; the raw value never shows."""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pdtrail.config import PseudonymSettings, Settings
from pdtrail.producers import Pseudonymiser, SubjectIdentifier, SubjectKind
from pdtrail.schemas import PersonalDataAccessed, PseudonymousSubject

from ._factories import SECRET_V1, SECRET_V2, make_event, personnummer, spellings

HEX64 = re.compile(r"^[0-9a-f]{64}$")


def key_of(pseudo: Pseudonymiser, kind: str, raw: str) -> PseudonymousSubject:
    return pseudo.pseudonymise(SubjectIdentifier(kind=kind, value=raw))


@pytest.mark.parametrize("seed", range(4))
def test_every_spelling_of_a_personnummer_gives_one_key(pseudo: Pseudonymiser, seed: int) -> None:
    pnr = personnummer(seed)
    keys = {key_of(pseudo, "personnummer", s).key for s in spellings(pnr)}
    assert len(keys) == 1


def test_key_is_hmac_sha256_of_kind_and_normalised_value(pseudo: Pseudonymiser) -> None:
    pnr = personnummer(1)
    subject = key_of(pseudo, "personnummer", pnr[2:])
    expected = hmac.new(SECRET_V2, f"personnummer:{pnr}".encode(), hashlib.sha256).hexdigest()
    assert subject == PseudonymousSubject(key=expected, key_version=2, kind=SubjectKind.PERSONNUMMER)


def test_email_spellings_give_one_key(pseudo: Pseudonymiser) -> None:
    a = key_of(pseudo, "email", "Anna.Svensson@Example.com").key
    b = key_of(pseudo, "email", " anna.svensson@example.COM ").key
    assert a == b


def test_same_string_of_different_kinds_gives_different_keys(pseudo: Pseudonymiser) -> None:
    # Twelve digits are a valid customer id and a valid personnummer; the kind keeps them apart.
    digits = personnummer(2)
    as_customer_id = SubjectIdentifier(kind="customer_id", value=digits)
    as_personnummer = SubjectIdentifier(kind="personnummer", value=digits)
    assert as_customer_id.value.get_secret_value() == as_personnummer.value.get_secret_value() == digits
    assert pseudo.pseudonymise(as_customer_id).key != pseudo.pseudonymise(as_personnummer).key
    customer_keys = pseudo.lookup_keys(SubjectKind.CUSTOMER_ID, digits)
    assert not set(customer_keys) & set(pseudo.lookup_keys(SubjectKind.PERSONNUMMER, digits))


def test_different_secrets_give_different_keys() -> None:
    pnr = personnummer(3)
    one = Pseudonymiser({1: SECRET_V1}, current_version=1)
    two = Pseudonymiser({1: SECRET_V2}, current_version=1)
    assert key_of(one, "personnummer", pnr).key != key_of(two, "personnummer", pnr).key


def test_current_version_is_stamped_and_must_have_a_secret() -> None:
    assert key_of(Pseudonymiser({7: SECRET_V1}, 7), "customer_id", "c-1").key_version == 7
    with pytest.raises(ValueError, match="current key version 3"):
        Pseudonymiser({1: SECRET_V1, 2: SECRET_V2}, current_version=3)


def test_lookup_keys_has_one_key_per_version_including_the_emitted_one(pseudo: Pseudonymiser) -> None:
    pnr = personnummer(4)
    keys = pseudo.lookup_keys(SubjectKind.PERSONNUMMER, f"{pnr[2:8]}-{pnr[8:]}")
    assert len(keys) == 2 and len(set(keys)) == 2
    emitted = key_of(pseudo, "personnummer", pnr).key
    assert emitted in keys
    # The previous version's key is what an event keyed before the rotation carries.
    before_rotation = key_of(Pseudonymiser({1: SECRET_V1}, 1), "personnummer", pnr).key
    assert before_rotation in keys
    assert set(keys) == {emitted, before_rotation}


def test_lookup_keys_rejects_invalid_identifier_without_repeating_it(pseudo: Pseudonymiser) -> None:
    bad = personnummer(5)[:-1] + "x"
    with pytest.raises(ValueError) as info:
        pseudo.lookup_keys(SubjectKind.PERSONNUMMER, bad)
    assert bad not in str(info.value)


@given(st.sampled_from(["personnummer", "email", "customer_id"]), st.integers(0, 10_000))
def test_key_is_64_lowercase_hex(kind: str, n: int) -> None:
    raw = {"personnummer": personnummer(n), "email": f"user{n}@example.com", "customer_id": f"cust-{n}"}[kind]
    pseudo = Pseudonymiser({1: SECRET_V1, 2: SECRET_V2}, 2)
    subject = key_of(pseudo, kind, raw)
    assert HEX64.match(subject.key)
    assert all(HEX64.match(k) for k in pseudo.lookup_keys(SubjectKind(kind), raw))


def forms(pnr: str) -> list[str]:
    return [pnr, pnr[2:], f"{pnr[2:8]}-{pnr[8:]}"]


def test_raw_value_is_not_in_repr_or_str_of_a_subject_identifier() -> None:
    pnr = personnummer(6)
    subject = SubjectIdentifier(kind="personnummer", value=f"{pnr[2:8]}-{pnr[8:]}")
    assert subject.value.get_secret_value() == pnr  # it is kept, normalised ...
    shown = repr(subject) + str(subject) + repr(subject.value) + str(subject.value) + subject.model_dump_json()
    for form in forms(pnr):  # ... but never shown
        assert form not in shown


def test_raw_value_is_not_in_repr_or_str_of_an_event() -> None:
    pnr = personnummer(7)
    event = make_event(PersonalDataAccessed, pnr=pnr)
    shown = repr(event) + str(event) + event.model_dump_json() + str(event.model_dump(mode="json"))
    assert "customer-record" in shown  # sanity: the dump does show the event
    for form in forms(pnr):
        assert form not in shown


@pytest.mark.usefixtures("isolated_env")
def test_pseudonymiser_from_settings_uses_current_and_previous_secrets() -> None:
    settings = Settings(
        pseudonym=PseudonymSettings(secret=SECRET_V2.decode(), key_version=2, previous_secrets={1: SECRET_V1.decode()})
    )
    from_settings = Pseudonymiser.from_settings(settings)
    pnr = personnummer(8)
    assert from_settings.current_version == 2
    assert from_settings.lookup_keys(SubjectKind.PERSONNUMMER, pnr) == Pseudonymiser(
        {1: SECRET_V1, 2: SECRET_V2}, 2
    ).lookup_keys(SubjectKind.PERSONNUMMER, pnr)
