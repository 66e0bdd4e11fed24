#!/usr/bin/env python
"""pdtrail benchmark: SDK emit rate, ingest rate and bytes on disk, with baselines.

One run starts its own Kafka broker (pdtrail.infra.LocalBroker on free ports) and its own embedded
chDB store in a temporary home directory, measures, prints a summary and writes it as JSON to
bench/results/latest.json. It prints figures only; it never asserts timings. The lookups over a
large log are bench/bench_lookup.py's.

    python bench/bench.py            # defaults: 200k events (~5 min, 2 cores)
    python bench/bench.py --quick    # smoke run: 20k events (~1 min)
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import gc
import itertools
import json
import logging
import os
import platform
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_JSON = BENCH_DIR / "results" / "latest.json"
SECRET = "bench-secret-" + "x" * 32
RESERVED_PORTS = {9092, 9093, 19092, 19093}  # the defaults, and a broker that may belong to someone else

log = logging.getLogger("bench")
# librdkafka chatter (connection closed, broker down at shutdown) goes here and stays quiet.
QUIET = logging.getLogger("bench.rdkafka")


# -- small helpers ------------------------------------------------------------------------------


def free_port(taken: set[int]) -> int:
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in taken and port not in RESERVED_PORTS:
            taken.add(port)
            return port


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return float(sorted_values[rank - 1])


def latency_summary(ns: list[int], unit: float) -> dict[str, float]:
    values = sorted(ns)
    return {
        "p50": percentile(values, 50) / unit,
        "p99": percentile(values, 99) / unit,
        "p99.9": percentile(values, 99.9) / unit,
        "max": values[-1] / unit if values else float("nan"),
        "mean": sum(values) / len(values) / unit if values else float("nan"),
        "n": len(values),
    }


def fmt_int(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def fmt_ratio(a: float | None, b: float | None) -> str:
    return "n/a" if not a or not b else f"{a / b:.2f}"


def step(title: str) -> Callable[[], float]:
    """Print a phase header; returns a function giving seconds since."""
    print(f"\n== {title}", flush=True)
    started = time.perf_counter()
    return lambda: time.perf_counter() - started


def kafka_version() -> str:
    from pdtrail.infra._broker import LIB_DIR

    jars = sorted(LIB_DIR.glob("kafka_2.13-*.jar"))
    return jars[0].name.removeprefix("kafka_2.13-").removesuffix(".jar") if jars else "unknown"


def machine_info() -> dict[str, Any]:
    import chdb
    import clickhouse_connect
    import confluent_kafka

    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 0
    return {
        "nproc": cpus,
        "cpu_model": _cpu_model(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "chdb": getattr(chdb, "__version__", "unknown"),
        "clickhouse_connect": getattr(clickhouse_connect, "__version__", "unknown"),
        "confluent_kafka": confluent_kafka.version()
        if isinstance(confluent_kafka.version(), str)
        else confluent_kafka.version()[0],
        "librdkafka": confluent_kafka.libversion()[0],
        "kafka": kafka_version(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence fd 2 for a moment: librdkafka clients made inside pdtrail (ensure_topics) log there directly."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def isolate_environment(home: Path) -> list[str]:
    """Drop PDTRAIL_* variables and point PDTRAIL_CONFIG at an empty file: the run uses only its own settings."""
    dropped = sorted(k for k in os.environ if k.startswith("PDTRAIL_"))
    for key in dropped:
        del os.environ[key]
    empty = home / "bench.toml"
    empty.write_text("")
    os.environ["PDTRAIL_CONFIG"] = str(empty)
    return dropped


# -- the phases ---------------------------------------------------------------------------------


def generate_events(count: int, seed: int) -> tuple[list[Any], list[Any]]:
    """The first ``count`` events of simulate_company, and the simulated subject of each."""
    from pdtrail.simulate import simulate_company

    pairs = list(itertools.islice(simulate_company(count, seed=seed), count))
    return [s for s, _ in pairs], [e for _, e in pairs]


def bench_sdk_emit(settings: Any, events: list[Any]) -> dict[str, Any]:
    from pdtrail.producers import AuditEmitter, EmitQueueFullError

    emitter = AuditEmitter(settings)
    latencies: list[int] = []
    append = latencies.append
    clock = time.perf_counter_ns
    queue_full = 0
    try:
        gc.collect()
        started = time.perf_counter()
        for event in events:
            while True:
                t0 = clock()
                try:
                    emitter.emit(event)
                except EmitQueueFullError:
                    # Not expected at these rates; counted and reported, the event is retried.
                    append(clock() - t0)
                    queue_full += 1
                    emitter.flush(1.0)
                    continue
                append(clock() - t0)
                break
        loop_s = time.perf_counter() - started
        left = emitter.flush(60.0)
        while left:
            left = emitter.flush(60.0)
            if time.perf_counter() - started > 600:
                break
        total_s = time.perf_counter() - started
        stats = emitter.stats
    finally:
        emitter.close(30.0)
    result = {
        "events": len(events),
        "seconds": total_s,
        "emit_loop_seconds": loop_s,
        "events_per_s": len(events) / total_s,
        "unconfirmed_after_flush": left,
        "delivered": stats.delivered,
        "failed": stats.failed,
        "queue_full_retries": queue_full,
        "emit_latency_us": latency_summary(latencies, 1000.0),
    }
    if stats.delivered != len(events) or stats.failed:
        print(f"   WARNING: delivered {stats.delivered} of {len(events)}, failed {stats.failed}")
    return result


def encode_like_the_sdk(settings: Any, events: list[Any]) -> tuple[list[bytes], list[bytes], list[str]]:
    """(value, key, event_type) of each event exactly as AuditEmitter puts them on the wire."""
    from pdtrail.producers import Pseudonymiser
    from pdtrail.schemas import EventCodec

    pseudonymiser = Pseudonymiser.from_settings(settings)
    codec = EventCodec()
    values, keys, types = [], [], []
    for event in events:
        stored = pseudonymiser.pseudonymise_event(event)  # a link event's other identifier too
        values.append(codec.encode(stored))
        keys.append(stored.subject.key.encode())
        types.append(event.event_type)
    return values, keys, types


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap}, logger=QUIET)
    for future in admin.create_topics([NewTopic(topic, partitions, 1, config={"min.insync.replicas": "1"})]).values():
        future.result()


def bench_raw_produce(settings: Any, topic: str, values: list[bytes], keys: list[bytes], types: list[str]) -> dict:
    from confluent_kafka import Producer

    from pdtrail.producers import producer_config
    from pdtrail.producers._producer import EVENT_TYPE_HEADER

    failures = [0]

    def delivered(err: Any, _msg: Any) -> None:
        if err is not None:
            failures[0] += 1

    config = producer_config(settings, **{"client.id": "bench-raw", "on_delivery": delivered})
    producer = Producer(config, logger=QUIET)
    header_values = {t: t.encode() for t in set(types)}
    gc.collect()
    started = time.perf_counter()
    for i, (value, key, kind) in enumerate(zip(values, keys, types, strict=True)):
        headers = [(EVENT_TYPE_HEADER, header_values[kind])]
        while True:
            try:
                producer.produce(topic, value=value, key=key, headers=headers)
                break
            except BufferError:
                producer.poll(0.05)
        if i % 1000 == 0:
            producer.poll(0)
    left = producer.flush(60.0)
    while left and time.perf_counter() - started < 600:
        left = producer.flush(60.0)
    total_s = time.perf_counter() - started
    del producer
    if failures[0] or left:
        print(f"   WARNING: raw producer: {failures[0]} failed, {left} unconfirmed")
    return {
        "events": len(values),
        "seconds": total_s,
        "events_per_s": len(values) / total_s,
        "failed": failures[0],
        "unconfirmed_after_flush": left,
    }


def bench_consume(settings: Any, client: Any, expected: int) -> dict[str, Any]:
    from pdtrail.consumers import AuditConsumer

    first_stored: list[float] = []

    def progress(stats: Any) -> None:
        if stats.stored and not first_stored:
            first_stored.append(time.perf_counter())
            first_stored.append(stats.stored)

    gc.collect()
    started = time.perf_counter()
    consumer = AuditConsumer(settings, client, on_progress=progress)
    stats = consumer.run(drain=True)
    total_s = time.perf_counter() - started
    del consumer
    stored_rows = int(client.command("SELECT count() FROM events"))
    result: dict[str, Any] = {
        "events": expected,
        "seconds": total_s,
        "events_per_s": stats.stored / total_s if total_s else None,
        "consumed": stats.consumed,
        "stored": stats.stored,
        "dead_lettered": stats.dead_lettered,
        "batches": stats.batches,
        "insert_retries": stats.insert_retries,
        "rows_in_table": stored_rows,
    }
    if first_stored:
        t_first, n_first = first_stored
        result["seconds_to_first_batch"] = t_first - started
        rest_s = started + total_s - t_first
        if rest_s > 0 and stats.stored > n_first:
            result["events_per_s_after_first_batch"] = (stats.stored - n_first) / rest_s
    if stats.stored != expected or stored_rows != expected:
        print(f"   WARNING: stored {stats.stored}, table has {stored_rows}, expected {expected}")
    return result


def disk_usage(client: Any, database: str, table: str = "events") -> dict[str, Any]:
    client.command(f"OPTIMIZE TABLE `{database}`.`{table}` FINAL")
    row = client.query(
        "SELECT sum(rows), sum(bytes_on_disk), sum(data_compressed_bytes), sum(data_uncompressed_bytes), count() "
        "FROM system.parts WHERE database = {db:String} AND table = {t:String} AND active",
        parameters={"db": database, "t": table},
    ).result_rows[0]
    rows, on_disk, compressed, uncompressed, parts = (int(v) for v in row)
    return {
        "rows": rows,
        "active_parts": parts,
        "bytes_on_disk": on_disk,
        "bytes_on_disk_per_row": on_disk / rows if rows else None,
        "compressed_bytes_per_row": compressed / rows if rows else None,
        "uncompressed_bytes_per_row": uncompressed / rows if rows else None,
    }


def _sql_str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def bench_kafka_engine(client: Any, bootstrap: str, topic: str, expected: int, timeout_s: float) -> dict[str, Any]:
    """ClickHouse's own Kafka table engine, raw bytes into a MergeTree table through a materialized view."""
    db = "bench_kafka_engine"
    result: dict[str, Any] = {"available": False}
    client.command(f"DROP DATABASE IF EXISTS {db} SYNC")
    client.command(f"CREATE DATABASE {db}")
    client.command(f"CREATE TABLE {db}.sink (raw String) ENGINE = MergeTree ORDER BY tuple()")
    # Batching like pdtrail's consumer (batch_size 10,000, linger 1 s); one consumer, as pdtrail runs one. A
    # group of its own per call: a second run in one bench would otherwise resume at the first one's end.
    queue_ddl = (
        f"CREATE TABLE {db}.queue (raw String) ENGINE = Kafka SETTINGS "
        f"kafka_broker_list = {_sql_str(bootstrap)}, kafka_topic_list = {_sql_str(topic)}, "
        f"kafka_group_name = 'bench-clickhouse-kafka-engine-{os.urandom(4).hex()}', kafka_format = 'RawBLOB', "
        f"kafka_num_consumers = 1, kafka_max_block_size = 10000, kafka_flush_interval_ms = 1000"
    )
    started = time.perf_counter()
    try:
        try:
            client.command(queue_ddl)
        except Exception as exc:
            # chDB 4.x creates the table and then reports "Shutdown was called"; carry on if the table is there.
            exists = int(client.command(f"EXISTS TABLE {db}.queue"))
            if not exists:
                result["error"] = _short(exc)
                return result
            result["create_warning"] = _short(exc)
        try:
            client.command(f"CREATE MATERIALIZED VIEW {db}.mv TO {db}.sink AS SELECT raw FROM {db}.queue")
        except Exception as exc:
            result["error"] = _short(exc)
            return result
        count = 0
        while time.perf_counter() - started < timeout_s:
            count = int(client.command(f"SELECT count() FROM {db}.sink"))
            if count >= expected:
                break
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        result.update({"rows": count, "seconds": seconds})
        if count >= expected:
            result.update({"available": True, "events_per_s": count / seconds})
        else:
            result["error"] = f"only {count:,} of {expected:,} rows after {timeout_s:.0f}s"
        return result
    finally:
        for ddl in (f"DROP TABLE IF EXISTS {db}.mv SYNC", f"DROP TABLE IF EXISTS {db}.queue SYNC"):
            try:
                client.command(ddl)
            except Exception as exc:
                result.setdefault("cleanup_errors", []).append(_short(exc))
        try:
            client.command(f"DROP DATABASE IF EXISTS {db} SYNC")
        except Exception as exc:
            result.setdefault("cleanup_errors", []).append(_short(exc))


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "DB::Exception:" in text:
        text = text.split("DB::Exception:", 1)[1].strip()
    return text[:160]


