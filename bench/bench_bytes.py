#!/usr/bin/env python
"""Bytes per event on disk, integrity included: the store's own tables, column by column, and candidates beside.

Fills an embedded chDB store laid out by the project's migrations (``--until N``: only up to migration N, to
measure an older layout) with synthetic events over ``--months`` months (bench/_fill.py, time-ordered v7 ids
as the SDK emits them), merges it (OPTIMIZE FINAL), then signs checkpoints over every partition's rows the way
the consumer does (leaves computed by the engine, one checkpoint per 1000 rows; the copy on the checkpoint topic
is not written, no broker is needed). Prints:

- bytes per event of ``events``, of ``checkpoints`` and of the two together;
- each column's compressed bytes per event, for both tables;
- candidates: one column of the log (in the log's own order) stored with another type or codec, in a table of
  its own, and its bytes per event beside what the store spends on it today.

Figures only; ``--quick`` fails on an error or a wrong answer (a row count, a checkpoint count), never on size.

    python bench/bench_bytes.py --rows 1000000 --subjects 10000 --months 84
    python bench/bench_bytes.py --rows 1000000 --subjects 10000 --months 84 --until 6 --prefix-bytes 8  # before
    python bench/bench_bytes.py --quick
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _fill

SECRET = "bench-bytes-secret-" + "x" * 32
EVERY = 1000  # rows per checkpoint, the consumer's default
ORDER = "subject_key, occurred_at, event_id"
# Wide parts (a file per column): a compact part does not say what each column costs.
WIDE = "SETTINGS min_bytes_for_wide_part = 0, min_rows_for_wide_part = 0"

# (column, physical type and codec, the SQL that reads it from the log): each one a table of its own.
CANDIDATES: list[tuple[str, str, str]] = [
    ("event_id", "UUID CODEC(ZSTD(3))", "event_id"),
    ("event_id", "UUID CODEC(ZSTD(9))", "event_id"),
    (
        "event_id: its 74 random bits only",
        "FixedString(10) CODEC(ZSTD(3))",
        "substring(reinterpretAsString(event_id), 7, 10)",
    ),
    ("occurred_at", "DateTime64(6, 'UTC') CODEC(T64, ZSTD(3))", "occurred_at"),
    ("occurred_at", "DateTime64(6, 'UTC') CODEC(DoubleDelta, ZSTD(3))", "occurred_at"),
    ("occurred_at", "DateTime64(6, 'UTC') CODEC(Delta, ZSTD(3))", "occurred_at"),
    ("occurred_at", "DateTime64(6, 'UTC') CODEC(T64, ZSTD(9))", "occurred_at"),
    ("occurred_at", "DateTime64(6, 'UTC') CODEC(Delta, T64, ZSTD(3))", "occurred_at"),
    ("ingested_at", "DateTime64(6, 'UTC') CODEC(T64, ZSTD(3))", "ingested_at"),
    ("ingested_at", "DateTime64(6, 'UTC') CODEC(Delta, ZSTD(3))", "ingested_at"),
    ("ingested_at, ms", "DateTime64(3, 'UTC') CODEC(T64, ZSTD(3))", "toDateTime64(ingested_at, 3, 'UTC')"),
    ("ingested_at, ms", "DateTime64(3, 'UTC') CODEC(Delta, ZSTD(3))", "toDateTime64(ingested_at, 3, 'UTC')"),
    ("ingested_at, ms", "DateTime64(3, 'UTC') CODEC(Delta, T64, ZSTD(3))", "toDateTime64(ingested_at, 3, 'UTC')"),
    ("ingested_at, s", "DateTime('UTC') CODEC(T64, ZSTD(3))", "toDateTime(ingested_at, 'UTC')"),
    ("kafka_offset", "UInt64 CODEC(T64, ZSTD(3))", "kafka_offset"),
    ("kafka_offset", "UInt64 CODEC(Delta, ZSTD(3))", "kafka_offset"),
    ("kafka_offset", "UInt64 CODEC(DoubleDelta, ZSTD(3))", "kafka_offset"),
    ("kafka_offset", "UInt64 CODEC(Delta, T64, ZSTD(3))", "kafka_offset"),
    ("subject_key", "FixedString(64) CODEC(ZSTD(3))", "subject_key"),
    ("subject_key", "FixedString(64) CODEC(ZSTD(9))", "subject_key"),
    ("subject_key", "LowCardinality(FixedString(64)) CODEC(ZSTD(3))", "subject_key"),
    ("reference", "String CODEC(ZSTD(3))", "reference"),
    ("reference", "String CODEC(ZSTD(9))", "reference"),
    ("resource", "String CODEC(ZSTD(3))", "resource"),
    ("resource", "LowCardinality(String) CODEC(ZSTD(3))", "resource"),
    ("correlation_id", "String CODEC(ZSTD(3))", "correlation_id"),
    ("correlation_id", "LowCardinality(String) CODEC(ZSTD(3))", "correlation_id"),
    ("actor_id", "LowCardinality(String) CODEC(ZSTD(3))", "actor_id"),
    ("actor_id", "LowCardinality(String) CODEC(ZSTD(9))", "actor_id"),
]
# The same for the checkpoints' per-event arrays (one checkpoint per row, in chain order).
CHECKPOINT_CANDIDATES: list[tuple[str, str, str]] = [
    ("leaf_prefixes, as signed (hex)", "Array(String) CODEC(ZSTD(3))", "leaf_prefixes"),
    ("leaf_prefixes, as bytes", "Array(String) CODEC(ZSTD(3))", "arrayMap(p -> unhex(p), leaf_prefixes)"),
    (
        "leaf_prefixes, 2 bytes of them",
        "Array(FixedString(2)) CODEC(ZSTD(3))",
        "arrayMap(p -> unhex(substring(p, 1, 4)), leaf_prefixes)",
    ),
    ("offsets", "Array(UInt64) CODEC(Delta, ZSTD(3))", "offsets"),
    ("months", "Array(UInt32) CODEC(Delta, ZSTD(3))", "months"),
]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=84)
    parser.add_argument("--until", type=int, default=None, help="apply the migrations up to this one only")
    parser.add_argument(
        "--prefix-bytes", type=int, default=None, help="bytes of each leaf kept in a checkpoint (default: pdtrail's)"
    )
    parser.add_argument("--no-candidates", action="store_true", help="the store's own tables only")
    parser.add_argument("--quick", action="store_true", help="smoke run: 20k rows, 200 subjects")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.subjects = 20_000, 200
    return args


def sign_checkpoints(client: Any, topic: str, prefix_bytes: int) -> int:
    """Checkpoints over every stored row, as the consumer cuts them: returns how many were written."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from pdtrail.integrity import _sql
    from pdtrail.integrity._checkpoint import COLUMNS, Checkpoint
    from pdtrail.integrity._keys import Signer
    from pdtrail.integrity._merkle import merkle_root
    from pdtrail.integrity.verify_proof import checkpoint_signed_bytes

    signer = Signer(Ed25519PrivateKey.from_private_bytes(hashlib.sha256(SECRET.encode()).digest()))
    partitions = [int(p) for (p,) in client.query("SELECT DISTINCT kafka_partition FROM events").result_rows]
    written = 0
    for partition in sorted(partitions):
        rows = _sql.leaves(client, topic, partition, 0, 2**63)
        last: Checkpoint | None = None
        batch = []
        for start in range(0, len(rows), EVERY):
            chunk = rows[start : start + EVERY]
            offsets, leaves, occurred = [r[0] for r in chunk], [r[1] for r in chunk], [r[2] for r in chunk]
            body = Checkpoint(
                topic=topic,
                partition=partition,
                seq=last.seq + 1 if last else 0,
                first_offset=offsets[0],
                last_offset=offsets[-1],
                leaf_count=len(chunk),
                root=merkle_root(leaves).hex(),
                offsets=offsets,
                leaf_prefixes=[leaf[:prefix_bytes].hex() for leaf in leaves],
                months=[int(m[:4] + m[5:7]) for m in occurred],
                min_occurred_at=min(occurred),
                max_occurred_at=max(occurred),
                prev=last.digest if last else "",
                key_id=signer.key_id,
            )
            signature = signer.sign(checkpoint_signed_bytes(body.as_dict())).hex()
            last = Checkpoint(**{**body.as_dict(), "signature": signature})
            batch.append(last)
        client.insert("checkpoints", [c.as_row() for c in batch], column_names=list(COLUMNS))
        written += len(batch)
    return written


