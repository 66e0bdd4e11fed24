"""Normalising raw identifiers, so that every spelling of one person gives one subject key.

The functions raise ``ValueError`` with a reason that never repeats the identifier itself: these
messages reach logs and error reports, raw identifiers must not.
"""

from __future__ import annotations

import functools
import re

from personnummer import personnummer
from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.se import orgnr

from pdtrail.schemas._vocabulary import SubjectKind

_CUSTOMER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$")


# Valid personnummer as written, with their 12-digit forms: at most this many (an LRU).
PERSONNUMMER_CACHE_SIZE = 4096


def normalise_personnummer(raw: str) -> str:
    """Return the 12-digit form YYYYMMDDNNNC of a personnummer or samordningsnummer.

    Accepts 10 or 12 digits, with or without the ``-``/``+`` separator (``+`` marks age 100 or more).

    A service names one subject in many events, and the library's parse was most of the cost of building
    an event (17 of 26 µs). Its answer depends on the text and on the current year alone (a 10-digit
    form's century is read from it), so the last :data:`PERSONNUMMER_CACHE_SIZE` valid ones are kept,
    keyed by both: the same answer as parsing again, never one from another year. Identifiers that do
    not validate are never kept. The cache holds up to that many identifiers as the service wrote them,
    for as long as the process lives; the process holds them anyway, in the events it builds.
    """
    return _long_form(raw.strip(), personnummer._get_current_date().year)


@functools.lru_cache(maxsize=PERSONNUMMER_CACHE_SIZE)
def _long_form(stripped: str, year: int) -> str:
    try:
        parsed = personnummer.parse(stripped)
    except personnummer.PersonnummerException:
        raise ValueError("not a valid personnummer or samordningsnummer (format, date or check digit)") from None
    return str(parsed.format(long_format=True))


def normalise_email(raw: str) -> str:
    # Imported on the first e-mail, not with the SDK: about 35 ms of every service's start, and many
    # services never key a subject by e-mail.
    from email_validator import EmailNotValidError, validate_email

    try:
        checked = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError:
        raise ValueError("not a valid e-mail address") from None
    # The domain is case-insensitive by standard; local parts are too in practice, and a subject who
    # types their address in another case is still the same subject.
    return checked.normalized.lower()


def normalise_customer_id(raw: str) -> str:
    value = raw.strip()
    if not _CUSTOMER_ID.match(value):
        raise ValueError("a customer id is 1-128 characters of letters, digits and _ . : / -")
    return value


_NORMALISERS = {
    SubjectKind.PERSONNUMMER: normalise_personnummer,
    SubjectKind.EMAIL: normalise_email,
    SubjectKind.CUSTOMER_ID: normalise_customer_id,
}


def normalise_identifier(kind: SubjectKind, raw: str) -> str:
    return _NORMALISERS[kind](raw)


def guess_subject_kind(raw: str) -> SubjectKind:
    """The kind a DPO most likely means: a valid personnummer, else an e-mail, else a customer id."""
    if personnummer.valid(raw.strip()):
        return SubjectKind.PERSONNUMMER
    if "@" in raw:
        return SubjectKind.EMAIL
    return SubjectKind.CUSTOMER_ID


@functools.lru_cache(maxsize=4096)  # organisations recur on every event that names them
def normalise_organisation_number(raw: str) -> str:
    """Return the 10-digit form of a Swedish organisationsnummer, checking its check digit."""
    try:
        number = str(orgnr.validate(raw))
    except StdnumValidationError as exc:
        raise ValueError(f"not a valid Swedish organisationsnummer ({str(exc).lower()})") from None
    # A legal entity's number has a third digit of 2 or more; below that it is a person's personnummer
    # (sole traders trade under theirs), which must not enter the log.
    if number[2] in "01":
        raise ValueError("is a personnummer (a sole trader's), which must not enter the audit log")
    return number
