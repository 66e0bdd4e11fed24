"""The simulated company's people and partners: generated identifiers (valid check digits, random digits,
never real people's) and the register's recipients and sources."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from pdtrail.schemas import (
    Party,
    load_register,
)


def _luhn_check_digit(digits: str) -> int:
    total = 0
    for i, ch in enumerate(digits):
        v = int(ch) * (2 - i % 2)
        total += v - 9 if v > 9 else v
    return (10 - total % 10) % 10


def generate_personnummer(rng: random.Random, *, coordination: bool = False) -> str:
    """A valid 12-digit personnummer (or samordningsnummer: day + 60) for a generated adult."""
    born = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 62))
    day = born.day + (60 if coordination else 0)
    serial = f"{rng.randrange(1, 1000):03d}"
    body = f"{born:%y%m}{day:02d}{serial}"
    return f"{born.year // 100}{body}{_luhn_check_digit(body)}"


def generate_organisation_number(rng: random.Random) -> str:
    """A valid Swedish organisationsnummer of an aktiebolag (starts with 55; third digit 2-9, as for any
    legal entity, so that it can never be a person's number)."""
    body = f"55{rng.randrange(2, 10)}{rng.randrange(0, 10**6):06d}"
    return f"{body[:6]}-{body[6:]}{_luhn_check_digit(body)}"


def _registered(kind: str, key: str) -> Party:
    """A recipient or source of the shipped processing register, as the events name it."""
    register = load_register()
    entry = register.recipients[key] if kind == "recipient" else register.sources[key]
    return Party(name=entry.name, country=entry.country, organisation_number=entry.organisation_number)


# The reference company's partners, as its processing register (schemas/register.toml) lists them.
PAYMENT_PROVIDER = _registered("recipient", "payment_provider")
CLEANING_OPERATOR = _registered("recipient", "cleaning_operator")
CREDIT_BUREAU = _registered("recipient", "credit_bureau")
BOOKKEEPING = _registered("recipient", "bookkeeping_firm")
ADDRESS_REGISTER = _registered("source", "address_register")
LEAD_PARTNER = _registered("source", "lead_partner")

_STAFF = [f"emp-{n}" for n in range(1001, 1041)]


@dataclass(frozen=True)
class SimulatedSubject:
    personnummer: str
    customer_id: str
