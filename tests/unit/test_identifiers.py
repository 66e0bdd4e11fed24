"""Normalising raw identifiers: every spelling of one subject gives one normalised form."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from personnummer import personnummer as personnummer_library

from pdtrail.schemas import SubjectKind, guess_subject_kind, normalise_identifier
from pdtrail.schemas._clear_identifiers import identifier_in_clear
from pdtrail.schemas._identifiers import (
    normalise_customer_id,
    normalise_email,
    normalise_organisation_number,
    normalise_personnummer,
)
from pdtrail.simulate import generate_organisation_number, generate_personnummer

from ._factories import personnummer, spellings


def wrong_check_digit(pnr: str) -> str:
    return pnr[:-1] + str((int(pnr[-1]) + 1) % 10)


@pytest.mark.parametrize("seed", range(5))
def test_all_spellings_of_a_personnummer_normalise_to_the_12_digit_form(seed: int) -> None:
    pnr = personnummer(seed)
    assert len(pnr) == 12 and pnr.isdigit()
    assert {normalise_personnummer(s) for s in spellings(pnr)} == {pnr}


@given(st.integers(0, 2**32), st.booleans())
def test_generated_spellings_agree(seed: int, coordination: bool) -> None:
    pnr = generate_personnummer(random.Random(seed), coordination=coordination)
    assert {normalise_identifier(SubjectKind.PERSONNUMMER, s) for s in spellings(pnr)} == {pnr}


def test_samordningsnummer_day_plus_60_is_accepted() -> None:
    pnr = personnummer(11, coordination=True)
    assert int(pnr[6:8]) > 60
    assert normalise_personnummer(pnr) == pnr
    assert normalise_personnummer(f"{pnr[2:8]}-{pnr[8:]}") == pnr


def test_wrong_check_digit_is_rejected_without_repeating_the_number() -> None:
    bad = wrong_check_digit(personnummer(3))
    with pytest.raises(ValueError, match="check digit") as info:
        normalise_personnummer(bad)
    assert bad not in str(info.value)
    assert bad[2:] not in str(info.value)


@pytest.mark.parametrize("raw", ["", "not a number", "19521320-1234", "12345", "1952012058370"])
def test_malformed_personnummer_is_rejected(raw: str) -> None:
    with pytest.raises(ValueError, match="not a valid personnummer"):
        normalise_personnummer(raw)


def test_plus_separator_marks_age_100_or_more() -> None:
    pnr = personnummer(5)  # born 1940..2001
    short = pnr[2:]
    hundred_years_earlier = str(int(pnr[:2]) - 1) + pnr[2:]
    assert normalise_personnummer(f"{short[:6]}+{short[6:]}") == hundred_years_earlier
    assert normalise_personnummer(f"{short[:6]}-{short[6:]}") == pnr


_SPELT = st.integers(0, 2**32).flatmap(lambda n: st.sampled_from(spellings(generate_personnummer(random.Random(n)))))
_DIGITS = st.text(alphabet="0123456789-+ ", max_size=14) | st.integers(0, 2**40).map(str)


@given(_SPELT | _DIGITS, st.integers(1950, 2150))
def test_the_cached_personnummer_answer_is_the_librarys_in_every_year(raw: str, year: int) -> None:
    """The LRU in front of the library changes no answer: the same 12 digits or the same refusal, whatever
    the year (a 10-digit form's century comes from it), asked twice so the second answer is the cached one."""
    library_today = personnummer_library._get_current_date
    try:
        personnummer_library._get_current_date = lambda: dt.date(year, 6, 1)
        try:
            expected: str | None = str(personnummer_library.parse(raw.strip()).format(long_format=True))
        except personnummer_library.PersonnummerException:
            expected = None
        for _ in range(2):
            try:
                got: str | None = normalise_personnummer(raw)
            except ValueError:
                got = None
            assert got == expected
    finally:
        personnummer_library._get_current_date = library_today


def test_a_cached_10_digit_personnummer_follows_the_year() -> None:
    pnr = personnummer(5)
    short = f"{pnr[2:8]}-{pnr[8:]}"
    library_today = personnummer_library._get_current_date
    try:
        assert normalise_personnummer(short) == pnr  # cached now, under this year
        born = int(pnr[:4])
        personnummer_library._get_current_date = lambda: dt.date(born + 100, 12, 31)
        assert normalise_personnummer(short) == str(born + 100) + pnr[4:]
    finally:
        personnummer_library._get_current_date = library_today


def test_email_is_normalised_case_insensitively_and_trimmed() -> None:
    forms = ["anna.svensson@example.com", "Anna.Svensson@Example.COM", "  ANNA.SVENSSON@EXAMPLE.COM \t"]
    assert {normalise_email(f) for f in forms} == {"anna.svensson@example.com"}
    assert normalise_identifier(SubjectKind.EMAIL, forms[1]) == "anna.svensson@example.com"


@pytest.mark.parametrize("raw", ["", "anna", "anna@", "@example.com", "anna svensson@example.com"])
def test_invalid_email_is_rejected(raw: str) -> None:
    with pytest.raises(ValueError, match="not a valid e-mail address"):
        normalise_email(raw)


@pytest.mark.parametrize("raw", ["cust-000001", "C42", "tenant:7/cust_9.x", "a" * 128])
def test_valid_customer_ids_are_kept(raw: str) -> None:
    assert normalise_customer_id(f" {raw} ") == raw


@pytest.mark.parametrize("raw", ["", "   ", "-leading-dash", "has space", "a" * 129, "kund-åäö", "x;drop"])
def test_invalid_customer_id_is_rejected(raw: str) -> None:
    with pytest.raises(ValueError, match="customer id"):
        normalise_identifier(SubjectKind.CUSTOMER_ID, raw)


@pytest.mark.parametrize("seed", range(5))
def test_organisation_number_is_validated_and_compacted(seed: int) -> None:
    orgnr = generate_organisation_number(random.Random(seed))
    compact = orgnr.replace("-", "")
    assert normalise_organisation_number(orgnr) == compact
    assert normalise_organisation_number(compact) == compact


def test_organisation_number_with_wrong_check_digit_is_rejected() -> None:
    bad = wrong_check_digit(generate_organisation_number(random.Random(9)))
    with pytest.raises(ValueError, match="organisationsnummer") as info:
        normalise_organisation_number(bad)
    assert bad not in str(info.value)


@pytest.mark.parametrize("raw", ["", "556", "55-abcdefgh", "55123456789"])
def test_malformed_organisation_number_is_rejected(raw: str) -> None:
    with pytest.raises(ValueError, match="organisationsnummer"):
        normalise_organisation_number(raw)


@pytest.mark.parametrize("seed", range(5))
def test_a_personnummer_is_refused_as_an_organisation_number(seed: int) -> None:
    """A sole trader's number passes the check digit, but it is a person's identity number."""
    pnr = personnummer(seed)[2:]  # the 10 digits, as a sole trader would write it
    with pytest.raises(ValueError, match="is a personnummer") as info:
        normalise_organisation_number(pnr)
    assert pnr not in str(info.value)


def test_guess_subject_kind() -> None:
    pnr = personnummer(6)
    assert guess_subject_kind(pnr) is SubjectKind.PERSONNUMMER
    assert guess_subject_kind(f"{pnr[2:8]}-{pnr[8:]}") is SubjectKind.PERSONNUMMER
    assert guess_subject_kind("anna@example.com") is SubjectKind.EMAIL
    assert guess_subject_kind("cust-7-000001") is SubjectKind.CUSTOMER_ID
    # A personnummer with a wrong check digit is not one; it is taken for a customer id.
    assert guess_subject_kind(wrong_check_digit(pnr)) is SubjectKind.CUSTOMER_ID


def test_identifier_in_clear_names_the_kind() -> None:
    pnr = personnummer(8)
    assert identifier_in_clear(pnr) == "personnummer"
    assert identifier_in_clear(f" {pnr[2:8]}-{pnr[8:]} ") == "personnummer"
    assert identifier_in_clear("someone@example.com") == "email"
    assert identifier_in_clear("emp-1042") is None
    assert identifier_in_clear("booking-web") is None


def test_digits_inside_a_word_are_still_a_personnummer() -> None:
    """A personnummer glued into a token (``trace-<pnr>ab12cd``) is in clear all the same: it is found.
    (tests/security/ generates the spellings; this is the case the old check let through.)"""
    pnr = personnummer(3)[2:]
    assert identifier_in_clear(f"trace-{pnr}ab12cd") == "personnummer"
    assert identifier_in_clear(f"customer/{pnr[:6]}-{pnr[6:]}") == "personnummer"
    assert identifier_in_clear(f"ref {pnr} end") == "personnummer"
    assert identifier_in_clear(f"trace-{wrong_check_digit(pnr)}ab12cd") is None
