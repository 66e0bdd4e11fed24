#!/usr/bin/env python
"""What a sealed subject reference costs the desk: sealing one (``POST /subjects``) and opening one
(every request on a subject), against the in-memory case store it replaced (a dict lookup), in the
same run. Pseudonymising the identifier (what opening a case cost before too) is printed beside it.

It prints figures only; it never asserts timings.

    python bench/bench_refs.py            # 20,000 references
    python bench/bench_refs.py --quick    # a smoke run: fails on an error, never on a timing
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pdtrail.desk._cases import CaseBook
from pdtrail.desk._refs import RefKeys
from pdtrail.producers import Pseudonymiser
from pdtrail.schemas import SubjectKind
from pdtrail.simulate import generate_personnummer


def _timed(call: Callable[[int], object], n: int) -> list[float]:
    took = []
    for i in range(n):
        start = time.perf_counter_ns()
        call(i)
        took.append((time.perf_counter_ns() - start) / 1000)
    return took


def _line(name: str, micros: list[float], baseline: float | None = None) -> str:
    p50 = statistics.median(micros)
    p99 = statistics.quantiles(micros, n=100)[98] if len(micros) >= 100 else max(micros)
    ratio = f"  x{p50 / baseline:,.1f} the baseline" if baseline else ""
    return f"  {name:<34} p50 {p50:8.2f} µs  p99 {p99:8.2f} µs{ratio}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20_000, help="references sealed and opened")
    parser.add_argument("--quick", action="store_true", help="a smoke run of 200")
    args = parser.parse_args()
    n = 200 if args.quick else args.n
    rng = random.Random(7)
    identifiers = [generate_personnummer(rng) for _ in range(n)]
    pseudonyms = Pseudonymiser({1: secrets.token_bytes(32), 2: secrets.token_bytes(32)}, 2)
    book = CaseBook(RefKeys.generate(), pseudonyms)
    owners = [f"dpo-{i % 5}" for i in range(n)]

    # Baseline: the store the sealed references replaced, a bounded dict of cases by random reference.
    store: OrderedDict[str, tuple[str, str]] = OrderedDict()
    names = [secrets.token_urlsafe(16) for _ in range(n)]
    put = _timed(lambda i: store.__setitem__(names[i], (owners[i], identifiers[i])), n)
    get = _timed(lambda i: store.get(names[i]), n)

    keys = _timed(lambda i: pseudonyms.lookup_keys(SubjectKind.PERSONNUMMER, identifiers[i]), n)
    cases = []
    seal = _timed(lambda i: cases.append(book.open(owners[i], identifiers[i], SubjectKind.PERSONNUMMER, "dpo.x")), n)
    opened = _timed(lambda i: book.get(owners[i], cases[i].reference), n)
    assert all(book.get(owners[i], cases[i].reference).identifier.keys == cases[i].identifier.keys for i in range(n))

    print(f"sealed references, {n:,} (load average {', '.join(f'{x:.2f}' for x in os.getloadavg())})")
    print(_line("baseline: dict insert (old open)", put))
    print(_line("baseline: dict lookup (old get)", get))
    print(_line("pseudonymise (2 key versions)", keys))
    # The old open validated the identifier by pseudonymising it too, then stored the case.
    print(_line("open a case: pseudonymise + seal", seal, statistics.median(keys) + statistics.median(put)))
    print(_line("open a reference (AES-GCM + JSON)", opened, statistics.median(get)))
    print(f"  reference length: {statistics.median(len(c.reference) for c in cases):.0f} characters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
