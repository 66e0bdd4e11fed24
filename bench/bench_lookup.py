#!/usr/bin/env python
"""pdtrail lookup benchmark: a DPO's questions over years of log, at the size a company reaches in seven years.

Fills an embedded chDB store (the project's own migrations, so the real layout) with synthetic events spread over
``--months`` months, written by the engine itself (INSERT ... SELECT FROM numbers(), in chunks; bench/_fill.py),
a few hundred subjects under the keys the SDK gives generated personnummer, then merges (OPTIMIZE FINAL) and
times, for those subjects asked by personnummer:

- who-accessed and timeline through ``SubjectLineage`` (what the CLI, the desk and the reports call);
- one subject's findings (every kind, over the person's rows read once), by their keys and by identifier
  (``person_findings``: the linked person, as the desk and the CLI ask);
- ``SELECT 1`` through the same client: the floor of one call into chDB;
- bytes per event on disk: the events table, and every table of the store;
- what the engine read for one timeline (rows, bytes, parts and granules the primary key selected).

Each size gets its own store; ``--store DIR`` keeps it, and a later run with the same ``--store`` reuses the
filled store (a 100M fill takes long on 2 cores) and only measures. Figures only, never asserts on time.

    python bench/bench_lookup.py --rows 100000000 --subjects 1000000 --months 84 --store /var/tmp/lk84
    python bench/bench_lookup.py --months 84,12                 # 1M events, both spans side by side
    python bench/bench_lookup.py --quick                        # smoke run: fails on an error, never on a timing
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _fill

# The per-subject queries say through which identity link a row was found; asked directly, with one
# subject's own keys, no row was found through a link (native parameters are given as text).
NO_LINKS: dict[str, list[str]] = {"via_keys": [], "via_labels": []}

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-lookup-secret-" + "x" * 32
PROBES = 300  # subjects asked by personnummer; the rest of the log is synthetic keys


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="events in the log (default 1M)")
    parser.add_argument("--subjects", type=int, default=None, help="subjects (default rows / 100)")
    parser.add_argument("--months", default="84", help="months the log spans; a list (84,12) gives one store each")
    parser.add_argument("--queries", type=int, default=200, help="lookups per question")
    parser.add_argument("--store", type=Path, default=None, help="keep the stores here, and reuse a filled one")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--until", type=int, default=None, help="apply the migrations up to this one only (a before)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "lookup.json")
    parser.add_argument("--quick", action="store_true", help="smoke run: 100k events, 1k subjects, 20 lookups")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.subjects, args.queries = 100_000, 1_000, 20
    args.subjects = args.subjects or max(PROBES, args.rows // 100)
    args.months = [int(m) for m in str(args.months).split(",")]
    if args.rows < 1000 or args.subjects < PROBES or args.queries < 1 or min(args.months) < 1:
        parser.error(f"--rows >= 1000, --subjects >= {PROBES}, --queries >= 1, --months >= 1")
    return args


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return float(ordered[rank - 1])


def timed(run: Callable[[Any], Any], args: Sequence[Any], warmup: int = 5) -> dict[str, float]:
    """Wall p50/p99/max and the process's CPU per call (engine threads included: steadier on a busy machine)."""
    for arg in args[:warmup]:
        run(arg)
    wall, rows = [], 0
    cpu0 = sum(os.times()[:2])
    for arg in args:
        started = time.perf_counter()
        result = run(arg)
        wall.append((time.perf_counter() - started) * 1000)
        rows += 0 if isinstance(result, bytes) else len(getattr(result, "rows", result) or ())
    cpu = (sum(os.times()[:2]) - cpu0) * 1000 / len(args)
    return {
        "p50": percentile(wall, 50),
        "p99": percentile(wall, 99),
        "max": max(wall),
        "cpu_ms": cpu,
        "n": len(wall),
        "mean_rows": rows / len(args),
    }


def settings_for(home: Path) -> Any:
    from pdtrail.config import load_settings

    return load_settings(home=home, pseudonym={"secret": SECRET})


def probe_people(settings: Any, seed: int) -> list[tuple[str, str]]:
    """(personnummer, subject key) of the subjects asked about, keyed as the SDK keys them."""
    from pdtrail.producers import Pseudonymiser
    from pdtrail.schemas import SubjectKind
    from pdtrail.simulate import generate_personnummer

    rng = random.Random(seed)
    pseudonymiser = Pseudonymiser.from_settings(settings)
    people = list(dict.fromkeys(generate_personnummer(rng) for _ in range(PROBES * 2)))[:PROBES]
    return [(p, pseudonymiser.lookup_keys(SubjectKind.PERSONNUMMER, p)[0]) for p in people]


