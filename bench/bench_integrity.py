#!/usr/bin/env python
"""Integrity benchmark: the cost of the tamper-evident log, and how fast `verify` runs.

Fills an embedded store with synthetic events (bench.py's SQL fill, 10 events per subject, 6 Kafka
partitions), then measures, in one run:

1. checkpointing: leaves for every row, a signed checkpoint every 1000 rows, written to ClickHouse and
   to the checkpoint topic of a local broker (what the consumer adds per event), events/s;
2. `verify` over everything (rows re-read, leaves and Merkle roots recomputed, signatures checked,
   both checkpoint copies compared), events/s;
3. bytes per event on disk, without and with the checkpoints.

    python bench/bench_integrity.py              # 1,000,000 events (~3 min on 2 cores)
    python bench/bench_integrity.py --events 100000
It prints figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fill import fill

from bench import free_port


def bytes_on_disk(client: object, table: str) -> int:
    query = (
        "SELECT sum(bytes_on_disk) FROM system.parts "
        "WHERE database = currentDatabase() AND table = {t:String} AND active"
    )
    return int(client.command(query, parameters={"t": table}) or 0)  # type: ignore[attr-defined]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="synthetic events to store (default 1M)")
    parser.add_argument("--every", type=int, default=1000, help="rows per checkpoint (default 1000)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 20k events")
    parser.add_argument("--json", type=Path, help="write the figures here (default: bench/results/integrity.json)")
    args = parser.parse_args()
    if args.quick:
        args.events = 20_000

    from pdtrail.config import load_settings
    from pdtrail.infra import LocalBroker, apply_migrations, ensure_topics
    from pdtrail.integrity import (
        IntegrityRecorder,
        public_keys_from_settings,
        read_external,
        signer_from_settings,
        verify,
    )
    from pdtrail.producers import producer_config
    from pdtrail.store import connect

    home = Path(tempfile.mkdtemp(prefix="pdtrail-bench-integrity-"))
    taken: set[int] = set()
    broker = LocalBroker(home / "kafka", port=free_port(taken), controller_port=free_port(taken))
    results: dict[str, object] = {"events": args.events, "rows_per_checkpoint": args.every}
    try:
        broker.start()
        settings = load_settings(
            home=home,
            kafka={"bootstrap_servers": broker.bootstrap_servers, "topic": "pdtrail.events"},
            pseudonym={"secret": "bench-secret-" + "x" * 32},
            integrity={"signing_key": base64.b64encode(os.urandom(32)).decode(), "checkpoint_every_events": args.every},
        )
        ensure_topics(settings)
        client = connect(settings)
        apply_migrations(client)
        started = time.perf_counter()
        from pdtrail.consumers import COLUMNS

        fill(client, "events", COLUMNS, args.events, max(1, args.events // 10), 6, unique_offsets=True)
        client.command("OPTIMIZE TABLE events FINAL")
        print(f"filled {args.events:,} events in {time.perf_counter() - started:.1f}s")
        events_bytes = bytes_on_disk(client, "events")

        recorder = IntegrityRecorder(settings, client, signer_from_settings(settings), producer_config(settings))
        started = time.perf_counter()
        for partition in range(6):
            recorder.resume(partition)  # leaves for every stored row of the partition
            recorder.maybe_checkpoint(partition, force=True)  # signed, in ClickHouse and in the topic
        seconds = time.perf_counter() - started
        results["checkpointing"] = {
            "seconds": seconds,
            "events_per_s": args.events / seconds,
            "checkpoints": recorder.checkpoints_written,
        }
        print(
            f"checkpointing: {args.events / seconds:,.0f} events/s ({seconds:.1f}s, "
            f"{recorder.checkpoints_written} checkpoints)"
        )

        client.command("OPTIMIZE TABLE checkpoints FINAL")
        checkpoint_bytes = bytes_on_disk(client, "checkpoints")
        results["bytes_per_event"] = {
            "events_table": events_bytes / args.events,
            "checkpoints_table": checkpoint_bytes / args.events,
            "overhead_percent": 100 * checkpoint_bytes / events_bytes,
        }
        overhead = results["bytes_per_event"]
        without, added, share = (overhead[k] for k in ("events_table", "checkpoints_table", "overhead_percent"))
        print(f"bytes/event: {without:.1f} without integrity, +{added:.1f} for checkpoints ({share:.0f} %)")

        keys = public_keys_from_settings(settings)
        started = time.perf_counter()
        external = read_external(settings)
        read_seconds = time.perf_counter() - started
        started = time.perf_counter()
        report = verify(client, keys, external)
        seconds = time.perf_counter() - started
        print(
            f"reading the external copy ({len(external)} checkpoints, read by assignment from the beginning): "
            f"{read_seconds:.1f}s"
        )
        results["verify"] = {
            "external_read_seconds": read_seconds,
            "seconds": seconds,
            "events_per_s": report.rows / seconds,
            "ok": report.ok,
            "rows": report.rows,
            "checkpoints": report.checkpoints,
        }
        print(
            f"verify: {report.rows / seconds:,.0f} events/s ({report.rows:,} rows, {report.checkpoints} checkpoints, "
            f"{seconds:.1f}s, {'OK' if report.ok else 'FAILED'})"
        )
        if not (report.ok and report.rows == args.events):
            print(f"verify did not cover every stored event ({report.rows:,} of {args.events:,}): a wrong answer")
            return 1
    finally:
        broker.stop()
    out = args.json or Path(__file__).resolve().parent / "results" / "integrity.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
