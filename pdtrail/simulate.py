"""A realistic stream of processing events for a Swedish home-services company, with generated subjects.

Used by the demo, the benchmarks and the tests. Identifiers are generated (valid check digits, random
digits), never real people's.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

from pdtrail._simulate_findings import UNREGISTERED_PARTNER, PlantedFinding, simulate_findings
from pdtrail._simulate_journey import _Journey
from pdtrail._simulate_parties import (
    ADDRESS_REGISTER,
    BOOKKEEPING,
    CLEANING_OPERATOR,
    CREDIT_BUREAU,
    LEAD_PARTNER,
    PAYMENT_PROVIDER,
    SimulatedSubject,
    generate_organisation_number,
    generate_personnummer,
)
from pdtrail.schemas import (
    ProcessingEvent,
)

__all__ = [
    "ADDRESS_REGISTER", "BOOKKEEPING", "CLEANING_OPERATOR", "CREDIT_BUREAU", "LEAD_PARTNER", "PAYMENT_PROVIDER",
    "UNREGISTERED_PARTNER", "PlantedFinding", "SimulatedSubject", "default_start", "generate_organisation_number",
    "generate_personnummer", "simulate_company", "simulate_findings",
]  # fmt: skip


def default_start(days: int = 365) -> dt.datetime:
    """Where a simulated stream starts unless told: the first of a month long enough ago that every event
    of ``days`` days of journeys (up to about ``days`` / 2 + 500 days after it) and of the findings planted
    after them (up to about ``days`` + 730) lies in the past. The SDK
    refuses events from the future (``time_bounds.max_future_skew_s``) and from before its past bound, so
    a fixed start date would give events it refuses: first the latest ones, years later the earliest."""
    back = dt.datetime.now(dt.UTC) - dt.timedelta(days=days + 1200)
    return dt.datetime(back.year, back.month, 1, tzinfo=dt.UTC)


def simulate_company(
    subjects: int, *, seed: int = 7, start: dt.datetime | None = None, days: int = 365
) -> Iterator[tuple[SimulatedSubject, ProcessingEvent]]:
    """Yield (subject, event) for ``subjects`` customers over ``days`` days, in time order per subject.

    Every event fits the shipped processing register and the subject's own history: this stream has no
    findings. :func:`pdtrail.simulate_findings` plants some.
    """
    rng = random.Random(seed)
    begin = start or default_start(days)
    taken: set[str] = set()
    for n in range(subjects):
        number = generate_personnummer(rng, coordination=rng.random() < 0.05)
        while number in taken:  # one person, one customer: a repeat would merge two journeys into one history
            number = generate_personnummer(rng, coordination=rng.random() < 0.05)
        taken.add(number)
        subject = SimulatedSubject(number, customer_id=f"cust-{seed}-{n:06d}")
        # Every tenth customer is also keyed by their customer id in the CRM, linked to the personnummer.
        journey = _Journey(rng, subject, begin, days, linked=n % 10 == 3)
        yield from ((subject, e) for e in journey.events())