def column_bytes(client: Any, table: str) -> dict[str, int]:
    """Compressed bytes of each column of ``table``, measured on a copy made of wide parts."""
    copy = f"wide_{table}"
    client.command(f"CREATE TABLE {copy} AS {table}")
    client.command(f"ALTER TABLE {copy} MODIFY SETTING min_bytes_for_wide_part = 0, min_rows_for_wide_part = 0")
    client.command(f"INSERT INTO {copy} SELECT * FROM {table}")
    client.command(f"OPTIMIZE TABLE {copy} FINAL")
    _, columns = table_bytes(client, copy)
    client.command(f"DROP TABLE {copy}")
    return columns


def table_bytes(client: Any, table: str) -> tuple[int, dict[str, int]]:
    """(bytes on disk, compressed bytes of each column) of the active parts of ``table``."""
    on_disk = client.query(
        "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = currentDatabase() AND table = {t:String} "
        "AND active",
        parameters={"t": table},
    ).result_rows[0][0]
    columns = client.query(
        "SELECT column, sum(column_data_compressed_bytes) AS b FROM system.parts_columns "
        "WHERE database = currentDatabase() AND table = {t:String} AND active GROUP BY column ORDER BY b DESC",
        parameters={"t": table},
    ).result_rows
    return int(on_disk or 0), {str(c): int(b) for c, b in columns}


