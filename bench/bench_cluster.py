"""What the cluster layout costs on one node: lookups and inserts through the Distributed tables of
cluster mode, against the same data in the single-server tables (the baseline), in one chDB engine.

chDB loads a one-shard cluster on localhost (the shard is this engine: no network hop). The cluster
DDL is rendered by infra/_cluster_ddl.py with the Replicated engine and ON CLUSTER swapped for the
embedded engine (they need Keeper and a server), so this measures the Distributed layer itself and
the consumer's consistency settings, not replication. Prints figures only; never asserts timings.

    python bench/bench_cluster.py            # 1M rows, 300 lookups per table, 3 runs
    python bench/bench_cluster.py --quick    # 50k rows, 50 lookups, 1 run: fails on an error, never on a timing
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import clickhouse_connect

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
from _fill import fill_sql as _fill_sql  # noqa: E402
from _fill import synthetic_key  # noqa: E402

from bench import percentile  # noqa: E402

# The whole log: SubjectLineage's defaults, as epoch seconds (queries/_lineage.py).
EARLIEST, LATEST = "-62167219200.000000", "253402300800.000000"


def fill_sql(rows: int, subjects: int, months: int, start: int = 0) -> str:
    from pdtrail.consumers import COLUMNS

    return _fill_sql("events", COLUMNS, start, rows, rows=start + rows, subjects=subjects, months=months)


CONFIG = """<clickhouse>
  <tcp_port>9000</tcp_port>
  <remote_servers><bench><shard><internal_replication>true</internal_replication>
    <replica><host>localhost</host><port>9000</port></replica>
  </shard></bench></remote_servers>
</clickhouse>"""


def one_engine(statement: str) -> str:
    """The rendered cluster DDL for one embedded engine: no Keeper, so no Replicated engine, no ON CLUSTER."""
    statement = statement.replace(" ON CLUSTER `bench`", "")
    statement = re.sub(r"Replicated(\w*)MergeTree\('[^']*', '[^']*'(?:, )?", r"\1MergeTree(", statement)
    statement = re.sub(r"replicated_deduplication_window_seconds = \d+, ", "", statement)
    return statement.replace("replicated_deduplication_window", "non_replicated_deduplication_window")


class OneEngine:
    def __init__(self, client: Any) -> None:
        self.client = client

    def command(self, cmd: str, settings: Any = None, **kwargs: Any) -> Any:
        return self.client.command(one_engine(cmd), settings=settings, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 50k rows, 50 lookups, 1 run")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300, help="lookups per table and run")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.queries, args.runs = 50_000, 50, 1
    return args


def timed_ms(call: Callable[[Any], Any], items: Sequence[Any]) -> tuple[float, float]:
    spent = []
    for item in items:
        started = time.perf_counter_ns()
        call(item)
        spent.append(time.perf_counter_ns() - started)
    spent.sort()
    return percentile(spent, 50) / 1e6, percentile(spent, 99) / 1e6


def main(argv: Sequence[str] | None = None) -> int:
    from pdtrail.config import StoreSettings
    from pdtrail.infra import apply_migrations
    from pdtrail.infra._cluster_ddl import DEFAULT_SHARDING_KEYS, ClusterLayout
    from pdtrail.queries import LocalQueries
    from pdtrail.store import consistency_settings

    args = parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="pdtrail-bench-cluster-"))
    (home / "config.xml").write_text(CONFIG)
    print(f"pdtrail cluster bench: {args.rows:,} rows, {args.queries} lookups per table, {args.runs} run(s)")

    def client(database: str | None = None, **settings: Any) -> Any:
        options = {"config-file": str(home / "config.xml")}
        return clickhouse_connect.get_client(
            dsn=f"chdb://{home / 'store'}", database=database, chdb_options=options, settings=settings
        )

    bootstrap = client()
    for database in ("single", "clustered"):
        bootstrap.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    single, clustered = client("single"), client("clustered", optimize_skip_unused_shards=1)
    consistency = consistency_settings(StoreSettings(dsn="https://bench:8443", cluster="bench", database="clustered"))
    layout = ClusterLayout(
        cluster="bench", database="clustered", sharding_keys=DEFAULT_SHARDING_KEYS,
        insert_settings=consistency.insert_settings(), read_settings=consistency.read_settings(),
    )  # fmt: skip
    apply_migrations(single)
    apply_migrations(OneEngine(clustered), layout)

    subjects = max(1, args.rows // 10)
    for name, target, settings in (("single", single, {}), ("clustered", clustered, consistency.insert_settings())):
        started = time.perf_counter()
        target.command(fill_sql(args.rows, subjects, 6), settings=settings)
        print(f"  filled {name}: {args.rows:,} rows in {time.perf_counter() - started:.1f}s")
    single.command("OPTIMIZE TABLE events FINAL")
    clustered.command("OPTIMIZE TABLE events_local FINAL")
    stored = (single.command("SELECT count() FROM events"), clustered.command("SELECT count() FROM events"))
    assert stored == (args.rows, args.rows), stored

    backends = {"single": LocalQueries(single), "clustered": LocalQueries(clustered)}
    rng = random.Random(11)
    ratios = []
    for run in range(1, args.runs + 1):
        keys = [synthetic_key(n) for n in rng.sample(range(subjects), min(args.queries, subjects))]
        load = os.getloadavg()
        figures: dict[str, tuple[float, float]] = {}
        for name in ("single", "clustered", "single", "clustered"):  # interleaved: both see the same noise
            backend = backends[name]

            def lookup(key: str, backend: Any = backend) -> Any:
                params = {
                    "subject_keys": [key],
                    "via_keys": [],
                    "via_labels": [],
                    "since": EARLIEST,
                    "until": LATEST,
                    "limit": 10_000,
                    "offset": 0,
                }
                result = backend.run("who_accessed", params)
                return result

            figures[name] = timed_ms(lookup, keys)
        batch = max(1000, args.rows // 100)
        inserts: dict[str, float] = {}
        for name, target, settings in (("single", single, {}), ("clustered", clustered, consistency.insert_settings())):
            started = time.perf_counter()
            target.command(fill_sql(batch, subjects, 6, start=args.rows + run * batch), settings=settings)
            inserts[name] = (time.perf_counter() - started) * 1000
        ratio = figures["clustered"][0] / figures["single"][0]
        ratios.append(ratio)
        print(f"run {run} (load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}):")
        one, many = figures["single"], figures["clustered"]
        print(f"  who_accessed p50/p99  single {one[0]:.2f}/{one[1]:.2f} ms"
              f"   clustered {many[0]:.2f}/{many[1]:.2f} ms   p50 ratio {ratio:.2f}")  # fmt: skip
        print(f"  insert of {batch:,} rows  single {inserts['single']:.0f} ms   clustered {inserts['clustered']:.0f} ms"
              f"   ratio {inserts['clustered'] / inserts['single']:.2f}")  # fmt: skip
    print(f"p50 ratio clustered/single per run: {', '.join(f'{r:.2f}' for r in ratios)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
