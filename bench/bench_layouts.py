#!/usr/bin/env python
"""The events table's layout candidates side by side: the same synthetic log in each, one lookup bench.

Each candidate is a copy of the ``events`` table with one choice changed (time slice of the partitions, subject
key as 64 hex or 32 bytes, event ids random or time-ordered, codecs, granule size, compression block size). The
log is filled once by the engine (bench/_fill.py) into the first candidate and copied into the others, so every
candidate holds the same rows, merged to one part per partition. Then, per candidate: bytes per event on disk
and the ten largest columns, and who_accessed / timeline for random subjects through clickhouse-connect's chDB
backend and through chDB's own connection (the call path), with what ``system.query_log`` says each read.
Figures only, never asserts.

    python bench/bench_layouts.py --rows 5000000 --subjects 50000 --months 84
    python bench/bench_layouts.py --quick
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _fill

# The per-subject queries say through which identity link a row was found; asked directly, with one
# subject's own keys, no row was found through a link (native parameters are given as text).
NO_LINKS: dict[str, list[str]] = {"via_keys": [], "via_labels": []}
NO_LINKS_TEXT = {"via_keys": "[]", "via_labels": "[]"}

ROOT = Path(__file__).resolve().parents[1]
LC = "LowCardinality(String)"


@dataclass(frozen=True)
class Layout:
    name: str
    partition: str = "toYYYYMM(occurred_at)"
    key: str = "hex"  # or "bin": FixedString(32)
    ids: str = "v4"  # or "v7"
    codecs: str = "today"  # or "zstd": ZSTD on every column, Delta on the offsets
    granularity: int = 1024
    block: tuple[int, int] | None = None  # (min, max) compress block size; None: the engine's 64 KiB / 1 MiB
    order_by: str = "(subject_key, occurred_at, event_id)"
    compact: bool = False  # every part compact (all columns in one file), however large
    low_cardinality: bool = True  # False: the dictionary-encoded columns as plain String with ZSTD

    def ddl(self, table: str) -> str:
        z = self.codecs == "zstd"

        def c(kind: str) -> str:
            codec = {
                "lc": " CODEC(ZSTD(3))" if z or not self.low_cardinality else "",
                "str": " CODEC(ZSTD(3))",
                "time": " CODEC(DoubleDelta, ZSTD(3))",
                "small": " CODEC(ZSTD(3))",
                "offset": " CODEC(Delta, ZSTD(3))" if z else " CODEC(ZSTD(3))",
                "id": " CODEC(ZSTD(3))" if z else "",
            }[kind]
            return codec

        lc_type = LC if self.low_cardinality else "String"
        key_type = "FixedString(64)" if self.key == "hex" else "FixedString(32)"
        cols = [
            f"event_id UUID{c('id')}",
            f"event_type {lc_type}{c('lc')}",
            f"occurred_at DateTime64(6, 'UTC'){c('time')}",
            f"subject_key {key_type}{c('str')}",
            f"subject_key_version UInt16{c('small')}",
        ]
        for name in ("subject_kind", "actor_type", "actor_id", "actor_role", "purpose", "legal_basis"):
            cols.append(f"{name} {lc_type}{c('lc')}")
        cols.append(f"data_categories Array({lc_type}){c('lc')}")
        cols.append(f"source_system {lc_type}{c('lc')}")
        cols.append(f"correlation_id String{c('str')}")
        cols.append(f"collection_source {lc_type}{c('lc')}")
        cols.append(f"access_kind {lc_type}{c('lc')}")
        cols.append(f"resource String{c('str')}")
        for name in ("party_name", "party_org_no", "party_country", "party_role"):
            cols.append(f"{name} {lc_type}{c('lc')}")
        cols.append(f"reference String{c('str')}")
        cols.append(f"outcome {lc_type}{c('lc')}")
        cols.append(f"action {lc_type}{c('lc')}")
        cols.append(f"gdpr_right {lc_type}{c('lc')}")
        cols.append(f"reason String{c('str')}")
        cols.append(f"register_version {lc_type}{c('lc')}")
        cols.append(f"schema_name {lc_type}{c('lc')}")
        cols.append(f"schema_version UInt16{c('small')}")
        cols.append(f"kafka_topic {lc_type}{c('lc')}")
        cols.append(f"kafka_partition UInt16{c('small')}")
        cols.append(f"kafka_offset UInt64{c('offset')}")
        cols.append(f"ingested_at DateTime64(6, 'UTC'){c('time')}")
        settings = [f"index_granularity = {self.granularity}"]
        if self.block:
            settings += [f"min_compress_block_size = {self.block[0]}", f"max_compress_block_size = {self.block[1]}"]
        if self.compact:
            settings += ["min_bytes_for_wide_part = 1000000000000", "min_rows_for_wide_part = 1000000000000"]
        partition = f"PARTITION BY {self.partition}\n" if self.partition else ""
        return (
            f"CREATE TABLE {table} (\n  " + ",\n  ".join(cols) + "\n) ENGINE = MergeTree\n"
            f"{partition}ORDER BY {self.order_by}\nSETTINGS {', '.join(settings)}"
        )


BASE = Layout("today: by month, 64 hex, v4 ids")
CANDIDATES = [
    BASE,
    replace(BASE, name="by year", partition="toYear(occurred_at)"),
    replace(BASE, name="unpartitioned, 64 hex, v4 ids", partition=""),
    replace(BASE, name="by month, v7 ids", ids="v7"),
    replace(BASE, name="by year, v7 ids", partition="toYear(occurred_at)", ids="v7"),
    replace(BASE, name="by year, v7, zstd", partition="toYear(occurred_at)", ids="v7", codecs="zstd"),
    replace(
        BASE, name="by year, v7, zstd, 32-byte key", partition="toYear(occurred_at)", ids="v7", codecs="zstd", key="bin"
    ),
    replace(
        BASE,
        name="by year, v7, zstd, blocks 8-64k",
        partition="toYear(occurred_at)",
        ids="v7",
        codecs="zstd",
        block=(8192, 65536),
    ),
    replace(
        BASE,
        name="by year, v7, zstd, blocks 8-64k, gran 256",
        partition="toYear(occurred_at)",
        ids="v7",
        codecs="zstd",
        block=(8192, 65536),
        granularity=256,
    ),
    replace(BASE, name="by month, v7, zstd, blocks 8-64k", ids="v7", codecs="zstd", block=(8192, 65536)),
    replace(BASE, name="unpartitioned, v7, zstd", partition="", ids="v7", codecs="zstd"),
    replace(
        BASE, name="unpartitioned, v7, zstd, blocks 8-64k", partition="", ids="v7", codecs="zstd", block=(8192, 65536)
    ),
    replace(BASE, name="unpartitioned, v7, zstd, gran 256", partition="", ids="v7", codecs="zstd", granularity=256),
    replace(BASE, name="unpartitioned, v7, zstd, 32-byte key", partition="", ids="v7", codecs="zstd", key="bin"),
    replace(BASE, name="by month, v7, zstd, compact parts", ids="v7", codecs="zstd", compact=True),
    replace(
        BASE,
        name="by year, v7, zstd, compact parts",
        partition="toYear(occurred_at)",
        ids="v7",
        codecs="zstd",
        compact=True,
    ),
    replace(
        BASE,
        name="by year, v7, zstd, compact parts, gran 256",
        partition="toYear(occurred_at)",
        ids="v7",
        codecs="zstd",
        compact=True,
        granularity=256,
    ),
]


# How each candidate is asked; "native, max_threads=1" too with --all-paths.
PATHS = ("clickhouse-connect", "chdb native")


def sql_for(name: str, table: str, layout: Layout) -> str:
    sql = (ROOT / "queries" / f"{name}.sql").read_text().replace("FROM events", f"FROM {table}")
    if layout.key == "bin":
        sql = sql.replace(
            "subject_key IN {subject_keys:Array(String)}",
            "subject_key IN (SELECT unhex(arrayJoin({subject_keys:Array(String)})))",
        )
    return sql


def percentiles(ms: list[float]) -> tuple[float, float]:
    ms = sorted(ms)
    return ms[len(ms) // 2], ms[min(len(ms) - 1, int(len(ms) * 0.99))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--subjects", type=int, default=50_000)
    parser.add_argument("--months", type=int, default=84)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--only", default="", help="comma-separated candidate numbers (0 = today)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 100k rows, 1k subjects, 20 queries")
    parser.add_argument("--all-paths", action="store_true", help="also chDB's connection with max_threads=1")
    args = parser.parse_args(argv)
    global PATHS
    if args.all_paths:
        PATHS = (*PATHS, "native, max_threads=1")
    if args.quick:
        args.rows, args.subjects, args.queries = 100_000, 1_000, 20
    import chdb
    import clickhouse_connect

    from pdtrail.consumers import COLUMNS

    home = Path(tempfile.mkdtemp(prefix="pdtrail-layouts-"))
    picked = [CANDIDATES[int(i)] for i in args.only.split(",")] if args.only else CANDIDATES
    print(
        f"layouts: {args.rows:,} events, {args.subjects:,} subjects, {args.months} months; "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    client = clickhouse_connect.get_client(dsn=f"chdb://{home}/store")
    client.command("CREATE DATABASE IF NOT EXISTS lay")
    client = clickhouse_connect.get_client(dsn=f"chdb://{home}/store", database="lay")
    native = chdb.connect(f"file:{home}/store")
    native.query("USE lay")
    import random

    rng = random.Random(7)
    sample = [_fill.synthetic_key(rng.randrange(args.subjects)) for _ in range(args.queries + 5)]
    sources: dict[tuple[str, str], str] = {}
    try:
        for index, layout in enumerate(picked):
            table = f"t{index}"
            client.command(layout.ddl(table))
            t0 = time.perf_counter()
            source = sources.get((layout.ids, layout.key))
            if source is None:
                _fill.fill(client, table, COLUMNS, args.rows, args.subjects, args.months, event_ids=layout.ids,
                           key=layout.key)  # fmt: skip
                sources[(layout.ids, layout.key)] = table
            else:
                client.command(
                    f"INSERT INTO {table} ({', '.join(COLUMNS)}) SELECT {', '.join(COLUMNS)} FROM {source}",
                    settings={"max_partitions_per_insert_block": 1000},
                )
            client.command(f"OPTIMIZE TABLE {table} FINAL")
            filled = time.perf_counter() - t0
            parts, on_disk = client.query(
                "SELECT count(), sum(bytes_on_disk) FROM system.parts WHERE database = 'lay' AND table = {t:String} "
                "AND active",
                parameters={"t": table},
            ).result_rows[0]
            top = client.query(
                "SELECT column, sum(column_data_compressed_bytes) AS b FROM system.parts_columns "
                "WHERE database = 'lay' AND table = {t:String} AND active GROUP BY column ORDER BY b DESC LIMIT 8",
                parameters={"t": table},
            ).result_rows
            print(
                f"\n[{index}] {layout.name}: {parts} parts, {on_disk / args.rows:.1f} B/event on disk "
                f"(filled in {filled:.0f}s)\n    largest columns (B/event): "
                + ", ".join(f"{n} {b / args.rows:.1f}" for n, b in top),
                flush=True,
            )
            for query in ("who_accessed", "timeline"):
                sql = sql_for(query, table, layout)
                for path in PATHS:
                    ms = []
                    cpu0 = sum(os.times()[:2])
                    for i, key in enumerate(sample):
                        params = {"subject_keys": [key], **NO_LINKS, "since": "1970-01-01 00:00:00",
                                  "until": "2200-01-01 00:00:00", "limit": 10_000, "offset": 0}  # fmt: skip
                        t = time.perf_counter()
                        if path == "clickhouse-connect":
                            client.query(sql, parameters=params)
                        else:
                            native_params = {
                                **params,
                                "subject_keys": "['" + key + "']",
                                "via_keys": "[]",
                                "via_labels": "[]",
                            }
                            one = sql.replace("SETTINGS ", "SETTINGS max_threads=1, ")
                            text = sql if path == "chdb native" else one
                            native.query(text, "Native", params=native_params)
                        if i >= 5:
                            ms.append((time.perf_counter() - t) * 1000)
                    p50, p99 = percentiles(ms)
                    cpu = (sum(os.times()[:2]) - cpu0) / len(sample) * 1000
                    print(f"    {query:<12} {path:<22} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  cpu {cpu:5.2f} ms/query",
                          flush=True)  # fmt: skip
            # chDB keeps no system.query_log: the engine's own figures come with each result, and EXPLAIN says
            # how many parts and granules the primary key selected.
            key = sample[0]
            stats = native.query(sql_for("timeline", table, layout), "Native", params={
                "subject_keys": "['" + key + "']", **NO_LINKS_TEXT, "since": "1970-01-01 00:00:00",
                "until": "2200-01-01 00:00:00", "limit": 10_000, "offset": 0})  # fmt: skip
            explain = native.query("EXPLAIN indexes = 1 " + sql_for("timeline", table, layout), "TSVRaw", params={
                "subject_keys": "['" + key + "']", **NO_LINKS_TEXT, "since": "1970-01-01 00:00:00",
                "until": "2200-01-01 00:00:00", "limit": 10_000, "offset": 0}).bytes().decode()  # fmt: skip
            granules = re.findall(r"Granules: (\d+/\d+)", explain)
            parts_sel = re.findall(r"Parts: (\d+/\d+)", explain)
            print(
                f"    timeline, engine: {stats.rows_read()} rows read, {stats.bytes_read()} bytes read, "
                f"elapsed {stats.elapsed() * 1000:.2f} ms; primary key: parts {parts_sel[-1:]}, "
                f"granules {granules[-1:]}",
                flush=True,
            )
            if index and source is None and not args.only:
                pass
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
