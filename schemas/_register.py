"""The processing register (GDPR Art. 30 records of processing), and the check of an event against it.

The register is a human-edited TOML file (``schemas/register.toml`` is the shipped default). It is
validated as a whole when loaded — an unknown category, a recipient that no purpose can name, an
organisationsnummer with a wrong check digit — so that a typo fails at start-up, not on the first event.

An event's version stamp is ``<version>+<digest>``: the version people write, and the first 8 hex digits
of the file's SHA-256, so an edit without a new version number is still told apart.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pdtrail.schemas._events import (
    ConsentGiven,
    ConsentWithdrawn,
    CreditCheckPerformed,
    LeadReceived,
    Party,
    PersonalDataAccessed,
    PersonalDataCollected,
    PersonalDataShared,
    ProcessingEvent,
    PublicRegisterLookup,
    SubjectChecked,
)
from pdtrail.schemas._identifiers import normalise_organisation_number
from pdtrail.schemas._time_bounds import ClockWindow, TimeBounds, occurred_at_problem
from pdtrail.schemas._vocabulary import LegalBasis, RecipientRole
from pdtrail.schemas.exceptions import InvalidEventError, RegisterError

DEFAULT_REGISTER = Path(__file__).parent / "register.toml"
_PERIOD = re.compile(r"^\s*(\d+)\s+(day|days|month|months|year|years)\s*$")


@dataclass(frozen=True)
class RetentionPeriod:
    """A retention period as written: whole months (years x 12) and days, so "7 years" means 84 months."""

    months: int = 0
    days: int = 0

    @classmethod
    def parse(cls, text: str) -> RetentionPeriod:
        match = _PERIOD.match(text)
        if not match:
            raise ValueError('must read "<n> days", "<n> months" or "<n> years"')
        n, unit = int(match.group(1)), match.group(2)
        if unit.startswith("year"):
            return cls(months=12 * n)
        return cls(months=n) if unit.startswith("month") else cls(days=n)

    def end(self, start: dt.datetime) -> dt.datetime:
        """``start`` plus this period (a month later on the 31st is the month's last day)."""
        month_index = start.month - 1 + self.months
        year, month = start.year + month_index // 12, month_index % 12 + 1
        day = min(start.day, _days_in_month(year, month))
        return start.replace(year=year, month=month, day=day) + dt.timedelta(days=self.days)

    def __str__(self) -> str:
        n, unit = (self.days, "day") if self.days else (self.months, "month")
        if unit == "month" and n % 12 == 0:
            n, unit = n // 12, "year"
        return f"{n} {unit}" if n == 1 else f"{n} {unit}s"

    def approximate(self) -> dt.timedelta:
        return dt.timedelta(days=self.months * 365.25 / 12 + self.days)


def _days_in_month(year: int, month: int) -> int:
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return (following - dt.timedelta(days=1)).day


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Organisation(_Entry):
    name: str = Field(min_length=1)
    country: str = Field(pattern=r"^[A-Z]{2}$")
    organisation_number: str | None = None

    @field_validator("organisation_number")
    @classmethod
    def _check_digit(cls, value: str | None) -> str | None:
        return None if value is None else normalise_organisation_number(value)

    @model_validator(mode="after")
    def _swedish_number(self) -> Organisation:
        if self.country == "SE" and not self.organisation_number:
            raise ValueError("a Swedish (SE) organisation needs its organisation_number")
        return self

    def matches(self, party: Party) -> bool:
        if self.organisation_number and party.organisation_number:
            return self.organisation_number == party.organisation_number
        return self.name.casefold() == party.name.casefold() and self.country == party.country


_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_PHONE = r"^\+?[0-9][0-9 ()-]{5,}$"


class _Labelled(_Entry):
    """Plain-language names for people (the desk, both report languages), in place of the register's codes."""

    label_en: str = ""
    label_sv: str = ""

    @model_validator(mode="after")
    def _both_languages(self) -> _Labelled:
        if bool(self.label_en.strip()) != bool(self.label_sv.strip()):
            raise ValueError("label_en and label_sv go together: give both or neither")
        return self


class Contact(_Entry):
    """How a data subject reaches someone (GDPR Art. 13(1)(a)-(b), Art. 15): a postal address and an e-mail."""

    address: str = Field(min_length=5)
    email: str = Field(pattern=_EMAIL)
    phone: str = Field("", pattern=rf"{_PHONE}|^$")


class Controller(Organisation, Contact):
    pass


class DataProtectionOfficer(Contact):
    name: str = Field(min_length=1)


class Recipient(Organisation, _Labelled):
    role: RecipientRole
    does: str = ""


class Source(Organisation, _Labelled):
    provides: str = ""


class Category(_Labelled):
    description: str = Field(min_length=1)


class PurposeEntry(_Labelled):
    description: str = Field(min_length=1)
    legal_bases: tuple[LegalBasis, ...] = Field(min_length=1)
    categories: tuple[str, ...] = Field(min_length=1)
    sources: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ()
    retention: RetentionPeriod
    continues_after_erasure: bool = False
    allowed_during_restriction: bool = False
    # Art. 15(1)(h): what is decided by automated means for this purpose, in both languages; empty: nothing.
    automated_decision: str = ""
    automated_decision_sv: str = ""

    @model_validator(mode="after")
    def _decision_in_both_languages(self) -> PurposeEntry:
        if bool(self.automated_decision.strip()) != bool(self.automated_decision_sv.strip()):
            raise ValueError("automated_decision and automated_decision_sv go together: give both or neither")
        return self

    @field_validator("retention", mode="before")
    @classmethod
    def _period(cls, value: Any) -> Any:
        return RetentionPeriod.parse(value) if isinstance(value, str) else value


class RoleEntry(_Entry):
    purposes: tuple[str, ...] = Field(min_length=1)
    categories: tuple[str, ...] = Field(min_length=1)


class _RegisterFile(_Entry):
    version: str = Field(min_length=1, max_length=40, pattern=r"^[0-9A-Za-z._-]+$")
    controller: Controller
    dpo: DataProtectionOfficer
    categories: dict[str, Category] = Field(min_length=1)
    purposes: dict[str, PurposeEntry] = Field(min_length=1)
    recipients: dict[str, Recipient] = {}
    sources: dict[str, Source] = {}
    roles: dict[str, RoleEntry] = {}

    @field_validator("categories", mode="before")
    @classmethod
    def _plain_categories(cls, value: Any) -> Any:
        # A category may be a bare description (`name = "Name"`) or a table with its labels.
        if isinstance(value, dict):
            return {k: {"description": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _references(self) -> _RegisterFile:
        for name, purpose in self.purposes.items():
            _known(f"purposes.{name}.categories", purpose.categories, self.categories)
            _known(f"purposes.{name}.recipients", purpose.recipients, self.recipients)
            _known(f"purposes.{name}.sources", purpose.sources, self.sources)
        for name, role in self.roles.items():
            _known(f"roles.{name}.purposes", role.purposes, self.purposes)
            _known(f"roles.{name}.categories", role.categories, self.categories)
        return self


def _known(where: str, names: tuple[str, ...], declared: dict[str, Any]) -> None:
    unknown = [n for n in names if n not in declared]
    if unknown:
        raise ValueError(f"{where}: {', '.join(unknown)} not declared")


Mode = Literal["enforce", "record"]

_CONSENT_EVENTS = frozenset({ConsentGiven, ConsentWithdrawn})
# The event field that names the other organisation, per event type; a recipient or a source.
_PARTY_FIELD: dict[type, str] = {
    PersonalDataShared: "recipient",
    CreditCheckPerformed: "bureau",
    SubjectChecked: "provider",
    LeadReceived: "lead_source",
    PublicRegisterLookup: "public_register",
    PersonalDataCollected: "source_party",
}
_RECIPIENT_FIELDS = frozenset({"recipient", "bureau"})


class _Parties:
    """The organisations a purpose names, as sets: :meth:`Organisation.matches` against any of them,
    without a loop. A party matches by organisation number when both carry one, else by name and country."""

    def __init__(self, organisations: list[Organisation]) -> None:
        self._numbers = frozenset(o.organisation_number for o in organisations if o.organisation_number)
        self._named_with_number = frozenset(
            (o.name.casefold(), o.country) for o in organisations if o.organisation_number
        )
        self._named_only = frozenset((o.name.casefold(), o.country) for o in organisations if not o.organisation_number)

    def matches(self, party: Party) -> bool:
        named = (party.name.casefold(), party.country)
        if party.organisation_number:
            return party.organisation_number in self._numbers or named in self._named_only
        return named in self._named_with_number or named in self._named_only


class ProcessingRegister:
    """A loaded register. :meth:`problems` lists what an event breaks; :meth:`check` raises on any."""

    def __init__(self, data: _RegisterFile, digest: str, path: Path | None = None) -> None:
        self._data = data
        self.path = path
        self.digest = digest
        self.version = f"{data.version}+{digest[:8]}"
        # What problems() asks per event, precomputed: per purpose its bases, categories and parties,
        # per role its purposes and categories.
        self._rules = {
            name: (
                frozenset(entry.legal_bases),
                frozenset(entry.categories),
                _Parties([data.recipients[r] for r in entry.recipients]),
                _Parties([data.sources[s] for s in entry.sources]),
                entry,
            )
            for name, entry in data.purposes.items()
        }
        self._roles = {name: (frozenset(r.purposes), frozenset(r.categories)) for name, r in data.roles.items()}

    @property
    def controller(self) -> Controller:
        return self._data.controller

    @property
    def dpo(self) -> DataProtectionOfficer:
        return self._data.dpo

    @property
    def categories(self) -> dict[str, str]:
        return {name: entry.description for name, entry in self._data.categories.items()}

    @property
    def category_entries(self) -> dict[str, Category]:
        return dict(self._data.categories)

    @property
    def purposes(self) -> dict[str, PurposeEntry]:
        return dict(self._data.purposes)

    @property
    def recipients(self) -> dict[str, Recipient]:
        return dict(self._data.recipients)

    @property
    def sources(self) -> dict[str, Source]:
        return dict(self._data.sources)

    @property
    def roles(self) -> dict[str, RoleEntry]:
        return dict(self._data.roles)

    def retention_for(self, purpose: str) -> dt.timedelta | None:
        entry = self._data.purposes.get(purpose)
        return entry.retention.approximate() if entry else None

    def retention_period(self, purpose: str) -> RetentionPeriod | None:
        """The purpose's period as written (calendar months and days), for dates a person reads."""
        entry = self._data.purposes.get(purpose)
        return entry.retention if entry else None

    def retention_for_category(self, category: str) -> RetentionPeriod | None:
        """The longest retention of any purpose that declares ``category``."""
        periods = [p.retention for p in self._data.purposes.values() if category in p.categories]
        return max(periods, key=lambda r: r.approximate()) if periods else None

    @cached_property
    def longest_retention(self) -> dt.timedelta:
        """The longest retention of any purpose: nothing older may still be processed, nor recorded now."""
        return max(p.retention.approximate() for p in self._data.purposes.values())

    def problems(
        self,
        event: ProcessingEvent,
        *,
        now: dt.datetime | None = None,
        bounds: TimeBounds | None = None,
        window: ClockWindow | None = None,
    ) -> list[tuple[str, str]]:
        """Every (field, reason) by which ``event`` falls outside the register; empty when it fits.

        First the time window (:func:`pdtrail.schemas._time_bounds.occurred_at_problem`, ``bounds`` default:
        the configured ``time_bounds``): an ``occurred_at`` outside it raises :class:`InvalidEventError` at
        once. It is not the register's to waive, so no mode lets it through: such an event would be stored
        where no period a DPO asks about shows it. Runs for every emitted event: the rules are looked up in
        sets built once per register, and an event that fits allocates nothing but the empty answer.
        ``window``: a :class:`ClockWindow` of this register and ``bounds``, which answers the same at this
        host's clock more cheaply (what the SDK passes; ignored when ``now`` is given)."""
        if window is not None and now is None:
            late_or_early = window.problem(event.occurred_at)
        else:
            late_or_early = occurred_at_problem(event.occurred_at, self, bounds, now=now)
        if late_or_early is not None:
            raise InvalidEventError("occurred_at", late_or_early)
        purpose = event.purpose
        rules = self._rules.get(purpose)
        if rules is None:
            return [("purpose", f"{purpose!r} is not a purpose in the processing register {self.version}")]
        bases, categories, recipients, sources, entry = rules
        found: list[tuple[str, str]] = []
        cls = type(event)
        if cls in _CONSENT_EVENTS and LegalBasis.CONSENT not in bases:
            found.append(("purpose", f"{purpose!r} does not rest on consent, so consent cannot be given or withdrawn"))
        elif event.legal_basis not in bases:
            allowed = ", ".join(b.value for b in entry.legal_bases)
            found.append(
                ("legal_basis", f"{event.legal_basis.value!r} is not allowed for {purpose!r} (allowed: {allowed})")
            )
        if not categories.issuperset(event.data_categories):
            undeclared = [c for c in event.data_categories if c not in categories]
            found.append(("data_categories", f"{', '.join(undeclared)} not declared for {purpose!r}"))
        party_field = _PARTY_FIELD.get(cls)
        if party_field is not None:
            party = getattr(event, party_field)
            if party is not None:
                if party_field in _RECIPIENT_FIELDS:
                    if not recipients.matches(party):
                        found.append((party_field, f"{party.name!r} is not a recipient registered for {purpose!r}"))
                elif not sources.matches(party):
                    found.append((party_field, f"{party.name!r} is not a source registered for {purpose!r}"))
        if cls is PersonalDataAccessed:
            found += self._role_problems(event)
        return found

    def _role_problems(self, event: PersonalDataAccessed) -> list[tuple[str, str]]:
        role_name = event.actor.role
        role = self._roles.get(role_name)
        if role is None:
            return [("actor.role", f"{role_name!r} is not a role in the processing register")]
        purposes, categories = role
        found = []
        if event.purpose not in purposes:
            found.append(("actor.role", f"{role_name!r} may not access data for {event.purpose!r}"))
        if not categories.issuperset(event.data_categories):
            denied = [c for c in event.data_categories if c not in categories]
            found.append(("actor.role", f"{role_name!r} may not access {', '.join(denied)}"))
        return found

    def check(
        self, event: ProcessingEvent, *, now: dt.datetime | None = None, bounds: TimeBounds | None = None
    ) -> None:
        """Raise :class:`InvalidEventError` naming every field ``event`` breaks the register by."""
        found = self.problems(event, now=now, bounds=bounds)
        if found:
            raise InvalidEventError(found[0][0], found[0][1], found)

    @cached_property
    def rules(self) -> dict[str, list[str]]:
        """The register as flat ``a|b`` pairs, the form the findings queries take as parameters."""
        data = self._data
        recipient_ids = {
            r: [x for x in (rec.organisation_number, f"{rec.name.casefold()}|{rec.country}") if x]
            for r, rec in data.recipients.items()
        }
        return {
            "purposes": sorted(data.purposes),
            "purpose_bases": sorted(f"{p}|{b.value}" for p, e in data.purposes.items() for b in e.legal_bases),
            "purpose_categories": sorted(f"{p}|{c}" for p, e in data.purposes.items() for c in e.categories),
            "purpose_recipients": sorted(
                f"{p}|{ident}" for p, e in data.purposes.items() for r in e.recipients for ident in recipient_ids[r]
            ),
            "role_purposes": sorted(f"{r}|{p}" for r, e in data.roles.items() for p in e.purposes),
            "role_categories": sorted(f"{r}|{c}" for r, e in data.roles.items() for c in e.categories),
            "roles": sorted(data.roles),
            "after_erasure": sorted(p for p, e in data.purposes.items() if e.continues_after_erasure),
            "during_restriction": sorted(p for p, e in data.purposes.items() if e.allowed_during_restriction),
        }

    def retention_params(self) -> dict[str, list[Any]]:
        purposes = sorted(self._data.purposes)
        return {
            "retention_purposes": purposes,
            "retention_months": [self._data.purposes[p].retention.months for p in purposes],
            "retention_days": [self._data.purposes[p].retention.days for p in purposes],
        }


def load_register(path: Path | str | None = None) -> ProcessingRegister:
    """Load and validate a register file (the shipped default when ``path`` is None).

    The file is read every time, so an edit is seen at once; parsing and validating it happens once
    per content (the desk records every lookup against the register: parsing it each time cost 4-5 ms)."""
    target = Path(path) if path is not None else DEFAULT_REGISTER
    try:
        raw = target.read_bytes()
    except OSError as exc:
        raise RegisterError(str(target.name), f"cannot be read: {exc.strerror or exc}") from None
    return _parsed_register(target, raw)


@functools.lru_cache(maxsize=8)
def _parsed_register(target: Path, raw: bytes) -> ProcessingRegister:
    # A ProcessingRegister is read-only, so one instance can serve every caller of the same content.
    try:
        parsed = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RegisterError(target.name, f"is not valid TOML: {exc}") from None
    try:
        data = _RegisterFile.model_validate(parsed)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        reason = first["msg"].removeprefix("Value error, ")
        if not where:  # a cross-reference check of the whole file names its own place: "roles.x.purposes: ..."
            where, _, reason = reason.partition(": ")
        raise RegisterError(where, reason) from None
    return ProcessingRegister(data, hashlib.sha256(raw).hexdigest(), target)