def disk(client: Any, database: str) -> dict[str, Any]:
    rows = int(client.command("SELECT count() FROM events"))
    per_table = client.query(
        "SELECT table, sum(bytes_on_disk), count() FROM system.parts WHERE database = {db:String} AND active "
        "GROUP BY table ORDER BY table",
        parameters={"db": database},
    ).result_rows
    tables = {t: {"bytes": int(b), "parts": int(p)} for t, b, p in per_table}
    columns = client.query(
        "SELECT column, sum(column_data_compressed_bytes) AS b FROM system.parts_columns "
        "WHERE database = {db:String} AND table = 'events' AND active GROUP BY column ORDER BY b DESC LIMIT 8",
        parameters={"db": database},
    ).result_rows
    events = tables.get("events", {"bytes": 0, "parts": 0})
    return {
        "rows": rows,
        "events_parts": events["parts"],
        "events_bytes_per_event": events["bytes"] / rows if rows else None,
        "store_bytes_per_event": sum(t["bytes"] for t in tables.values()) / rows if rows else None,
        "tables": tables,
        "largest_columns_bytes_per_event": {c: int(b) / rows for c, b in columns} if rows else {},
    }


def fill_store(client: Any, args: argparse.Namespace, months: int, probes: list[tuple[str, str]]) -> float:
    from pdtrail.consumers import COLUMNS

    seconds = _fill.fill(client, "events", COLUMNS, args.rows, args.subjects, months, probe_keys=[k for _, k in probes])
    started = time.perf_counter()
    client.command("OPTIMIZE TABLE events FINAL")  # a bench artefact: old months are merged in a real log too
    return seconds + time.perf_counter() - started


