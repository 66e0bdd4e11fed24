"""The grammar of every free-text field of the events, and the check that none holds an identifier in clear.

Ids and paths have a grammar that keeps most hostile spellings out by construction: ASCII letters, digits
and a few punctuation marks, so no ``@`` (no e-mail), no space, no ``%``-encoding, no look-alike or
invisible Unicode character. Names and reasons are free text (any characters). Every field, whatever its
grammar, then goes through :func:`pdtrail.schemas._clear_identifiers.identifier_in_clear`; a value that
holds a personnummer, samordningsnummer or e-mail address is refused naming the field, never the value.

The escape hatch: ``identifiers.digit_runs_allowed_in`` (``PDTRAIL_IDENTIFIERS__DIGIT_RUNS_ALLOWED_IN``)
names fields whose values may hold digit runs that pass as a personnummer (an order number that happens to
fit a date and its check digit). E-mail addresses stay refused there: no id or path legitimately holds one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, ValidationInfo

from pdtrail.schemas._clear_identifiers import identifier_in_clear, quick_search
from pdtrail.schemas._vocabulary import Identifier, Label

# What each grammar accepts, in words: error messages say this, never the value.
_ID_CHARS = "letters (a-z, A-Z), digits and _ . : / + = # -"
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/+=#-]*")
_PATH_CHARS = "segments of letters (a-z, A-Z), digits and _ . : ~ + = # - joined by /"
_PATH = re.compile(r"[A-Za-z0-9_.:~+=#-]+(?:/[A-Za-z0-9_.:~+=#-]+)*")
# RFC 6265 cookie names are RFC 7230 tokens, which have no "@" or space.
_COOKIE_CHARS = "letters, digits and ! # $ & ' * + - . ^ _ ` | ~"
_COOKIE = re.compile(r"[A-Za-z0-9!#$&'*+.^_`|~-]+")
_ORGANISATION_CHARS = "letters, digits, spaces and . / -"
_ORGANISATION = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ./-]{0,39}")
_REGISTER_VERSION = re.compile(r"([0-9A-Za-z._-]{1,40})\+[0-9a-f]{8}")

# Every field these checks guard, as ``identifiers.digit_runs_allowed_in`` names them. Nested fields are
# named by their model: ``actor.id``, ``party.name`` (any party: recipient, bureau, source, ...).
FREE_TEXT_FIELDS: tuple[str, ...] = (
    "actor.id",
    "party.name",
    "party.organisation_number",
    "source_system",
    "correlation_id",
    "resource",
    "reference",
    "request_id",
    "reason",
    "consent_text",
    "legal_ground",
    "campaign",
    "identifiers",
    "purpose",
    "data_categories",
    "actor.role",
)

_REASONS = {
    "personnummer": "holds what reads as a personnummer (10 or 12 digits that pass its date and check digit)",
    "samordningsnummer": "holds what reads as a samordningsnummer (10 or 12 digits that pass its date and check digit)",
    "email": "holds an e-mail address",
}
_ADVICE = "; write a pseudonymous id or a label, never the identifier itself"


def is_identifier_refusal(reason: str) -> bool:
    """Whether ``reason`` (of an InvalidEventError problem) is this detector's: the consumer dead-letters
    such an event as ``identifier_in_clear``."""
    return reason.endswith(_ADVICE)


_allowed: frozenset[str] | None = None


def digit_runs_allowed_in() -> frozenset[str]:
    """The fields of ``identifiers.digit_runs_allowed_in``, read once per process from its configuration
    (or set by :func:`allow_digit_runs_in`). Asked only when a value holds a digit run that passes."""
    global _allowed
    if _allowed is None:
        from pdtrail.config import load_settings
        from pdtrail.errors import ConfigError

        try:
            _allowed = frozenset(load_settings().identifiers.digit_runs_allowed_in)
        except ConfigError:
            _allowed = frozenset()  # an unusable configuration fails elsewhere; here it allows nothing
    return _allowed


def allow_digit_runs_in(fields: tuple[str, ...] | None) -> None:
    """Set the escape hatch for this process (``None``: read the configuration again when next needed)."""
    global _allowed
    unknown = [f for f in fields or () if f not in FREE_TEXT_FIELDS]
    if unknown:
        raise ValueError(f"not a free-text field: {', '.join(unknown)}")
    _allowed = None if fields is None else frozenset(fields)


def refusal(field: str, value: str) -> str | None:
    """Why ``value`` may not stand in ``field``, or None. The reason never repeats the value."""
    kind = identifier_in_clear(value)
    if kind is None or (kind != "email" and field in digit_runs_allowed_in()):
        return None
    return _REASONS[kind] + _ADVICE


# Labels repeat from event to event (purposes, roles, systems, resources): a value that passed a check with
# nothing like an identifier in it is kept, at most this many per check (emptied when full), and passes
# again without the two regular expressions (8 checks per simulated event). Such a value holds no
# identifier, by the check it passed.
CLEAN_LABELS_KEPT = 4096


def _checked(field: str | None, grammar: re.Pattern[str] | None = None, chars: str = "") -> Callable[..., Any]:
    """A validator: ``grammar`` (when given) must match the whole value, then no identifier may be in it.
    ``field`` names the field for the escape hatch; None: the model's own name of the field."""

    clean: set[str] = set()

    def check(value: str, info: ValidationInfo) -> str:
        if value in clean:
            return value
        # The identifier first: "holds an e-mail address" tells the service more than "must be letters".
        # The quick search inline: on the hot path, two function calls fewer per field (measured, 0.2 µs).
        suspect = quick_search(value) is not None
        if suspect:
            reason = refusal(field or info.field_name or "", value)
            if reason is not None:
                raise ValueError(reason)
        if grammar is not None and not grammar.fullmatch(value):
            raise ValueError(f"must be {chars}")
        if not suspect:
            # Nothing like an identifier and the grammar kept: the same answer for this value whatever the
            # configuration says (the escape hatch is never consulted for it), so it is not checked again.
            if len(clean) >= CLEAN_LABELS_KEPT:
                clean.clear()
            clean.add(value)
        return value

    return check