def candidate_bytes(client: Any, index: int, source: str, order: str, ddl_type: str, expression: str) -> int:
    """Compressed bytes of one column, stored as ``ddl_type``, in the source's order (one part)."""
    table = f"candidate_{index}"
    client.command(f"CREATE TABLE {table} (v {ddl_type}) ENGINE = MergeTree ORDER BY tuple() {WIDE}")
    # One thread, one block: the rows keep the log's order, as they sit in its part.
    client.command(
        f"INSERT INTO {table} SELECT {expression} FROM {source} ORDER BY {order}",
        settings={"max_threads": 1, "max_insert_block_size": 100_000_000, "min_insert_block_size_rows": 100_000_000},
    )
    client.command(f"OPTIMIZE TABLE {table} FINAL")
    _, columns = table_bytes(client, table)
    client.command(f"DROP TABLE {table}")
    return columns["v"]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from pdtrail.config import load_settings
    from pdtrail.consumers import COLUMNS
    from pdtrail.infra import apply_migrations
    from pdtrail.store import connect

    home = Path(tempfile.mkdtemp(prefix="pdtrail-bytes-"))
    try:
        settings = load_settings(
            home=home,
            pseudonym={"secret": SECRET},
            integrity={"signing_key": base64.b64encode(hashlib.sha256(SECRET.encode()).digest()).decode()},
        )
        client = connect(settings)
        applied = apply_migrations(client, until=args.until)
        t0 = time.perf_counter()
        _fill.fill(client, "events", COLUMNS, args.rows, args.subjects, args.months)
        client.command("OPTIMIZE TABLE events FINAL")
        stored = int(client.command("SELECT count() FROM events"))
        if stored != args.rows:
            raise SystemExit(f"wrong answer: {stored} rows stored, {args.rows} filled")
        from pdtrail.integrity._checkpoint import PREFIX_BYTES

        prefix_bytes = args.prefix_bytes or PREFIX_BYTES
        checkpoints = sign_checkpoints(client, settings.kafka.topic, prefix_bytes)
        client.command("OPTIMIZE TABLE checkpoints FINAL")
        expected = int(
            client.command(
                f"SELECT sum(intDiv(c + {EVERY - 1}, {EVERY})) FROM "
                "(SELECT count() AS c FROM events GROUP BY kafka_partition)"
            )
        )
        if checkpoints != expected:
            raise SystemExit(f"wrong answer: {checkpoints} checkpoints, {expected} expected")
        print(
            f"bytes: {args.rows:,} events, {args.subjects:,} subjects, {args.months} months; migrations up to "
            f"{applied[-1]}; {checkpoints} checkpoints, {prefix_bytes}-byte leaf prefixes; "
            f"filled and signed in {time.perf_counter() - t0:.0f}s",
            flush=True,
        )
        totals = {}
        for table in ("events", "checkpoints"):
            on_disk, _ = table_bytes(client, table)
            columns = column_bytes(client, table)
            totals[table] = on_disk
            print(f"\n{table}: {on_disk / stored:.2f} B/event on disk (columns' compressed data below, B/event)")
            for column, size in columns.items():
                if size / stored >= 0.005:
                    print(f"    {column:<22} {size / stored:6.2f}")
        print(
            f"\ntotal: {sum(totals.values()) / stored:.2f} B/event "
            f"(events {totals['events'] / stored:.2f} + checkpoints {totals['checkpoints'] / stored:.2f})",
            flush=True,
        )
        if args.no_candidates:
            return 0
        print("\ncandidates (one column, in the table's order; B/event):")
        candidates = CANDIDATES[:4] if args.quick else CANDIDATES
        for i, (name, ddl_type, expression) in enumerate(candidates):
            size = candidate_bytes(client, i, "events", ORDER, ddl_type, expression)
            print(f"    events.{name:<34} {ddl_type:<52} {size / stored:6.2f}", flush=True)
        for i, (name, ddl_type, expression) in enumerate(CHECKPOINT_CANDIDATES):
            size = candidate_bytes(client, 100 + i, "checkpoints", "topic, partition, seq", ddl_type, expression)
            print(f"    checkpoints.{name:<29} {ddl_type:<52} {size / stored:6.2f}", flush=True)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
