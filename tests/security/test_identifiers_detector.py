"""The detector of identifiers in clear, against generated spellings: found however written, the bytes-level
pre-filter never misses what the detector finds, and random non-identifiers pass at the rate arithmetic
predicts (so the false positives are bounded and measured, not guessed)."""

from __future__ import annotations

import random
import string
import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pdtrail.schemas import identifier_in_clear, might_hold_identifier
from pdtrail.schemas._clear_identifiers import detect_in_normalised, normalise_for_detection
from tests.security._identifier_spellings import (
    Spelled,
    hidden_emails,
    hidden_numbers,
    national_numbers,
)

_hostile = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_hostile
@given(hidden_numbers())
def test_a_personnummer_is_found_however_it_is_spelled(spelled: Spelled) -> None:
    assert identifier_in_clear(spelled.text) == spelled.kind


@_hostile
@given(hidden_numbers(ascii_only=True))
def test_a_personnummer_in_an_id_is_found(spelled: Spelled) -> None:
    assert identifier_in_clear(spelled.text) == spelled.kind


@_hostile
@given(hidden_emails())
def test_an_email_address_is_found_however_it_is_spelled(spelled: Spelled) -> None:
    assert identifier_in_clear(spelled.text) == "email"


@given(st.text(st.characters(exclude_categories=("Cs", "Nd", "No")).filter(lambda c: c not in "@\uff20\ufe6b")))
def test_text_without_digits_or_at_signs_is_clean(text: str) -> None:
    if not any(c.isdigit() or c == "@" for c in normalise_for_detection(text)):
        assert identifier_in_clear(text) is None


@given(national_numbers(), st.sampled_from(["", "-", " "]))
def test_a_wrong_check_digit_is_not_an_identifier(number: tuple[str, str], separator: str) -> None:
    digits, _ = number
    wrong = digits[:-1] + str((int(digits[-1]) + 1) % 10)
    assert identifier_in_clear(f"order {wrong[:-4]}{separator}{wrong[-4:]}") is None


def test_a_number_glued_to_more_digits_is_another_number() -> None:
    """Groups are taken whole: a personnummer with further digits right against it is not read out of them
    (that would refuse one long number in a few dozen), while one separator is enough to find it."""
    digits = "811218" + "9876"
    assert identifier_in_clear(f"12{digits}") is None  # 12 digits, year 1281: not a date of birth
    assert identifier_in_clear(f"12 {digits}") == "personnummer"


def test_a_12_digit_number_born_in_the_future_or_before_1840_is_not_one() -> None:
    assert identifier_in_clear("209912319995") is None  # 2099-12-31: nobody is born yet
    assert identifier_in_clear("173912319995") is None


_latin_and_digits = st.text(
    st.one_of(
        st.sampled_from([*string.digits, *"-+ ./:@_", *"åäöÅÄÖéüøæßñ\u00d7\u00f7", "\u00b2", "\u00a0", "\u200b"]),
        st.characters(max_codepoint=0x2FF, exclude_categories=("Cs",)),
    ),
    max_size=40,
)


@settings(max_examples=3000, deadline=None)
@given(st.one_of(_latin_and_digits, hidden_numbers().map(lambda s: s.text), hidden_emails().map(lambda s: s.text)))
def test_the_quick_search_never_decides_what_the_slow_way_would_find(text: str) -> None:
    """The one-search shortcut for ASCII and accented Latin text gives the answer the full path gives."""
    assert identifier_in_clear(text) == detect_in_normalised(normalise_for_detection(text))


# ---- the bytes-level pre-filter -----------------------------------------------------------------------

_any_text = st.text(
    st.one_of(
        st.characters(exclude_categories=("Cs",)),
        st.sampled_from([*string.digits, "-", " ", "@", "\u200b", "\uff10", "\u0661", "\u2013"]),
    ),
    max_size=60,
)
_avro_noise = st.binary(max_size=24)  # what lies around a string in an Avro body: lengths, varints, other fields


@_hostile
@given(st.one_of(hidden_numbers(), hidden_emails()), _avro_noise, _avro_noise)
def test_the_prefilter_never_misses_an_identifier_in_a_body(spelled: Spelled, before: bytes, after: bytes) -> None:
    assert might_hold_identifier(before + spelled.text.encode() + after)


@settings(max_examples=2000, deadline=None)
@given(_any_text, _avro_noise, _avro_noise)
def test_the_prefilter_says_maybe_whenever_the_detector_finds(text: str, before: bytes, after: bytes) -> None:
    if identifier_in_clear(text) is not None:
        assert might_hold_identifier(before + text.encode() + after)
    # Its NFKC form is read the same way (a producer may have normalised before encoding).
    folded = unicodedata.normalize("NFKC", text)
    if identifier_in_clear(folded) is not None:
        assert might_hold_identifier(folded.encode())


def test_every_character_that_reads_as_a_digit_or_at_sign_wakes_the_prefilter() -> None:
    """Exhaustive over Unicode: the characters a single search must not miss, and a spot check that plain
    ASCII text and Swedish letters do not wake it."""
    missed = []
    for point in range(0x80, 0x110000):
        if 0xD800 <= point <= 0xDFFF:
            continue
        char = chr(point)
        folded = normalise_for_detection(char)
        if any(c.isdigit() or c == "@" for c in folded) and not might_hold_identifier(char.encode()):
            missed.append(hex(point))
    assert missed == []
    assert not might_hold_identifier("Betalväxeln AB booking/4711 emp-1042".encode())


# ---- false positives, bounded -------------------------------------------------------------------------


def _rate(texts: list[str]) -> float:
    return sum(identifier_in_clear(t) is not None for t in texts) / len(texts)


def test_false_positives_on_random_digit_runs_are_what_the_arithmetic_says() -> None:
    """A random 10-digit number passes as a personnummer when its month (12 in 100), its day (about 61 in
    100, samordningsnummer days included) and its check digit (1 in 10) all fit: about 0.7 %. A 12-digit
    one must also start with a year from 1840 to now (about 1.9 in 100): about 0.013 %. Both bounds are
    two-sided: a rate far below them would mean numbers are no longer checked."""
    rng = random.Random(12)
    ten = _rate([f"order {rng.randrange(10**10):010d}" for _ in range(40_000)])
    twelve = _rate([f"order {rng.randrange(10**12):012d}" for _ in range(40_000)])
    assert 0.005 < ten < 0.01, ten
    assert twelve < 0.0006, twelve
    eight = _rate([f"order {rng.randrange(10**8):08d}" for _ in range(5_000)])
    assert eight == 0  # too short to be one