def engine_read(client: Any, sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """What the engine read for one query: its own counters and the primary key's selection."""
    result = client.query(sql, parameters=params)
    summary = dict(result.summary or {})
    explain = "\n".join(r[0] for r in client.query("EXPLAIN indexes = 1 " + sql, parameters=params).result_rows)
    parts = re.findall(r"Parts: (\d+/\d+)", explain)
    granules = re.findall(r"Granules: (\d+/\d+)", explain)
    return {
        "read_rows": summary.get("read_rows"),
        "read_bytes": summary.get("read_bytes"),
        "parts_selected": parts[-1] if parts else None,
        "granules_selected": granules[-1] if granules else None,
    }


def native_call_path(settings: Any, people_keys: list[str], queries: int) -> dict[str, Any]:
    """The same SQL through chDB's own connection (no clickhouse-connect): the floor of the call path."""
    import chdb

    from pdtrail.queries import load_sql
    from pdtrail.store import embedded_path

    path = embedded_path(settings)
    if path is None:
        return {}
    conn = chdb.connect(f"file:{path}")
    conn.query(f"USE {settings.store.database}")
    since, until = "1970-01-01 00:00:00.000000", "2200-01-01 00:00:00.000000"

    def run(name: str) -> Callable[[str], Any]:
        sql = load_sql(name)

        def one(key: str) -> Any:
            params = {
                "subject_keys": f"['{key}']",
                "via_keys": "[]",
                "via_labels": "[]",
                "since": since,
                "until": until,
                "limit": 10_000,
                "offset": 0,
            }
            return conn.query(sql, "Native", params=params).bytes()

        return one

    keys = people_keys[:queries]
    out = {
        "native_select_1_ms": timed(lambda _: conn.query("SELECT 1", "Native").bytes(), range(queries)),
        "native_who_accessed_ms": timed(run("who_accessed"), keys),
        "native_timeline_ms": timed(run("timeline"), keys),
    }
    conn.close()
    return out


def measure(client: Any, settings: Any, probes: list[tuple[str, str]], queries: int, seed: int) -> dict[str, Any]:
    from pdtrail.producers import Pseudonymiser
    from pdtrail.queries import LocalQueries, SubjectLineage, findings, load_sql, person_findings

    backend = LocalQueries(client)
    lineage = SubjectLineage(backend, Pseudonymiser.from_settings(settings))
    rng = random.Random(seed)
    people = [rng.choice(probes)[0] for _ in range(queries)]
    out: dict[str, Any] = {"select_1_ms": timed(lambda _: client.query("SELECT 1").result_rows, range(queries))}
    out["who_accessed_ms"] = timed(lineage.who_accessed, people)
    out["timeline_ms"] = timed(lineage.timeline, people)
    out["findings_ms"] = timed(lambda p: findings(backend, lineage.subject_keys(p)), people)
    out["person_findings_ms"] = timed(lambda p: person_findings(lineage, p), people)  # with the links walked
    key = lineage.subject_keys(people[0])
    params = {"subject_keys": key, **NO_LINKS, "since": "1970-01-01 00:00:00", "until": "2200-01-01 00:00:00",
              "limit": 10_000, "offset": 0}  # fmt: skip
    out["timeline_engine"] = engine_read(client, load_sql("timeline"), params)
    out.update(native_call_path(settings, [lineage.subject_keys(p)[0] for p in people], queries))
    return out


def run_one(args: argparse.Namespace, months: int) -> dict[str, Any]:
    from pdtrail.infra import apply_migrations
    from pdtrail.store import connect

    keep = args.store is not None
    home = (args.store / f"r{args.rows}-s{args.subjects}-m{months}") if keep else Path(tempfile.mkdtemp(prefix="lk-"))
    home.mkdir(parents=True, exist_ok=True)
    settings = settings_for(home)
    client = connect(settings)
    try:
        apply_migrations(client, until=args.until)
        probes = probe_people(settings, args.seed)
        stored = int(client.command("SELECT count() FROM events"))
        fill_s = None
        if stored == 0:
            print(f"   filling {args.rows:,} events, {args.subjects:,} subjects over {months} months ...", flush=True)
            fill_s = fill_store(client, args, months, probes)
            print(f"   filled and merged in {fill_s:.0f}s", flush=True)
        elif stored != args.rows:
            raise SystemExit(f"{home} holds {stored:,} events, not {args.rows:,}: use another --store")
        result: dict[str, Any] = {"months": months, "rows": args.rows, "subjects": args.subjects, "fill_s": fill_s}
        result["disk"] = disk(client, settings.store.database)
        result["loadavg_before"] = os.getloadavg()[0]
        result.update(measure(client, settings, probes, args.queries, args.seed))
        result["loadavg_after"] = os.getloadavg()[0]
        return result
    finally:
        client.close()
        if not keep:
            shutil.rmtree(home, ignore_errors=True)


def print_result(r: dict[str, Any]) -> None:
    d = r["disk"]
    print(
        f"== {r['rows']:,} events, {r['subjects']:,} subjects, {r['months']} months "
        f"(load average {r['loadavg_before']:.2f} -> {r['loadavg_after']:.2f})\n"
        f"   on disk: events {d['events_bytes_per_event']:.1f} B/event ({d['events_parts']} parts), "
        f"whole store {d['store_bytes_per_event']:.1f} B/event; largest columns: "
        + ", ".join(f"{c} {b:.1f}" for c, b in d["largest_columns_bytes_per_event"].items())
    )
    for key, label in (
        ("select_1_ms", "SELECT 1 (floor)"),
        ("who_accessed_ms", "who-accessed"),
        ("timeline_ms", "timeline"),
        ("findings_ms", "findings, one subject"),
        ("person_findings_ms", "findings, by identifier"),
        ("native_select_1_ms", "SELECT 1, chDB native"),
        ("native_who_accessed_ms", "who-accessed, native"),
        ("native_timeline_ms", "timeline, native"),
    ):
        if key not in r:
            continue
        v = r[key]
        print(
            f"   {label:<23} p50 {v['p50']:7.2f} ms  p99 {v['p99']:7.2f} ms  max {v['max']:7.2f} ms  "
            f"cpu {v['cpu_ms']:6.2f} ms/call  ({v['n']} calls, {v['mean_rows']:.1f} rows)"
        )
    print("   (native: the same SQL through chDB's own connection, no clickhouse-connect, no SubjectLineage)")
    e = r["timeline_engine"]
    print(
        f"   one timeline in the engine: {e['read_rows']} rows, {e['read_bytes']} bytes read; primary key selected "
        f"parts {e['parts_selected']}, granules {e['granules_selected']}",
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import chdb

    print(
        f"pdtrail lookup bench: {args.rows:,} events, {args.subjects:,} subjects, months {args.months}; "
        f"chDB {chdb.__version__} ({chdb.engine_version}), {os.cpu_count()} cpu; load average "
        f"{os.getloadavg()[0]:.2f}",
        flush=True,
    )
    report = {"started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "runs": []}
    for months in args.months:
        result = run_one(args, months)
        report["runs"].append(result)
        print_result(result)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"written {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
