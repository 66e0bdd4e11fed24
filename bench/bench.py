#!/usr/bin/env python
"""pdtrail benchmark: SDK emit rate, ingest rate, lineage query latency and bytes on disk, with baselines.

One run starts its own Kafka broker (pdtrail.infra.LocalBroker on free ports) and its own embedded
chDB store in a temporary home directory, measures, prints a summary and writes it as JSON to
bench/results/latest.json. It prints figures only; it never asserts timings.

    python bench/bench.py            # defaults: 200k events, lookups at 1M stored rows (~5 min, 2 cores)
    python bench/bench.py --quick    # smoke run: 20k events, lookups at 100k rows (~1 min)
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import gc
import hashlib
import itertools
import json
import logging
import os
import platform
import random
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
EARLIEST, LATEST = "1970-01-01 00:00:00.000000", "2200-01-01 00:00:00.000000"  # SubjectLineage's defaults

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
        subject = pseudonymiser.pseudonymise(event.subject)
        values.append(codec.encode(event.model_copy(update={"subject": subject})))
        keys.append(subject.key.encode())
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
    from pdtrail.producers._emitter import EVENT_TYPE_HEADER

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


def _sql_array(values: Sequence[Any]) -> str:
    def item(v: Any) -> str:
        if isinstance(v, list | tuple):
            return _sql_array(v)
        return _sql_str(str(v))

    return "[" + ", ".join(item(v) for v in values) + "]"


def synthetic_key(n: int) -> str:
    """The subject key of synthetic subject ``n``, as the fill SQL computes it."""
    return hashlib.sha256(f"bench-subject-{n}".encode()).hexdigest()


def fill_sql(rows: int, subjects: int, partitions: int) -> str:
    """INSERT ... SELECT FROM numbers(): ten events per subject, shaped like simulate_company's journeys.

    Position j of a subject's events: 0-1 collected, 2 credit check, 3-4 shared, 5-8 accessed, 9 shared.
    """
    from pdtrail.consumers import COLUMNS
    from pdtrail.simulate import ADDRESS_REGISTER, BOOKKEEPING, CLEANING_OPERATOR, CREDIT_BUREAU, PAYMENT_PROVIDER

    acc = "personal_data.accessed"
    event_types = ["personal_data.collected"] * 2 + ["credit_check.performed"] + ["personal_data.shared"] * 2
    event_types += [acc] * 4 + ["personal_data.shared"]
    schema_of = {
        "personal_data.collected": "pdtrail.PersonalDataCollected",
        "credit_check.performed": "pdtrail.CreditCheckPerformed",
        "personal_data.shared": "pdtrail.PersonalDataShared",
        acc: "pdtrail.PersonalDataAccessed",
    }
    actors = ["booking-web", "address-check", "credit-gateway", "payments", "dispatch", "", "", "", "", "ledger"]
    roles = ["booking", "identity_check", "credit_check", "payment", "scheduling"] + ["customer_service"] * 4
    roles += ["bookkeeping"]
    purposes = ["booking.handling"] * 2 + ["credit_assessment", "payment", "service.performance"]
    purposes += ["customer_service"] * 4 + ["legal_obligation.bookkeeping"]
    bases = ["contract", "contract", "legitimate_interests", "contract", "contract"] + ["contract"] * 4
    bases += ["legal_obligation"]
    categories = [
        ["name", "personnummer", "contact_details", "housing_details"],
        ["name", "address"],
        ["personnummer", "credit_report"],
        ["name", "contact_details", "payment_information"],
        ["name", "address", "housing_details"],
        *[["name", "contact_details", "correspondence"]] * 4,
        ["name", "payment_information"],
    ]
    systems = ["booking-web", "booking-api", "booking-api", "booking-api", "dispatch"] + ["crm"] * 4 + ["ledger"]
    sources = ["data_subject", "public_register"] + [""] * 8
    parties = [None, ADDRESS_REGISTER, CREDIT_BUREAU, PAYMENT_PROVIDER, CLEANING_OPERATOR, None, None, None, None]
    parties.append(BOOKKEEPING)
    party_names = [p.name if p else "" for p in parties]
    party_orgs = [(p.organisation_number or "") if p else "" for p in parties]
    party_countries = [p.country if p else "" for p in parties]
    party_roles = ["", "", "", "processor", "processor", "", "", "", "", "processor"]
    is_access = "(j BETWEEN 5 AND 8)"
    begin_us = int(dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp()) * 1_000_000
    day_us = 86_400_000_000
    occurred = (
        f"fromUnixTimestamp64Micro(toInt64({begin_us} + (cityHash64(s, 11) % 15768000) * 1000000 "
        f"+ j * 2 * {day_us} + cityHash64(number, 12) % {day_us}), 'UTC')"
    )
    expressions = {
        "event_id": "generateUUIDv4(number)",
        "event_type": f"{_sql_array(event_types)}[j + 1]",
        "occurred_at": occurred,
        "subject_key": "lower(hex(SHA256(concat('bench-subject-', toString(s)))))",
        "subject_key_version": "1",
        "subject_kind": "'personnummer'",
        "actor_type": f"if({is_access}, 'employee', 'service')",
        "actor_id": f"if({is_access}, concat('emp-', toString(1001 + cityHash64(number, 13) % 40)), "
        f"{_sql_array(actors)}[j + 1])",
        "actor_role": f"{_sql_array(roles)}[j + 1]",
        "purpose": f"{_sql_array(purposes)}[j + 1]",
        "legal_basis": f"{_sql_array(bases)}[j + 1]",
        "data_categories": f"{_sql_array(categories)}[j + 1]",
        "source_system": f"{_sql_array(systems)}[j + 1]",
        "correlation_id": f"if({is_access}, '', concat('trace-', lower(hex(cityHash64(s, 14)))))",
        "collection_source": f"{_sql_array(sources)}[j + 1]",
        "access_kind": f"if({is_access}, "
        "['view', 'view', 'view', 'search', 'modify'][1 + cityHash64(number, 15) % 5], '')",
        "resource": f"if({is_access}, if(cityHash64(number, 16) % 10 < 7, 'customer-record', "
        "concat('booking/', leftPad(toString(cityHash64(s, 17) % 1000000), 6, '0'))), '')",
        "party_name": f"{_sql_array(party_names)}[j + 1]",
        "party_org_no": f"{_sql_array(party_orgs)}[j + 1]",
        "party_country": f"{_sql_array(party_countries)}[j + 1]",
        "party_role": f"{_sql_array(party_roles)}[j + 1]",
        "reference": "if(j = 2, concat('KK-', leftPad(toString(cityHash64(s, 18) % 100000000), 8, '0')), '')",
        "outcome": "if(j = 2, ['approved', 'approved', 'approved', 'approved', 'approved', 'approved', 'approved', "
        "'approved', 'manual_review', 'declined'][1 + cityHash64(s, 19) % 10], '')",
        "schema_name": f"{_sql_array([schema_of[t] for t in event_types])}[j + 1]",
        "schema_version": "1",
        "kafka_topic": "'bench.synthetic'",
        "kafka_partition": f"number % {partitions}",
        "kafka_offset": f"intDiv(number, {partitions})",
        "ingested_at": f"{occurred} + toIntervalMillisecond(20 + cityHash64(number, 20) % 500)",
        "action": "''",
        "gdpr_right": "''",
        "reason": "''",
        "register_version": "''",
    }
    assert set(expressions) == set(COLUMNS), set(COLUMNS) ^ set(expressions)
    select = ",\n    ".join(f"{expressions[c]} AS {c}" for c in COLUMNS)
    return (
        f"INSERT INTO events ({', '.join(COLUMNS)})\nSELECT\n    {select}\n"
        f"FROM (SELECT number, number % {subjects} AS s, toUInt8(intDiv(number, {subjects}) % 10) AS j "
        f"FROM numbers({rows}))"
    )


def fill_table(client: Any, target_rows: int, partitions: int) -> dict[str, Any]:
    existing = int(client.command("SELECT count() FROM events"))
    rows = max(0, target_rows - existing)
    subjects = max(1, -(-rows // 10))
    started = time.perf_counter()
    if rows:
        client.command(fill_sql(rows, subjects, partitions))
    seconds = time.perf_counter() - started
    total = int(client.command("SELECT count() FROM events"))
    # The SQL and Python must agree on the keys, or the lookups below would find nothing.
    probe = synthetic_key(subjects // 2)
    found = int(client.command("SELECT count() FROM events WHERE subject_key = {k:String}", parameters={"k": probe}))
    if rows and found == 0:
        print("   WARNING: synthetic subject keys do not match between SQL and Python")
    distinct = int(client.command("SELECT uniqExact(subject_key) FROM events"))
    return {
        "synthetic_rows": rows,
        "synthetic_subjects": subjects if rows else 0,
        "seconds": seconds,
        "rows_in_table": total,
        "distinct_subjects": distinct,
        "events_per_subject": total / distinct if distinct else None,
        "probe_subject_rows": found,
    }


def time_queries(run: Callable[[Any], Any], args: Sequence[Any], warmup: int = 5) -> dict[str, Any]:
    for arg in args[:warmup]:
        run(arg)
    latencies, rows = [], 0
    for arg in args:
        t0 = time.perf_counter_ns()
        result = run(arg)
        latencies.append(time.perf_counter_ns() - t0)
        rows += len(getattr(result, "rows", ()))
    summary = latency_summary(latencies, 1e6)
    summary["mean_rows"] = rows / len(args) if args else 0
    return summary


def bench_queries(client: Any, settings: Any, subjects: list[Any], fill: dict, count: int, seed: int) -> dict:
    from pdtrail.producers import Pseudonymiser
    from pdtrail.queries import LocalQueries, SubjectLineage

    rng = random.Random(seed)
    backend = LocalQueries(client)
    lineage = SubjectLineage(backend, Pseudonymiser.from_settings(settings))
    result: dict[str, Any] = {"rows_in_table": fill["rows_in_table"], "queries": count}
    # The fixed cost of one call through clickhouse-connect into chDB, for scale.
    result["select_1_ms"] = time_queries(lambda _: client.query("SELECT 1"), range(count))

    # Subjects that went through the whole pipeline, asked by personnummer as a DPO would.
    known = sorted({s.personnummer for s in subjects})
    picked = rng.sample(known, min(count, len(known)))
    result["lineage_who_accessed_ms"] = time_queries(lineage.who_accessed, picked)
    result["lineage_timeline_ms"] = time_queries(lineage.timeline, picked)

    # Synthetic subjects of the fill: the same named queries, keys computed here as the SQL did.
    if fill["synthetic_subjects"]:
        numbers = rng.sample(range(fill["synthetic_subjects"]), min(count, fill["synthetic_subjects"]))
        keys = [synthetic_key(n) for n in numbers]

        def query(name: str) -> Callable[[str], Any]:
            def run(key: str) -> Any:
                params = {"subject_keys": [key], "since": EARLIEST, "until": LATEST, "limit": 10_000}
                return backend.run(name, params)

            return run

        result["synthetic_who_accessed_ms"] = time_queries(query("who_accessed"), keys)
        result["synthetic_timeline_ms"] = time_queries(query("timeline"), keys)
    return result


def bench_kafka_engine(client: Any, bootstrap: str, topic: str, expected: int, timeout_s: float) -> dict[str, Any]:
    """ClickHouse's own Kafka table engine, raw bytes into a MergeTree table through a materialized view."""
    db = "bench_kafka_engine"
    result: dict[str, Any] = {"available": False}
    client.command(f"DROP DATABASE IF EXISTS {db} SYNC")
    client.command(f"CREATE DATABASE {db}")
    client.command(f"CREATE TABLE {db}.sink (raw String) ENGINE = MergeTree ORDER BY tuple()")
    # Batching like pdtrail's consumer (batch_size 10,000, linger 1 s); one consumer, as pdtrail runs one.
    queue_ddl = (
        f"CREATE TABLE {db}.queue (raw String) ENGINE = Kafka SETTINGS "
        f"kafka_broker_list = {_sql_str(bootstrap)}, kafka_topic_list = {_sql_str(topic)}, "
        f"kafka_group_name = 'bench-clickhouse-kafka-engine', kafka_format = 'RawBLOB', "
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
            "Kafka engine), who_accessed/timeline latency at >= 1M stored rows, bytes per event on disk. "
            "Prints figures and writes them as JSON; never asserts timings."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 20k events, lookups at 100k rows (~1 min)")
    parser.add_argument("--events", type=int, default=None, help="events emitted and ingested [200000; quick 20000]")
    parser.add_argument(
        "--fill-rows", type=int, default=None,
        help="rows in the events table for the lookups; synthetic rows top it up [1000000; quick 100000]",
    )  # fmt: skip
    parser.add_argument("--queries", type=int, default=200, help="subjects looked up per query kind")
    parser.add_argument("--partitions", type=int, default=6, help="partitions of the event topic and the raw topic")
    parser.add_argument("--seed", type=int, default=7, help="seed for simulate_company and the subject samples")
    parser.add_argument("--skip-kafka-engine", action="store_true", help="skip the ClickHouse Kafka engine baseline")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write the results")
    parser.add_argument("--keep-home", action="store_true", help="keep the temporary home (broker log, store)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show pdtrail's and librdkafka's warnings")
    args = parser.parse_args(argv)
    if args.events is None:
        args.events = 20_000 if args.quick else 200_000
    if args.fill_rows is None:
        args.fill_rows = 100_000 if args.quick else 1_000_000
    if args.events < 1 or args.queries < 1 or args.partitions < 1:
        parser.error("--events, --queries and --partitions must be positive")
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
        f"pdtrail bench: {args.events:,} events, lookups at {args.fill_rows:,} rows; home {home}\n"
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

        elapsed = step(f"5. lookups: fill the events table to {args.fill_rows:,} rows, then time the named queries")
        fill = fill_table(client, args.fill_rows, args.partitions)
        results["fill"] = fill
        print(
            f"   inserted {fill['synthetic_rows']:,} synthetic rows in {fill['seconds']:.1f}s; table "
            f"{fill['rows_in_table']:,} rows, {fill['distinct_subjects']:,} subjects "
            f"({fill['events_per_subject']:.1f} events/subject)"
        )
        results["disk_filled"] = disk_usage(client, settings.store.database)
        d = results["disk_filled"]
        print(
            f"   after OPTIMIZE FINAL: {d['active_parts']} parts, {d['bytes_on_disk_per_row']:.1f} B/row on disk, "
            f"{d['uncompressed_bytes_per_row']:.1f} B/row uncompressed"
        )
        queries = bench_queries(client, settings, subjects, fill, args.queries, args.seed)
        results["queries"] = queries
        for key, label in (
            ("select_1_ms", "SELECT 1 through the same client (fixed cost, for scale)"),
            ("lineage_who_accessed_ms", "who_accessed via SubjectLineage (simulated subjects)"),
            ("lineage_timeline_ms", "timeline via SubjectLineage (simulated subjects)"),
            ("synthetic_who_accessed_ms", "who_accessed via LocalQueries.run (synthetic subjects)"),
            ("synthetic_timeline_ms", "timeline via LocalQueries.run (synthetic subjects)"),
        ):
            if key in queries:
                q = queries[key]
                print(
                    f"   {label}: p50 {q['p50']:.2f} ms, p99 {q['p99']:.2f} ms, max {q['max']:.2f} ms "
                    f"({q['n']} queries, {q['mean_rows']:.1f} rows each)"
                )
        print(f"   ({elapsed():.1f}s)")
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
    q = r.get("queries")
    if q:
        rows = f"{q['rows_in_table']:,} rows"
        for key, label in (
            ("lineage_who_accessed_ms", "who_accessed"),
            ("lineage_timeline_ms", "timeline"),
            ("synthetic_who_accessed_ms", "who_accessed*"),
            ("synthetic_timeline_ms", "timeline*"),
        ):
            if key in q:
                v = q[key]
                lines.append(
                    f"{label + ':':<16} p50 {v['p50']:.2f} ms, p99 {v['p99']:.2f} ms, max {v['max']:.2f} ms "
                    f"(at {rows}, {v['n']} subjects)"
                )
        if "select_1_ms" in q:
            v = q["select_1_ms"]
            lines.append(f"SELECT 1:        p50 {v['p50']:.2f} ms, p99 {v['p99']:.2f} ms (client round trip into chDB)")
        if "synthetic_who_accessed_ms" in q:
            lines.append(
                "                 (* synthetic subjects via LocalQueries.run; others: simulated via SubjectLineage)"
            )
    for key, label in (("disk_ingested", "ingested events"), ("disk_filled", "filled table")):
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
