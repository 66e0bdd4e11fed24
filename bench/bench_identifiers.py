"""What the check for identifiers in clear costs, and how often it refuses what is not one.

    python bench/bench_identifiers.py            # ~1 min
    python bench/bench_identifiers.py --quick    # a smoke run: fails on an error, never on a timing

Prints, per field value, the nanoseconds of ``identifier_in_clear`` beside two baselines measured in the
same run (the check it replaced, and one bare regex search), the cost per event of building a model
with and without the check, the bytes pre-filter over encoded bodies, and the false-positive rate on
random numbers and common id shapes. Figures only: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from personnummer import personnummer

from pdtrail.schemas import _free_text as free_text
from pdtrail.schemas import identifier_in_clear, might_hold_identifier

# The check this replaced (main before issue 12), as the baseline: a regex for two spellings standing alone,
# "@" anywhere, and a set of labels seen clean.
_OLD = re.compile(r"(?<![0-9A-Za-z])(?:\d{2})?\d{6}[-+]?\d{4}(?![0-9A-Za-z])")
_OLD_CLEAN: set[str] = set()


def old_check(value: str) -> bool:
    if value in _OLD_CLEAN:
        return False
    if "@" in value or any(personnummer.valid(m.group()) for m in _OLD.finditer(value)):
        return True
    _OLD_CLEAN.add(value)
    return False


_BARE = re.compile(r"@")

FIELD_VALUES = {
    "short id": "crm",
    "actor id": "emp-1042",
    "resource": "customer-record",
    "path with digits": "booking/482913",
    "trace id (base32)": "trace-mfrggzdfmztwq2lk",
    "party name (non-ASCII)": "Betalväxeln AB",
    "200 chars, clean": ("customer-record/" * 13)[:200],
}


def per_call_ns(fn: Callable[[str], Any], value: str, calls: int) -> float:
    """The fastest of 5 rounds of ``calls`` calls, in ns per call (the least disturbed by other load)."""
    rounds = []
    for _ in range(5):
        start = time.perf_counter_ns()
        for _ in range(calls):
            fn(value)
        rounds.append((time.perf_counter_ns() - start) / calls)
    return min(rounds)


def field_costs(calls: int) -> None:
    print(f"\nper field value, ns per call (fastest of 5 x {calls:,}):")
    print(f"  {'value':<24} {'new':>7} {'old':>7} {'bare re':>8} {'new/old':>8} {'new/bare':>9}")
    for name, value in FIELD_VALUES.items():
        new = per_call_ns(identifier_in_clear, value, calls)
        old = per_call_ns(old_check, value, calls)
        bare = per_call_ns(_BARE.search, value, calls)
        print(f"  {name:<24} {new:7.0f} {old:7.0f} {bare:8.0f} {new / old:8.2f} {new / bare:9.2f}")


def event_costs(calls: int) -> None:
    from pdtrail.schemas import PersonalDataAccessed

    data = {
        "subject": {"kind": "customer_id", "value": "cust-1"},
        "actor": {"type": "employee", "id": "emp-1042", "role": "customer_service"},
        "purpose": "customer_service", "legal_basis": "contract", "data_categories": ["name", "contact_details"],
        "source_system": "crm", "correlation_id": "trace-mfrggzdfmztwq2lk", "access_kind": "view",
        "resource": "customer-record",
    }  # fmt: skip

    def build(_: str) -> Any:
        return PersonalDataAccessed(**data)

    # With and without the search (the grammars run in both), in alternating rounds: the load drifts.
    real = free_text.quick_search
    with_check, without = [], []
    try:
        for _ in range(5):
            free_text.quick_search = real
            with_check.append(per_call_ns(build, "", calls // 5))
            free_text.quick_search = lambda _text: None
            without.append(per_call_ns(build, "", calls // 5))
    finally:
        free_text.quick_search = real
    checked, unchecked = min(with_check), min(without)
    fields = 8  # actor.id, actor.role, purpose, 2 categories, source_system, correlation_id, resource
    print(f"\nPersonalDataAccessed(**data), {fields} checked fields, µs per event (fastest of 25 x {calls // 5:,}):")
    print(f"  with the check {checked / 1000:.2f}, without {unchecked / 1000:.2f}, "
          f"ratio {checked / unchecked:.3f}, the check's share {(checked - unchecked) / 1000:.2f} µs")  # fmt: skip


def body_costs(count: int) -> None:
    from pdtrail.producers import Pseudonymiser
    from pdtrail.schemas import EventCodec
    from pdtrail.simulate import simulate_company

    pseudonymiser = Pseudonymiser({1: b"bench-secret-0123456789abcdef"}, current_version=1)
    codec = EventCodec()
    bodies = []
    for _, event in simulate_company(max(1, count // 15), seed=3):
        bodies.append(codec.encode(pseudonymiser.pseudonymise_event(event)))  # a link's other identifier too
        if len(bodies) == count:
            break
    might_hold_identifier(b"")  # builds the byte pattern once (not timed)
    rounds = []
    for _ in range(5):
        start = time.perf_counter_ns()
        flagged = sum(might_hold_identifier(b) for b in bodies)
        rounds.append((time.perf_counter_ns() - start) / len(bodies))
    per_body = min(rounds)
    mean_size = statistics.mean(len(b) for b in bodies)
    print(f"\nmight_hold_identifier over {len(bodies):,} encoded simulated events ({mean_size:.0f} B mean):")
    print(f"  {per_body:.0f} ns per body (fastest of 5 passes); {flagged / len(bodies):.1%} flagged for a closer look")


def false_positives(samples: int) -> None:
    rng = random.Random(12)
    shapes: dict[str, Callable[[], str]] = {
        "random 10 digits": lambda: f"order {rng.randrange(10**10):010d}",
        "random 12 digits": lambda: f"order {rng.randrange(10**12):012d}",
        "random 8 digits": lambda: f"order {rng.randrange(10**8):08d}",
        "16-hex trace id": lambda: f"{rng.getrandbits(64):016x}",
        "32-hex trace id (W3C)": lambda: f"{rng.getrandbits(128):032x}",
        "UUID": lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "date + 4-digit id": lambda: (
            f"booking/2025-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}/{rng.randrange(10**4):04d}"
        ),
        "date + clock time": lambda: (
            f"at 2025-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d} "
            f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"
        ),
        "Swedish mobile number": lambda: f"070-{rng.randrange(10**7):07d}",
    }
    print(f"\nfalse positives (refused though not an identifier), {samples:,} samples each:")
    for name, make in shapes.items():
        hits = sum(identifier_in_clear(make()) is not None for _ in range(samples))
        print(f"  {name:<24} {hits / samples:8.3%}  ({hits} of {samples:,})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run with small counts")
    args = parser.parse_args()
    calls, events, bodies, samples = (2_000, 500, 300, 2_000) if args.quick else (200_000, 20_000, 20_000, 100_000)
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    field_costs(calls)
    event_costs(events)
    body_costs(bodies)
    false_positives(samples)
    print(f"\nload average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