# -- the run ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Benchmark pdtrail end to end on a private local Kafka broker and a temporary embedded chDB store: "
            "SDK emit rate and emit() latency (vs raw confluent-kafka), consumer ingest rate (vs ClickHouse's "
            "Kafka engine), bytes per event on disk (lookups: bench/bench_lookup.py). "
            "Prints figures and writes them as JSON; never asserts timings."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 20k events (~1 min)")
    parser.add_argument("--events", type=int, default=None, help="events emitted and ingested [200000; quick 20000]")
    parser.add_argument("--partitions", type=int, default=6, help="partitions of the event topic and the raw topic")
    parser.add_argument("--seed", type=int, default=7, help="seed for simulate_company and the subject samples")
    parser.add_argument("--skip-kafka-engine", action="store_true", help="skip the ClickHouse Kafka engine baseline")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write the results")
    parser.add_argument("--keep-home", action="store_true", help="keep the temporary home (broker log, store)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show pdtrail's and librdkafka's warnings")
    args = parser.parse_args(argv)
    if args.events is None:
        args.events = 20_000 if args.quick else 200_000
    if args.events < 1 or args.partitions < 1:
        parser.error("--events and --partitions must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="   %(levelname)s %(name)s: %(message)s")
    QUIET.setLevel(logging.CRITICAL)
    if not args.verbose:
        # librdkafka logs through these; at shutdown of the private broker they only say "disconnected".
        for name in ("pdtrail.producers", "pdtrail.consumers"):
            logging.getLogger(name).setLevel(logging.ERROR)

    from pdtrail.config import load_settings
    from pdtrail.infra import LocalBroker, apply_migrations, ensure_jars, ensure_topics
    from pdtrail.store import connect

    # Ctrl-C and SIGTERM end the run through the finally below, which stops the broker. (A shell that
    # starts a job in the background hands it SIGINT ignored; take it back.)
    signal.signal(signal.SIGINT, _interrupted)
    signal.signal(signal.SIGTERM, _interrupted)
    wall = time.perf_counter()
    home = Path(tempfile.mkdtemp(prefix="pdtrail-bench-")).resolve()
    dropped = isolate_environment(home)
    info = machine_info()
    print(
        f"pdtrail bench: {args.events:,} events; home {home}\n"
        f"machine: {info['nproc']} cpu ({info['cpu_model']}), {info['memory_gb']} GB, Python {info['python']}, "
        f"chDB {info['chdb']}, Kafka {info['kafka']}, librdkafka {info['librdkafka']}; "
        f"load average {info['loadavg_start'][0]:.2f}"
    )
    if dropped:
        print(f"ignoring environment: {', '.join(dropped)}")
    report: dict[str, Any] = {
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": info,
        "parameters": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "results": {},
    }
    results = report["results"]
    ensure_jars()
    taken: set[int] = set()
    broker = LocalBroker(home / "kafka", port=free_port(taken), controller_port=free_port(taken))
    client = None
    exit_code = 0
    try:
        elapsed = step(f"starting Kafka broker on 127.0.0.1:{broker.port} (controller {broker.controller_port})")
        broker.start()
        print(f"   up in {elapsed():.1f}s (pid {broker.pid()})")
        settings = load_settings(
            home=home,
            kafka={"bootstrap_servers": broker.bootstrap_servers, "partitions": args.partitions},
            pseudonym={"secret": SECRET},
            # The consumer signs checkpoints as it ingests: the ingest figure includes that cost.
            integrity={"signing_key": base64.b64encode(os.urandom(32)).decode()},
        )
        with quiet_stderr():
            ensure_topics(settings)
            gc.collect()  # its AdminClient says "Purging 1 unserved events" when it goes
        raw_topic = "bench.raw"
        create_topic(broker.bootstrap_servers, raw_topic, args.partitions)

        elapsed = step(f"generating {args.events:,} events with simulate_company (not timed)")
        subjects, events = generate_events(args.events, args.seed)
        gc.collect()
        gc.freeze()  # the pre-generated events are a benchmark artefact; keep them out of GC passes
        print(f"   {len(events):,} events of {len({s.personnummer for s in subjects}):,} subjects in {elapsed():.1f}s")

        elapsed = step("1. SDK: AuditEmitter.emit() for every event, then flush() until 0 left")
        sdk = bench_sdk_emit(settings, events)
        results["sdk_emit"] = sdk
        lat = sdk["emit_latency_us"]
        print(
            f"   {fmt_int(sdk['events_per_s'])} events/s ({sdk['seconds']:.2f}s; "
            f"emit loop {sdk['emit_loop_seconds']:.2f}s); "
            f"emit() p50 {lat['p50']:.0f} µs, p99 {lat['p99']:.0f} µs, max {lat['max']:,.0f} µs"
        )

        elapsed = step("2. baseline: raw confluent_kafka.Producer, same bytes, same config, own topic")
        values, keys, types = encode_like_the_sdk(settings, events)
        print(f"   pre-encoded in {elapsed():.1f}s (not timed)")
        raw = bench_raw_produce(settings, raw_topic, values, keys, types)
        results["raw_produce"] = raw
        results["sdk_vs_raw_ratio"] = sdk["events_per_s"] / raw["events_per_s"]
        results["message_size"] = {
            "value_bytes_mean": sum(map(len, values)) / len(values),
            "value_bytes_min": min(map(len, values)),
            "value_bytes_max": max(map(len, values)),
            "key_bytes": len(keys[0]),
        }
        print(
            f"   {fmt_int(raw['events_per_s'])} events/s ({raw['seconds']:.2f}s); "
            f"SDK/raw {results['sdk_vs_raw_ratio']:.3f}"
        )
        del values, keys, types

        elapsed = step("3. consumer: AuditConsumer(settings, client).run(drain=True) into chDB")
        client = connect(settings)
        apply_migrations(client)
        info["clickhouse_in_chdb"] = str(getattr(client, "server_version", "unknown"))
        ingest = bench_consume(settings, client, len(events))
        results["consumer_ingest"] = ingest
        print(
            f"   {fmt_int(ingest['events_per_s'])} events/s ({ingest['seconds']:.2f}s incl. group join; "
            f"first batch stored after {ingest.get('seconds_to_first_batch', float('nan')):.2f}s); "
            f"{ingest['stored']:,} stored, {ingest['dead_lettered']} dead-lettered"
        )
        if "events_per_s_after_first_batch" in ingest:
            print(f"   after the first batch: {fmt_int(ingest['events_per_s_after_first_batch'])} events/s")

        elapsed = step("6a. bytes per event on disk: the ingested events (OPTIMIZE TABLE events FINAL)")
        results["disk_ingested"] = disk_usage(client, settings.store.database)
        d = results["disk_ingested"]
        print(
            f"   {d['rows']:,} rows: {d['bytes_on_disk_per_row']:.1f} B/row on disk, "
            f"{d['uncompressed_bytes_per_row']:.1f} B/row uncompressed ({elapsed():.1f}s)"
        )

        write_json(report, args.json)  # before the one phase that runs ClickHouse's own Kafka client

        if args.skip_kafka_engine:
            results["kafka_engine"] = {"available": False, "error": "skipped (--skip-kafka-engine)"}
        else:
            elapsed = step("4. baseline: ClickHouse Kafka table engine in chDB, raw topic -> MV -> MergeTree")
            timeout = 120.0 + len(events) / 1000
            try:
                engine = bench_kafka_engine(client, broker.bootstrap_servers, raw_topic, len(events), timeout)
            except Exception as exc:
                engine = {"available": False, "error": _short(exc)}
            results["kafka_engine"] = engine
            if engine.get("create_warning"):
                print(f"   note: CREATE TABLE ... ENGINE = Kafka said: {engine['create_warning']} (table exists; used)")
            if engine["available"]:
                results["consumer_vs_kafka_engine_ratio"] = ingest["events_per_s"] / engine["events_per_s"]
                print(f"   {fmt_int(engine['events_per_s'])} events/s ({engine['seconds']:.2f}s incl. CREATE)")
            else:
                print(f"   ClickHouse Kafka engine baseline: not available in chDB ({engine.get('error')})")
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        results["error"] = "interrupted"
        exit_code = 130
    except Exception:
        traceback.print_exc()
        results["error"] = traceback.format_exc(limit=3)
        exit_code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the clean-up finish
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
        gc.collect()  # drop librdkafka clients before their broker goes away
        stopped = broker.stop()
        print(f"\nbroker stopped: {stopped}")
        if args.keep_home:
            print(f"kept {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)
    report["wall_seconds"] = time.perf_counter() - wall
    report["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    lines = summary_lines(report)
    report["summary"] = lines
    print("\n" + "\n".join(lines))
    write_json(report, args.json)
    print(f"\nwritten {args.json}")
    return exit_code


def _interrupted(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def summary_lines(report: dict[str, Any]) -> list[str]:
    r, m = report["results"], report["machine"]
    lines = [
        "== summary",
        f"machine:         {m['nproc']} cpu, {m['memory_gb']} GB, Python {m['python']}, chDB {m['chdb']}"
        + (f" (ClickHouse {m['clickhouse_in_chdb']})" if m.get("clickhouse_in_chdb") else "")
        + f", Kafka {m['kafka']}, confluent-kafka {m['confluent_kafka']} (librdkafka {m['librdkafka']})",
    ]
    sdk, raw = r.get("sdk_emit"), r.get("raw_produce")
    if sdk:
        raw_text = (
            f"raw confluent-kafka: {fmt_int(raw['events_per_s'])} events/s, "
            f"ratio {fmt_ratio(sdk['events_per_s'], raw['events_per_s'])}"
            if raw
            else "raw confluent-kafka: n/a"
        )
        lines.append(f"sdk emit:        {fmt_int(sdk['events_per_s'])} events/s ({raw_text}; {sdk['events']:,} events)")
        lat = sdk["emit_latency_us"]
        lines.append(f"emit() latency:  p50 {lat['p50']:.0f} µs, p99 {lat['p99']:.0f} µs, max {lat['max']:,.0f} µs")
    ingest, engine = r.get("consumer_ingest"), r.get("kafka_engine")
    if ingest:
        if engine and engine.get("available"):
            base = (
                f"ClickHouse Kafka engine (raw bytes): {fmt_int(engine['events_per_s'])} events/s, "
                f"ratio {fmt_ratio(ingest['events_per_s'], engine['events_per_s'])}"
            )
        elif engine:
            base = f"ClickHouse Kafka engine baseline: not available in chDB ({engine.get('error')})"
        else:
            base = "ClickHouse Kafka engine baseline: not run"
        lines.append(f"consumer ingest: {fmt_int(ingest['events_per_s'])} events/s ({base})")
        if "events_per_s_after_first_batch" in ingest:
            lines.append(
                f"                 ({fmt_int(ingest['events_per_s_after_first_batch'])} events/s after the first "
                f"batch; group join + first batch took {ingest['seconds_to_first_batch']:.1f}s)"
            )
    for key, label in (("disk_ingested", "ingested events"),):
        d = r.get(key)
        if d and d.get("rows"):
            lines.append(
                f"bytes/event:     {d['bytes_on_disk_per_row']:.1f} on disk, {d['uncompressed_bytes_per_row']:.1f} "
                f"uncompressed ({label}, {d['rows']:,} rows, after OPTIMIZE FINAL)"
            )
    size = r.get("message_size")
    if size:
        lines.append(
            f"kafka message:   {size['value_bytes_mean']:.1f} B value on average "
            f"({size['value_bytes_min']}-{size['value_bytes_max']}), key {size['key_bytes']} B"
        )
    if r.get("error"):
        lines.append("run FAILED: " + r["error"].strip().splitlines()[-1])
    load = f"load average {m['loadavg_start'][0]:.2f} at start, {m.get('loadavg_end', ['?'])[0]} at end"
    lines.append(f"wall time:       {report.get('wall_seconds', 0):.0f}s ({load})")
    return lines


def write_json(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=2, default=str) + "\n")
    tmp.replace(path)


if __name__ == "__main__":
    sys.exit(main())
