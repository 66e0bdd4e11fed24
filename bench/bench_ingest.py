#!/usr/bin/env python
"""pdtrail ingest benchmark: the consumer against ClickHouse's own Kafka engine, in the same run.

One run starts its own Kafka broker and an embedded chDB store in a temporary home, puts N events on
the event topic (the SDK's wire format; a pool of simulated events, each copy with a fresh event id),
then, per run: ``AuditConsumer.run(drain=True)`` into a fresh database (checkpoints signed as it
goes), ``pdtrail verify`` over what it stored, and ClickHouse's ``ENGINE = Kafka`` reading the same
topic (RawBLOB into MergeTree, bench.py's baseline). It prints events/s, the ratio, the verify rate and
the consumer's peak RSS; ``--sustained`` emits 10,000 events/s for 60 s under a running consumer and
prints emit -> queryable p50/p99. It never asserts a timing.

    python bench/bench_ingest.py                     # 1,000,000 events, one run
    python bench/bench_ingest.py --runs 3            # three runs over the same topic
    python bench/bench_ingest.py --sustained         # 10k events/s for 60 s, latency percentiles
    python bench/bench_ingest.py --quick             # smoke run: 20,000 events, a 5 s sustained phase
"""

from __future__ import annotations

import argparse
import base64
import bisect
import gc
import json
import logging
import os
import resource
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench

DEFAULT_JSON = bench.BENCH_DIR / "results" / "ingest.json"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_s() -> float:
    """CPU seconds of this process, every thread (the engine runs in it): on a shared machine the cost per
    event reads steadier than the wall time, which other work on the same cores stretches."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def event_pool(settings: Any, count: int, seed: int) -> tuple[list[bytes], list[bytes]]:
    """``count`` distinct simulated events as the SDK puts them on the wire (value, key)."""
    _, events = bench.generate_events(count, seed)
    values, keys, _ = bench.encode_like_the_sdk(settings, events)
    return values, keys


def with_fresh_id(value: bytes) -> bytes:
    """The same event under a new event id: the id is the body's first field, a 36-character string."""
    from pdtrail.schemas._wire import HEADER_SIZE

    assert value[HEADER_SIZE] == 72, "event_id is not the first field of the body"  # zig-zag of 36
    return value[: HEADER_SIZE + 1] + str(uuid.uuid4()).encode() + value[HEADER_SIZE + 37 :]


def with_time(value: bytes, micros: int) -> bytes:
    """The event with a fresh id and occurred_at = ``micros`` (the envelope's second field)."""
    from pdtrail.schemas._wire import HEADER_SIZE

    start = HEADER_SIZE + 37
    end = start
    while value[end] & 0x80:
        end += 1
    zz = (micros << 1) ^ (micros >> 63)
    out = bytearray()
    while zz & ~0x7F:
        out.append((zz & 0x7F) | 0x80)
        zz >>= 7
    out.append(zz)
    return with_fresh_id(value[:start] + bytes(out) + value[end + 1 :])


def produce(settings: Any, topic: str, pool: tuple[list[bytes], list[bytes]], count: int) -> float:
    from confluent_kafka import Producer

    from pdtrail.producers import producer_config

    values, keys = pool
    producer = Producer(producer_config(settings, **{"client.id": "bench-ingest"}), logger=bench.QUIET)
    started = time.perf_counter()
    for i in range(count):
        value = values[i % len(values)]
        while True:
            try:
                producer.produce(topic, value=with_fresh_id(value), key=keys[i % len(keys)])
                break
            except BufferError:
                producer.poll(0.05)
        if i % 5000 == 0:
            producer.poll(0)
    assert producer.flush(300) == 0, "events left unconfirmed"
    return time.perf_counter() - started


