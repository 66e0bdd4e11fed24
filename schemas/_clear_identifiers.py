"""Finding a raw personal identifier written in clear inside free text, however it is spelled.

Two functions, for two places:

* :func:`identifier_in_clear` reads one text field and says which kind of identifier it holds, if any:
  ``"personnummer"``, ``"samordningsnummer"`` or ``"email"``. The models call it on every free-text field;
  the consumer can call it on what it decodes.
* :func:`might_hold_identifier` reads raw bytes (an Avro body, a batch) and answers False only when no
  field in them can hold one, so that a reader checks the few bodies that might, not every one.

What counts, after normalising the text (NFKC; every Unicode digit to its ASCII digit; dashes to ``-``;
zero-width, format, control characters and combining marks removed, so that one between two digits joins them):

* a **personnummer or samordningsnummer**: 10 or 12 digits, as one group or as several groups joined by
  separators (up to three characters between two digits, each anything but a letter or a digit: spaces,
  ``- + . , : / \\ _`` and the like), anywhere in the text, letters around it or not, whose date is a
  real one (day + 60 for a samordningsnummer) and whose check digit is right (the ``personnummer``
  package decides both). A 12-digit one must be born between 1840 and today. The groups are taken whole:
  ``12 811218-9876`` holds ``811218-9876``, but ``128112189876`` is one other 12-digit number.
* an **e-mail address**: an ``@`` with a character of a local part right before it and of a domain right
  after it (``kund@example.se``, also inside a path or a sentence).

Look-alike letters (``O`` for ``0``, ``l`` for ``1``) are not read as digits: every hex id would then be a
candidate. Spelled-out or encoded forms (``kund at example dot se``, base64) are not found; the grammars of
the id and path fields (:mod:`pdtrail.schemas._free_text`) keep ``%``-encoding and spaces out of those.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from typing import Literal

from personnummer import personnummer

IdentifierKind = Literal["personnummer", "samordningsnummer", "email"]

# One search decides the common case: a text with no "@", no run of ten ASCII digits (gaps of anything
# but letters, of any length) and no character beyond ASCII but accented Latin letters (å, ä, ö, é, ü...:
# letters whatever NFKC makes of them, as ASCII letters are) cannot hold an identifier. Every other text
# goes the slow way, which finds a subset of what this matches (its gaps are at most 3 long).
# The pattern starts with one character class (a digit, "@" or another character), so the engine skips
# to such a character at once; a digit run is tried from the first digit of a group only (a later start
# finds fewer digits), and gaps are possessive (they hold no digit, so giving one back never helps).
_ASCII_GAP = r"[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]"
_LATIN_LETTERS = "\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"  # Latin-1 to Latin Extended-B, less two math signs
_MAYBE = re.compile(
    rf"[^\x00-\x2f\x3a-\x3f\x41-\x7f{_LATIN_LETTERS}](?:(?<![0-9])|(?<![0-9]{{2}})(?:{_ASCII_GAP}*+[0-9]){{9}})"
)
# The first step of identifier_in_clear on its own, for callers on the hot path: None means "holds none".
quick_search = _MAYBE.search

# On the normalised text: a run of at least 10 digits, up to 3 separator characters between two digits.
_SEPARATOR = r"[\W_]"
_DIGIT_RUN = re.compile(rf"[0-9](?:{_SEPARATOR}{{0,3}}[0-9]){{9,}}")
_DIGIT_GROUP = re.compile(r"[0-9]+")
# An address: a character of a local part, "@", a character of a domain (or "[" of an address literal).
_EMAIL = re.compile(r"[\w!#$%&'*+/=?^`{|}~.\"-]@[\w\[]")
_OUTSIDE_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e]")
_DASHES = frozenset("\u2212\u2796\u2043\ufe63\uff0d")  # minus signs and hyphen bullets beside category Pd
_EARLIEST_BIRTH_YEAR = 1840  # the oldest people given a personnummer when it was introduced (1947)


@functools.lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    """One character outside printable ASCII, already NFKC-normalised, as the detector reads it."""
    digit = unicodedata.digit(char, None)
    if digit is not None:
        return str(digit)  # Arabic-Indic, Devanagari, dingbat circled digits...: NFKC leaves them be
    category = unicodedata.category(char)
    if category in ("Cc", "Cf", "Mn", "Me"):
        return ""  # controls, zero-width and format characters, combining marks: invisible, so gone
    if category == "Pd" or char in _DASHES:
        return "-"
    if category.startswith("Z"):
        return " "
    return char


def normalise_for_detection(text: str) -> str:
    """``text`` as the detector reads it: NFKC, ASCII digits, ``-`` for dashes, invisibles removed."""
    text = unicodedata.normalize("NFKC", text)
    return _OUTSIDE_PRINTABLE_ASCII.sub(lambda m: _fold_char(m.group()), text)


def _national_number(digits: str) -> IdentifierKind | None:
    """The kind of a 10- or 12-digit number that is a valid personnummer or samordningsnummer, else None."""
    if len(digits) == 12:
        year = int(digits[:4])
        if year < _EARLIEST_BIRTH_YEAR or year > dt.date.today().year or not personnummer.valid(digits):
            return None
        born = personnummer.parse(digits).get_date()
        if born > dt.date.today():
            return None  # nobody born after today has a number
    # Ten digits: the century is read from the separator; "+" (100 years or older) can decide 29 February.
    elif not (personnummer.valid(digits) or personnummer.valid(f"{digits[:6]}+{digits[6:]}")):
        return None
    return "samordningsnummer" if int(digits[-6:-4]) > 60 else "personnummer"


def _numbers_in(run: str) -> IdentifierKind | None:
    groups = _DIGIT_GROUP.findall(run)
    for first in range(len(groups)):
        digits = ""
        for group in groups[first:]:
            digits += group
            if len(digits) > 12:
                break
            if len(digits) in (10, 12):
                kind = _national_number(digits)
                if kind is not None:
                    return kind
    return None


def identifier_in_clear(text: str) -> IdentifierKind | None:
    """The kind of raw identifier ``text`` holds in clear (see the module's docstring), or None.

    Never raises for any str; the text itself is not kept or logged."""
    if _MAYBE.search(text) is None:
        return None
    return detect_in_normalised(normalise_for_detection(text))


def detect_in_normalised(folded: str) -> IdentifierKind | None:
    """The slow way of :func:`identifier_in_clear`, on text :func:`normalise_for_detection` made."""
    for run in _DIGIT_RUN.finditer(folded):
        kind = _numbers_in(run.group())
        if kind is not None:
            return kind
    if "@" in folded and _EMAIL.search(folded):
        return "email"
    return None


@functools.cache
def _maybe_bytes() -> re.Pattern[bytes]:
    """The bytes form of the quick search. Gaps may hold any non-ASCII byte (it could be a dash, a space
    or an invisible character once decoded); and the UTF-8 form of every character that normalises to a
    digit or an "@" (full-width digits, Arabic-Indic digits, ...) matches on its own. Built on first use
    from the running Python's Unicode tables (about 0.3 s): no table to keep up to date by hand. Like the
    text pattern it starts with one byte class (a digit, "@" or a UTF-8 lead byte), then tells which."""
    by_lead: dict[int, dict[bytes, set[int]]] = {}
    for point in range(0x80, 0x110000):
        if 0xD800 <= point <= 0xDFFF:
            continue
        char = chr(point)
        if unicodedata.digit(char, None) is None:
            if not unicodedata.decomposition(char):
                continue
            folded = normalise_for_detection(char)
            if not any(c == "@" or c.isdigit() for c in folded):
                continue
        encoded = char.encode()
        by_lead.setdefault(encoded[0], {}).setdefault(encoded[1:-1], set()).add(encoded[-1])
    gap = rb"[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f\x80-\xff]"
    # Every alternative starts with one literal byte: the engine then scans for the set of them at C speed
    # and skips an alternative by its first byte without entering it (a body is full of digits).
    branches = [b"@"]
    branches += [b"%d(?<![0-9]{2})(?:" % d + gap + rb"*+[0-9]){9}" for d in range(10)]
    for lead, tails in sorted(by_lead.items()):
        inner = b"|".join(re.escape(middle) + _byte_class(last) for middle, last in sorted(tails.items()))
        branches.append(_byte_class({lead}).strip(b"[]") + b"(?:" + inner + b")")
    return re.compile(b"|".join(branches))


def _byte_class(values: set[int]) -> bytes:
    return b"[" + b"".join(b"\\x%02x" % v for v in sorted(values)) + b"]"


def might_hold_identifier(raw: bytes) -> bool:
    """False only if no text in ``raw`` can hold an identifier :func:`identifier_in_clear` finds: no "@",
    no run of ten digits (ASCII or any other script, whatever lies between them that is not a letter) and
    no character that normalises to a digit or an "@". A quick filter for whole message bodies:
    True says "decode and look", not "found"."""
    return _maybe_bytes().search(raw) is not None
