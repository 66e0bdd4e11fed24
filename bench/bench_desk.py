#!/usr/bin/env python
"""The DPO's desk under load: API latency at >= 10M stored events, report generation, with a baseline.

One run starts its own Kafka broker (for the meta-audit event each lookup records) and its own
embedded chDB store in a temporary home, bulk-inserts synthetic rows straight into the events table
(bench/_fill.py, as bench_lookup.py: a hundred events per subject over ``--months`` months), gives a few
hundred of those subjects real personnummer keys, and serves the desk in this process (the desk owns the
store: in-process queries) with uvicorn on a free port. It then measures, through HTTP with a keep-alive client:

* who-accessed and timeline, p50/p99, the HTTP client in a process of its own (every request also
  records its lookup through the SDK and, by default, waits for Kafka to confirm it; ``--no-confirm``
  measures without that wait),
* the same named SQL run directly through clickhouse-connect on the same store (the baseline),
  and the ratio API / baseline,
* access-report JSON, access-report PDF and complaint-response PDF generation time.

It prints figures only; it never asserts timings.

    python bench/bench_desk.py                # 10M rows (~5-10 min on 2 cores)
    python bench/bench_desk.py --rows 1000000 --queries 100   # a quicker look
    python bench/bench_desk.py --store DIR --rows 100000000 --subjects 1000000   # a store bench_lookup.py filled
    python bench/bench_desk.py --quick        # smoke run: fails on an error, never on a timing
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import _fill  # noqa: E402
import bench_lookup  # noqa: E402  (the probe subjects and their secret, so a store it filled is reused)

import bench as base  # noqa: E402  (percentiles, machine info and helpers of bench.py)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000, help="stored events (default 10,000,000)")
    parser.add_argument("--queries", type=int, default=300, help="timed requests per endpoint (default 300)")
    parser.add_argument("--reports", type=int, default=10, help="timed reports of each kind (default 10)")
    parser.add_argument("--subjects", type=int, default=None, help="subjects (default rows / 100)")
    parser.add_argument("--months", type=int, default=84, help="months the log spans (default 84)")
    parser.add_argument("--store", type=Path, help="bench_lookup.py's --store: reuse the store it filled at this size")
    parser.add_argument("--quick", action="store_true", help="smoke run: 100k rows, 20 requests, 1 report")
    parser.add_argument("--no-confirm", action="store_true", help="do not wait for Kafka to confirm each lookup")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep", action="store_true", help="keep the temporary home afterwards")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.queries, args.reports = 100_000, 20, 1
    args.subjects = args.subjects or max(bench_lookup.PROBES, args.rows // 100)
    if args.rows < 1000 or args.subjects < bench_lookup.PROBES or args.queries < 1:
        parser.error(f"--rows >= 1000, --subjects >= {bench_lookup.PROBES}, --queries >= 1")
    return args


def fill(client: Any, rows: int, subjects: int, months: int, probes: list[tuple[str, str]]) -> dict[str, Any]:
    """The synthetic log, with the first subjects under the probes' real keys."""
    from pdtrail.consumers import COLUMNS

    seconds = _fill.fill(client, "events", COLUMNS, rows, subjects, months, probe_keys=[k for _, k in probes])
    total = int(client.command("SELECT count() FROM events"))
    return {"rows": total, "subjects": subjects, "seconds": seconds}


def timed(run: Callable[[Any], Any], args: Sequence[Any], warmup: int = 10) -> dict[str, float]:
    for arg in args[:warmup]:
        run(arg)
    latencies = []
    for arg in args:
        started = time.perf_counter_ns()
        run(arg)
        latencies.append(time.perf_counter_ns() - started)
    return base.latency_summary(latencies, 1e6)


def store_home(args: argparse.Namespace) -> Path:
    """Where bench_lookup.py keeps the store of this size (``--store``)."""
    return Path(args.store) / f"r{args.rows}-s{args.subjects}-m{args.months}"