def consume(settings: Any, client: Any, expected: int) -> dict[str, Any]:
    from pdtrail.consumers import AuditConsumer

    gc.collect()
    before = current_rss_mb()
    started, cpu = time.perf_counter(), cpu_s()
    consumer = AuditConsumer(settings, client)
    stats = consumer.run(drain=True)
    seconds, cpu = time.perf_counter() - started, cpu_s() - cpu
    stored = int(client.command("SELECT count() FROM events"))
    checkpoints = int(client.command("SELECT count() FROM checkpoints"))
    if stored != expected or stats.stored != expected:
        print(f"   WARNING: stored {stats.stored}, table holds {stored}, expected {expected}")
    return {
        "events": expected, "seconds": seconds, "events_per_s": stats.stored / seconds, "stored": stored,
        "cpu_s": cpu, "cpu_us_per_event": 1e6 * cpu / max(stats.stored, 1),
        "dead_lettered": stats.dead_lettered, "batches": stats.batches, "checkpoints": checkpoints,
        "rss_before_mb": before, "peak_rss_mb": rss_mb(),
    }  # fmt: skip


def verify_rate(settings: Any, client: Any) -> dict[str, Any]:
    from pdtrail.integrity import public_keys_from_settings, read_external, verify

    started = time.perf_counter()
    external = read_external(settings)
    report = verify(client, public_keys_from_settings(settings), external)
    seconds = time.perf_counter() - started
    return {
        "rows": report.rows, "checkpoints": report.checkpoints, "seconds": seconds, "ok": report.ok,
        "findings": len(report.findings), "events_per_s": report.rows / seconds if seconds else None,
    }  # fmt: skip


def run_settings(base: Any, run: str, topic: str | None = None, **consumer: Any) -> Any:
    from pdtrail.config import load_settings

    kafka = {"group_id": f"bench-ingest-{run}", "dead_letter_topic": f"bench.dlq.{run}"}
    return load_settings(
        home=base.home, kafka=base.kafka.model_dump() | kafka | ({"topic": topic} if topic else {}),
        store={"database": f"ingest_{run}"}, pseudonym={"secret": bench.SECRET},
        integrity={"signing_key": base.integrity.signing_key.get_secret_value(),
                   "checkpoint_topic": f"bench.checkpoints.{run}"},
        consumer=consumer,
    )  # fmt: skip