def _register_version(value: str) -> str:
    match = _REGISTER_VERSION.fullmatch(value)
    if match is None:
        raise ValueError("must be <register version>+<8 hex digits> (set by the SDK)")
    reason = refusal("register_version", match.group(1))
    if reason is not None:
        raise ValueError(reason)
    return value


# An id: an employee number, a service name, a case number, a trace id, a bureau's reference.
IdText = Annotated[Label, AfterValidator(_checked(None, _ID, f"1-200 {_ID_CHARS}"))]
ActorIdText = Annotated[Label, AfterValidator(_checked("actor.id", _ID, f"1-200 {_ID_CHARS}"))]
# What was opened: "customer-record", "booking/4711", "audit_log/who_accessed".
PathText = Annotated[Label, AfterValidator(_checked(None, _PATH, f"1-200 characters: {_PATH_CHARS}"))]
CookieName = Annotated[Label, AfterValidator(_checked("identifiers", _COOKIE, f"1-200 {_COOKIE_CHARS}"))]
# Free text: a reason, a legal ground, a campaign's or an organisation's name.
FreeText = Annotated[Label, AfterValidator(_checked(None))]
PartyName = Annotated[Label, AfterValidator(_checked("party.name"))]
_check_foreign_number = _checked("party.organisation_number", _ORGANISATION, f"1-40 {_ORGANISATION_CHARS}")


def foreign_organisation_number(value: str, info: ValidationInfo) -> str:
    """A party outside Sweden: its registration number, by the grammar above and with no identifier in it."""
    return str(_check_foreign_number(value.strip(), info))


RegisterVersionText = Annotated[str, AfterValidator(_register_version)]
# The dotted identifiers (purpose, category, role) have their grammar already: digits are all that is left.
CheckedIdentifier = Annotated[Identifier, AfterValidator(_checked(None))]
RoleIdentifier = Annotated[Identifier, AfterValidator(_checked("actor.role"))]