def serve(app: Any, port: int) -> Any:
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    threading.Thread(target=server.run, name="desk", daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    return server


def client_process() -> int:
    """``--client``: the HTTP side of the measurement, in a process of its own so that the client does
    not share the server's interpreter (and its GIL). Reads a job as JSON on stdin, prints latencies."""
    import httpx

    job = json.load(sys.stdin)
    http = httpx.Client(base_url=job["url"], headers={"Authorization": f"Bearer {job['token']}"}, timeout=120)
    out: dict[str, list[int]] = {}  # latencies (ns) per path, and "<path> errors": [non-200 answers]
    for path in job["paths"]:
        latencies, errors = [], 0
        for n, ref in enumerate(job["warmup"] + job["refs"]):
            started = time.perf_counter_ns()
            status = http.get(f"/api/v1/subjects/{ref}/{path}").status_code
            if n >= len(job["warmup"]):
                latencies.append(time.perf_counter_ns() - started)
                errors += status != 200
        out[path] = latencies
        out[f"{path} errors"] = [errors]
    json.dump(out, sys.stdout)
    return 0


def through_http(url: str, token: str, refs: list[str], paths: list[str], warmup: int) -> dict[str, dict[str, float]]:
    import subprocess

    job = {"url": url, "token": token, "refs": refs, "warmup": refs[:warmup], "paths": paths}
    done = subprocess.run(
        [sys.executable, __file__, "--client"], input=json.dumps(job), capture_output=True, text=True, check=True
    )
    measured = json.loads(done.stdout)
    summaries = {path: base.latency_summary(measured[path], 1e6) for path in paths}
    for path in paths:
        summaries[path]["errors"] = measured[f"{path} errors"][0]
    return summaries


def line(name: str, s: dict[str, float]) -> str:
    errors = f", {s['errors']:.0f} not 200" if s.get("errors") else ""
    return (
        f"   {name:<34} p50 {s['p50']:7.2f} ms   p99 {s['p99']:7.2f} ms   max {s['max']:7.2f} ms   (n={s['n']}{errors})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="   %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pdtrail.librdkafka").setLevel(logging.CRITICAL)
    import httpx

    from pdtrail.config import load_settings
    from pdtrail.desk import create_app, new_token
    from pdtrail.infra import LocalBroker, apply_migrations, ensure_jars, ensure_topics
    from pdtrail.queries import LocalQueries, load_sql
    from pdtrail.store import connect

    home = Path(tempfile.mkdtemp(prefix="pdtrail-bench-desk-")).resolve()
    base.isolate_environment(home)
    info = base.machine_info()
    print(
        f"pdtrail desk bench: {args.rows:,} stored events, {args.queries} requests per endpoint; home {home}\n"
        f"machine: {info['nproc']} cpu ({info['cpu_model']}), {info['memory_gb']} GB, chDB {info['chdb']}; "
        f"load average {info['loadavg_start'][0]:.2f}"
    )
    figures: dict[str, Any] = {"machine": info, "parameters": {k: str(v) for k, v in vars(args).items()}}
    ensure_jars()
    taken: set[int] = set()
    broker = LocalBroker(home / "kafka", port=base.free_port(taken), controller_port=base.free_port(taken))
    server = None
    try:
        elapsed = base.step("starting the Kafka broker (the meta-audit events go there)")
        broker.start()
        print(f"   up in {elapsed():.1f}s")
        token, entry = new_token("bench-dpo", "dpo")
        settings = load_settings(
            home=home,
            kafka={"bootstrap_servers": broker.bootstrap_servers},
            pseudonym={"secret": bench_lookup.SECRET},
            store={"dsn": f"chdb://{store_home(args) / 'clickhouse'}"} if args.store else {},
            desk={"tokens": [entry.model_dump()], "confirm_lookups_s": 0 if args.no_confirm else 5.0},
        )
        with base.quiet_stderr():
            ensure_topics(settings)
        client = connect(settings)
        apply_migrations(client)

        probes = bench_lookup.probe_people(settings, args.seed)
        stored = int(client.command("SELECT count() FROM events"))
        if stored == 0:
            elapsed = base.step(f"filling the events table with {args.rows:,} synthetic rows (INSERT ... SELECT)")
            filled = fill(client, args.rows, args.subjects, args.months, probes)
            figures["fill"] = filled
            print(f"   {filled['rows']:,} rows of {filled['subjects']:,} subjects in {filled['seconds']:.1f}s")
            # Merge the fresh parts now, or background merges would run during whichever measurement comes first.
            started = time.perf_counter()
            client.command("OPTIMIZE TABLE events FINAL")
            print(f"   OPTIMIZE TABLE events FINAL in {time.perf_counter() - started:.1f}s")
        elif stored < args.rows:
            raise SystemExit(f"the store holds {stored:,} events, fewer than --rows {args.rows:,}")
        else:
            print(f"   reusing the store of {stored:,} events at {store_home(args)}")

        elapsed = base.step("serving the desk in this process (it owns the store) with uvicorn")
        app = create_app(settings, LocalQueries(connect(settings, create_database=False)))
        port = base.free_port(taken)
        server = serve(app, port)
        http = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"})
        refs = []
        for identifier, _ in probes:
            answer = http.post("/api/v1/subjects", json={"identifier": identifier})
            answer.raise_for_status()
            refs.append(answer.json()["subject"])
        print(f"   {len(refs)} subjects looked up (one POST each) in {elapsed():.1f}s")
        rng = random.Random(args.seed)
        picks = [rng.randrange(len(probes)) for _ in range(args.queries)]

        url = f"http://127.0.0.1:{port}"

        def direct(name: str) -> Callable[[int], Any]:
            sql = load_sql(name)
            since, until = "1970-01-01 00:00:00.000000", "2200-01-01 00:00:00.000000"

            def run(i: int) -> Any:
                params = {
                    "subject_keys": [probes[i][1]],
                    "via_keys": [],
                    "via_labels": [],
                    "since": since,
                    "until": until,
                    "limit": 101,
                    "offset": 0,
                }
                return client.query(sql, parameters=params)

            return run

        confirm = "no wait for Kafka" if args.no_confirm else "each lookup confirmed by Kafka"
        base.step(f"latency through HTTP ({confirm}) and of the same SQL through clickhouse-connect")
        # The baseline runs before and after the API, so drift on a shared machine shows as two figures.
        views = ["who_accessed", "timeline"]
        before = {view: timed(direct(view), picks) for view in views}
        api = through_http(url, token, [refs[i] for i in picks], views, warmup=10)
        after = {view: timed(direct(view), picks) for view in views}
        for view in views:
            baseline_p50 = (before[view]["p50"] + after[view]["p50"]) / 2
            ratio = api[view]["p50"] / baseline_p50 if baseline_p50 else float("nan")
            figures[f"api_{view}_ms"] = api[view]
            figures[f"direct_{view}_ms"] = {"before": before[view], "after": after[view]}
            figures[f"api_vs_direct_{view}_p50_ratio"] = ratio
            print(line(f"API {view}", api[view]))
            print(line(f"clickhouse-connect {view}, before", before[view]))
            print(line(f"clickhouse-connect {view}, after", after[view]))
            print(f"   ratio API / baseline (p50, baseline = mean of before and after): {ratio:.2f}")

        base.step(f"report generation through HTTP ({args.reports} each)")
        http.close()
        kinds = {
            "reports/access": "access report JSON",
            "reports/access?format=pdf": "access report PDF",
            # Without verifying checkpoints: the synthetic rows were never signed, so verify would only
            # re-read the whole period to say so. `pdtrail verify` has its own benchmark (bench_integrity.py).
            "reports/complaint?format=pdf&lang=sv&verify=false": "complaint response PDF (sv)",
        }
        timings = through_http(url, token, [refs[i] for i in picks[: args.reports]], list(kinds), warmup=1)
        for path, name in kinds.items():
            figures[f"report_{path}_ms"] = timings[path]
            print(line(name, timings[path]))
    finally:
        if server is not None:
            server.should_exit = True
            time.sleep(0.5)
        broker.stop()
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    target = figures.get("api_who_accessed_ms", {}).get("p99"), figures.get("api_timeline_ms", {}).get("p99")
    if all(t is not None for t in target):
        print(f"\ntarget p99 <= 20 ms through the API: who-accessed {target[0]:.1f} ms, timeline {target[1]:.1f} ms")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    os.environ.pop("PDTRAIL_CONFIG", None)
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--client"]:
        sys.exit(client_process())
    started = dt.datetime.now(dt.UTC)
    code = main()
    print(f"done in {(dt.datetime.now(dt.UTC) - started).total_seconds():.0f}s")
    sys.exit(code)