def sustained(base: Any, pool: tuple[list[bytes], list[bytes]], rate: int, seconds: float, linger: float) -> dict:
    """Emit ``rate`` events/s for ``seconds`` under a running consumer; per event, emit -> queryable."""
    from confluent_kafka import Producer

    from pdtrail.consumers import AuditConsumer
    from pdtrail.infra import apply_migrations, ensure_topics
    from pdtrail.producers import producer_config
    from pdtrail.store import connect

    run = f"sustained{int(time.time())}"
    topic = f"bench.{run}"
    settings = run_settings(base, run, topic=topic, linger_s=linger)
    with bench.quiet_stderr():
        ensure_topics(settings)
    client = connect(settings)
    apply_migrations(client)
    consumer = AuditConsumer(settings, client)
    runner = threading.Thread(target=consumer.run, daemon=True)
    runner.start()
    values, keys = pool
    producer = Producer(producer_config(settings, **{"client.id": "bench-sustained"}), logger=bench.QUIET)
    poller = connect(settings, create_database=False)
    # When each event was handed to the producer, by (partition, offset) once Kafka told where it went.
    emitted: list[tuple[int, int, float]] = []
    # What the store answered: per partition, (highest stored offset, when that was first seen), asked every
    # 0.1 s. Asking for every row after a low mark read three columns of the whole table every 20 ms, and
    # the watcher then took half of the process's time from the consumer it watched (the maximum still
    # reads a column of the table: 15 ms a query at 300,000 rows).
    seen: dict[int, list[tuple[int, float]]] = {}
    total = int(rate * seconds)
    done = threading.Event()

    def highest_stored() -> dict[int, int]:
        rows = poller.query("SELECT kafka_partition, max(kafka_offset) FROM events GROUP BY kafka_partition")
        return {int(partition): int(offset) for partition, offset in rows.result_rows}

    def watch() -> None:
        while not done.is_set():
            now = time.time()
            for partition, offset in highest_stored().items():
                marks = seen.setdefault(partition, [])
                if not marks or offset > marks[-1][0]:
                    marks.append((offset, now))
            time.sleep(0.1)

    def stored_count() -> int:
        return sum(marks[-1][0] + 1 for marks in seen.values())  # each run's topic starts at offset 0

    watcher = threading.Thread(target=watch, daemon=True)
    started = time.perf_counter()
    watcher.start()
    for i in range(total):
        due = started + i / rate
        while time.perf_counter() < due:
            time.sleep(max(0.0, min(0.005, due - time.perf_counter())))
        now = time.time()
        value = with_time(values[i % len(values)], int(now * 1e6))

        def report(err: Any, msg: Any, at: float = now) -> None:
            if err is None:
                emitted.append((msg.partition(), msg.offset(), at))

        producer.produce(topic, value=value, key=keys[i % len(keys)], on_delivery=report)
        if i % 200 == 0:
            producer.poll(0)
    producer.flush(60)
    emit_s = time.perf_counter() - started
    deadline = time.monotonic() + 60
    while stored_count() < total and time.monotonic() < deadline:
        time.sleep(0.1)
    done.set()
    watcher.join(10)
    consumer.stop()
    runner.join(60)
    latencies = []
    for partition, offset, at in emitted:
        marks = seen.get(partition, [])
        first = bisect.bisect_left(marks, (offset, -1.0))  # the first answer that held this offset
        if first < len(marks):
            latencies.append((marks[first][1] - at) * 1000)
    latencies.sort()
    return {
        "rate": rate, "seconds": seconds, "emitted": total, "emit_seconds": emit_s, "seen": len(latencies),
        "linger_s": linger, "p50_ms": bench.percentile(latencies, 50), "p99_ms": bench.percentile(latencies, 99),
        "max_ms": latencies[-1] if latencies else None,
    }  # fmt: skip


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 20,000 events, 5 s sustained")
    parser.add_argument("--events", type=int, default=None, help="events on the topic [1,000,000; quick 20,000]")
    parser.add_argument("--runs", type=int, default=1, help="consumer + verify + Kafka engine runs over the topic")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--pool", type=int, default=20_000, help="distinct simulated events copied onto the topic")
    parser.add_argument("--sustained", action="store_true", help="also the sustained phase (10k events/s, 60 s)")
    parser.add_argument("--rate", type=int, default=10_000, help="sustained: events/s emitted")
    parser.add_argument("--seconds", type=float, default=None, help="sustained: how long [60; quick 5]")
    parser.add_argument("--linger", type=float, default=0.2, help="sustained: the consumer's linger_s")
    parser.add_argument("--skip-kafka-engine", action="store_true")
    parser.add_argument("--batch-size", type=int, default=None, help="the consumer's batch_size [its default]")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = parser.parse_args(argv)
    args.events = args.events or (20_000 if args.quick else 1_000_000)
    args.seconds = args.seconds or (5.0 if args.quick else 60.0)
    if args.quick:
        args.sustained, args.pool = True, min(args.pool, 5_000)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="   %(levelname)s %(name)s: %(message)s")
    bench.QUIET.setLevel(logging.CRITICAL)
    for name in ("pdtrail.producers", "pdtrail.consumers", "pdtrail.integrity"):
        logging.getLogger(name).setLevel(logging.ERROR)
    from pdtrail.config import load_settings
    from pdtrail.consumers import AuditConsumer  # noqa: F401  (every module the runs use, loaded up front)
    from pdtrail.infra import LocalBroker, apply_migrations, ensure_jars, ensure_topics
    from pdtrail.integrity import verify  # noqa: F401
    from pdtrail.store import connect

    home = Path(tempfile.mkdtemp(prefix="pdtrail-bench-ingest-")).resolve()
    bench.isolate_environment(home)
    print(f"pdtrail ingest bench: {args.events:,} events, {args.runs} run(s); {load()}")
    ensure_jars()
    taken: set[int] = set()
    broker = LocalBroker(home / "kafka", port=bench.free_port(taken), controller_port=bench.free_port(taken))
    report: dict[str, Any] = {"events": args.events, "runs": [], "loadavg_start": os.getloadavg()}
    failed = False
    try:
        broker.start()
        base = load_settings(
            home=home, kafka={"bootstrap_servers": broker.bootstrap_servers, "partitions": args.partitions},
            pseudonym={"secret": bench.SECRET},
            integrity={"signing_key": base64.b64encode(os.urandom(32)).decode()},
        )  # fmt: skip
        with bench.quiet_stderr():
            ensure_topics(base)
        t = time.perf_counter()
        pool = event_pool(base, min(args.pool, args.events), seed=7)
        print(f"   event pool of {len(pool[0]):,} in {time.perf_counter() - t:.1f}s (not timed)")
        produced_s = produce(base, base.kafka.topic, pool, args.events)
        print(f"   {args.events:,} events on {base.kafka.topic} in {produced_s:.1f}s (not timed)")
        for run in range(1, args.runs + 1):
            settings = run_settings(base, f"r{run}", **({"batch_size": args.batch_size} if args.batch_size else {}))
            with bench.quiet_stderr():
                ensure_topics(settings)
            client = connect(settings)
            apply_migrations(client)
            result: dict[str, Any] = {"run": run, "loadavg": os.getloadavg()}
            result["consumer"] = c = consume(settings, client, args.events)
            print(
                f"run {run} ({load()}): consumer {c['events_per_s']:,.0f} events/s ({c['seconds']:.1f}s, "
                f"{c['batches']} batches, {c['checkpoints']} checkpoints), {c['cpu_us_per_event']:.0f} µs CPU/event, "
                f"peak RSS {c['peak_rss_mb']:.0f} MB "
                f"(before the run {c['rss_before_mb']:.0f} MB)"
            )
            result["verify"] = v = verify_rate(settings, client)
            print(
                f"   verify: {v['events_per_s']:,.0f} events/s ({v['rows']:,} rows, {v['seconds']:.1f}s, ok={v['ok']})"
            )
            failed |= not v["ok"] or c["stored"] != args.events
            if not args.skip_kafka_engine:
                timeout = 120.0 + args.events / 1000
                engine = bench.bench_kafka_engine(
                    client, broker.bootstrap_servers, base.kafka.topic, args.events, timeout
                )
                result["kafka_engine"] = engine
                if engine.get("available"):
                    ratio = c["events_per_s"] / engine["events_per_s"]
                    result["ratio"] = ratio
                    print(f"   Kafka engine: {engine['events_per_s']:,.0f} events/s; consumer/engine {ratio:.2f}")
                else:
                    print(f"   Kafka engine unavailable: {engine.get('error')}")
            report["runs"].append(result)
            client.close()
        if args.sustained:
            s = sustained(base, pool, args.rate, args.seconds, args.linger)
            report["sustained"] = s
            print(
                f"sustained {s['rate']:,}/s for {s['seconds']:.0f}s ({load()}): emit -> queryable p50 "
                f"{s['p50_ms']:.0f} ms, p99 {s['p99_ms']:.0f} ms, max {s['max_ms'] or 0:.0f} ms "
                f"({s['seen']:,} of {s['emitted']:,} seen; linger {s['linger_s']} s)"
            )
            # How many became queryable before the poll's deadline is a timing (a figure, printed above), not
            # an error: a consumer slower than the rate leaves a backlog, never a loss (the runs above check that).
    finally:
        broker.stop()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, default=str))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
