#!/usr/bin/env python
"""pdtrail findings benchmark: how long `pdtrail findings` takes over a log of >= 1M events.

Builds a store of simulated company years (``simulate_company``) with one planted violation of every
kind per block of subjects (``simulate_findings``), written as rows straight into an embedded chDB store
in a temporary directory (Kafka is not what this measures), then times:

- every finding kind over the whole log (all subjects), and all kinds together;
- all kinds for one subject (the DPO's per-subject question), p50/p99 over many subjects, over their rows read once and,
  for the baseline, kind by kind;
- baseline: one plain scan of the columns the findings read (the floor for a whole-log check).

It also checks the answer: the findings found must be exactly the planted ones. Figures only, no asserts
on time.

    python bench/bench_findings.py                 # 1,000,000 events (~3 min on 2 cores)
    python bench/bench_findings.py --events 100000 # a quicker look
    python bench/bench_findings.py --quick         # smoke run: fails on an error or a wrong answer, never on a timing
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SECRET = b"bench-findings-secret-" + b"x" * 16
BLOCK_SUBJECTS = 2000  # one planted set of findings per block of this many subjects


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the store, at least (default 1M)")
    parser.add_argument("--subjects", type=int, default=200, help="subjects asked about one by one (default 200)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each whole-log query; the best is kept")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "findings.json")
    parser.add_argument("--quick", action="store_true", help="smoke run: 20k events, 10 subjects, one run each")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.subjects, args.repeat = 20_000, 10, 1
    return args


def build_store(client: Any, target: int) -> tuple[int, set[tuple[str, str]], list[list[str]], dt.datetime]:
    from pdtrail.consumers import COLUMNS
    from pdtrail.consumers._rows import event_row
    from pdtrail.infra import apply_migrations
    from pdtrail.producers import Pseudonymiser
    from pdtrail.schemas import SchemaCatalog, SubjectKind, load_register
    from pdtrail.simulate import simulate_company, simulate_findings

    apply_migrations(client)
    pseudonymiser = Pseudonymiser({1: SECRET}, current_version=1)
    catalog, version = SchemaCatalog.default(), load_register().version
    now = dt.datetime.now(dt.UTC)
    planted: set[tuple[str, str]] = set()
    subject_keys: list[list[str]] = []
    stored, block, last = 0, 0, dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    started = time.perf_counter()
    seen: set[str] = set()
    while stored < target:
        # simulate_company gives each customer its own personnummer, but blocks are separate companies and
        # repeat some (about 100 pairs in 65,000 subjects); two journeys of one "person" would make
        # findings no one planted. Keep the first.
        stream = [(s, e) for s, e in simulate_company(BLOCK_SUBJECTS, seed=1000 + block) if s.personnummer not in seen]
        seen |= {s.personnummer for s, _ in stream}
        plants = simulate_findings(stream, seed=block)
        planted |= {(p.kind, str(p.event.event_id)) for p in plants if p.kind}
        rows = []
        for offset, (_, event) in enumerate([*stream, *((p.subject, p.event) for p in plants)]):
            # Keyed by the identifier the event carries (a customer id, a link's other identifier too).
            stamped = pseudonymiser.pseudonymise_event(event).model_copy(update={"register_version": version})
            rows.append(event_row(stamped, catalog.current(event.avro_name), "bench.findings", block % 6, offset, now))
            last = max(last, event.occurred_at)
        client.insert("events", rows, column_names=COLUMNS)
        stored += len(rows)
        if block < 50:
            subject_keys += [
                pseudonymiser.lookup_keys(SubjectKind.PERSONNUMMER, s.personnummer)
                for s in list({s for s, _ in stream})[:10]
            ]
        block += 1
        rate = stored / (time.perf_counter() - started)
        print(f"\r  stored {stored:,} events ({rate:,.0f}/s)", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return stored, planted, subject_keys, last


def timed(run: Any, repeat: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    return best, result


def _percentiles(ms: list[float]) -> dict[str, float]:
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return {"n": len(ms), "p50": round(statistics.median(ms), 1), "p99": round(p99, 1)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from pdtrail.config import load_settings
    from pdtrail.queries import FINDING_KINDS, LocalQueries, findings
    from pdtrail.store import connect

    with tempfile.TemporaryDirectory(prefix="pdtrail-bench-findings-") as home:
        client = connect(load_settings(home=Path(home), store={"dsn": f"chdb://{Path(home) / 'store'}"}))
        print(f"building a store of >= {args.events:,} events…", file=sys.stderr)
        started = time.perf_counter()
        stored, planted, subject_keys, last = build_store(client, args.events)
        build_s = time.perf_counter() - started
        backend = LocalQueries(client)
        as_of = last + dt.timedelta(days=60)

        scan_s, _ = timed(
            lambda: client.query(
                "SELECT count() FROM events WHERE NOT ignore(subject_key, occurred_at, event_type, purpose, "
                "legal_basis, data_categories, actor_role, party_org_no, party_name, reference, outcome)"
            ),
            args.repeat,
        )
        per_kind: dict[str, float] = {}
        for kind in FINDING_KINDS:
            per_kind[kind], _ = timed(lambda kind=kind: findings(backend, kinds=[kind], as_of=as_of), args.repeat)
        all_s, found = timed(lambda: findings(backend, as_of=as_of), args.repeat)
        got = {(f.kind, f.event_id) for f in found}

        # One subject: every kind over the person's rows, read once (what the CLI and the desk ask), and
        # kind by kind as the baseline (ten queries, each reading the subject's rows itself).
        one: list[float] = []
        ten: list[float] = []
        for keys in subject_keys[: args.subjects]:
            started = time.perf_counter()
            findings(backend, keys, as_of=as_of)
            one.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            findings(backend, keys, as_of=as_of, kinds=list(FINDING_KINDS))
            ten.append((time.perf_counter() - started) * 1000)
        one.sort()
        ten.sort()

    figures = {
        "events": stored,
        "build_s": round(build_s, 1),
        "planted": len(planted),
        "found": len(found),
        "exactly_planted": got == planted,
        "baseline_scan_s": round(scan_s, 3),
        "all_kinds_s": round(all_s, 3),
        "ratio_all_kinds_to_scan": round(all_s / scan_s, 1),
        "per_kind_s": {k: round(v, 3) for k, v in per_kind.items()},
        "one_subject_ms": _percentiles(one),
        "one_subject_kind_by_kind_ms": _percentiles(ten),
    }
    print(f"\nfindings over {stored:,} events (store built in {build_s:.0f}s); load average {os.getloadavg()[0]:.2f}")
    print(f"  planted {len(planted)}, found {len(found)}, exactly the planted ones: {got == planted}")
    print(f"  baseline, one scan of the columns read:   {scan_s * 1000:8.0f} ms")
    print(f"  all {len(FINDING_KINDS)} kinds, whole log:                {all_s * 1000:8.0f} ms  "
          f"({all_s / scan_s:.1f}x the scan)")  # fmt: skip
    for kind, seconds in per_kind.items():
        print(f"    {kind:<24}                 {seconds * 1000:8.0f} ms")
    one_ms, ten_ms = figures["one_subject_ms"], figures["one_subject_kind_by_kind_ms"]
    print(f"  one subject, all kinds, rows read once: p50 {one_ms['p50']} ms, p99 {one_ms['p99']} ms (n={len(one)})")
    print(f"  baseline, kind by kind (ten queries): p50 {ten_ms['p50']} ms, p99 {ten_ms['p99']} ms "
          f"(ratio p50 {one_ms['p50'] / ten_ms['p50']:.2f})")  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if got == planted else 1  # a wrong answer fails the run, whatever the timings


if __name__ == "__main__":
    sys.exit(main())
