"""The simulator: generated identifiers are valid, and a seed fixes the whole stream."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st
from personnummer import personnummer as personnummer_lib
from stdnum.se import orgnr

from pdtrail.schemas import EVENT_TYPES, PersonalDataAccessed, SubjectIdentifier
from pdtrail.schemas._identifiers import normalise_organisation_number, normalise_personnummer
from pdtrail.simulate import (
    ADDRESS_REGISTER,
    BOOKKEEPING,
    CLEANING_OPERATOR,
    CREDIT_BUREAU,
    PAYMENT_PROVIDER,
    generate_organisation_number,
    generate_personnummer,
    simulate_company,
)

seeds = st.integers(0, 2**64)


@given(seeds, st.booleans())
def test_generated_personnummer_always_validates(seed: int, coordination: bool) -> None:
    pnr = generate_personnummer(random.Random(seed), coordination=coordination)
    assert len(pnr) == 12 and pnr.isdigit()
    assert personnummer_lib.valid(pnr)
    assert normalise_personnummer(pnr) == pnr
    parsed = personnummer_lib.parse(pnr)
    assert parsed.is_coordination_number() is coordination
    day = int(pnr[6:8]) - (60 if coordination else 0)
    born = dt.date(int(pnr[:4]), int(pnr[4:6]), day)  # a real calendar date
    assert dt.date(1940, 1, 1) <= born < dt.date(2002, 12, 31)


@given(seeds)
def test_generated_organisation_number_always_validates(seed: int) -> None:
    number = generate_organisation_number(random.Random(seed))
    assert len(number) == 11 and number[6] == "-" and number.startswith("55")
    assert orgnr.is_valid(number)
    assert normalise_organisation_number(number) == number.replace("-", "")


def test_generators_are_deterministic_for_a_seed() -> None:
    assert generate_personnummer(random.Random(5)) == generate_personnummer(random.Random(5))
    assert generate_organisation_number(random.Random(5)) == generate_organisation_number(random.Random(5))
    assert len({generate_personnummer(random.Random(s)) for s in range(50)}) > 45


def test_simulated_parties_are_valid_and_distinct() -> None:
    parties = [PAYMENT_PROVIDER, CLEANING_OPERATOR, CREDIT_BUREAU, ADDRESS_REGISTER, BOOKKEEPING]
    assert all(p.country == "SE" and orgnr.is_valid(p.organisation_number) for p in parties)
    assert len({p.organisation_number for p in parties}) == len(parties)


def fingerprint(stream: list) -> list[tuple]:  # type: ignore[type-arg]
    return [
        (
            subject,
            event.subject.value.get_secret_value(),
            event.model_dump(exclude={"event_id", "subject"}),
        )
        for subject, event in stream
    ]


def test_simulate_company_is_deterministic_for_a_seed() -> None:
    first = list(simulate_company(20, seed=11))
    again = list(simulate_company(20, seed=11))
    other = list(simulate_company(20, seed=12))
    assert fingerprint(first) == fingerprint(again)
    assert fingerprint(first) != fingerprint(other)


def test_simulated_stream_is_plausible() -> None:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    stream = list(simulate_company(100, seed=3, start=start, days=90))
    subjects = {subject for subject, _ in stream}
    assert len(subjects) == 100
    assert len({s.personnummer for s in subjects}) == 100
    assert {s.customer_id for s in subjects} == {f"cust-3-{n:06d}" for n in range(100)}
    # Every type but the unlink: the simulated company makes no mistaken links.
    assert set(Counter(event.event_type for _, event in stream)) == set(EVENT_TYPES) - {"subject.identifiers_unlinked"}
    for subject, event in stream:
        assert isinstance(event.subject, SubjectIdentifier)
        # The CRM keys a linked customer's record by customer id (pdtrail.simulate._Journey._crm_link).
        assert event.subject.value.get_secret_value() in (subject.personnummer, subject.customer_id)
        assert personnummer_lib.valid(subject.personnummer)
        assert event.occurred_at >= start
        if isinstance(event, PersonalDataAccessed):
            assert event.actor.id.startswith("emp-")
    by_subject: dict[str, list[dt.datetime]] = {}
    for subject, event in stream:
        by_subject.setdefault(subject.personnummer, []).append(event.occurred_at)
    assert all(times == sorted(times) for times in by_subject.values())  # time order per subject


def test_each_simulated_customer_is_a_different_person() -> None:
    # Seed 11 draws one personnummer twice within 1,000 customers: two journeys would merge into one
    # history and make findings that nobody planted.
    numbers = {subject.customer_id: subject.personnummer for subject, _ in simulate_company(1000, seed=11)}
    assert len(numbers) == 1000
    assert len(set(numbers.values())) == len(numbers)
