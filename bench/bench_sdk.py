#!/usr/bin/env python
"""What the SDK costs a service: emit() latency, throughput against raw confluent-kafka, CPU per event.

One run starts its own Kafka broker, generates events (pdtrail.simulate) and measures, each on a topic of
its own, in this order:

- raw: confluent-kafka alone producing the SDK's own bytes (pseudonymised, encoded beforehand) with the
  SDK's producer config and a delivery report per message — the baseline every ratio is against;
- emit(): the SDK on the same events, already built (what emit() itself costs: p50/p99 per call), and
  the throughput with every event confirmed by Kafka;
- model construction + emit(): the service's whole cost, building each event from a dict first;
- emit_many(): the same events in batches of 1000;
- with ``--before <git ref>``, the SDK of that commit (a checkout in a temporary directory, run in a
  subprocess) on the same broker: emit() and construction + emit(), for the before/after;
- the import time of ``from pdtrail.producers import AuditEmitter`` (and of the ``--before`` one);
- with ``--warm N``, the broker is first sent the events raw N times, untimed, on topics of their own: the
  raw phase runs first, on a broker whose JIT has not compiled its produce path yet, and measured
  2-5x slower than on a warm one here (which makes every ``x raw`` ratio look better than it is);
- with ``--sizes``, the installed size and import time of the SDK alone and with ``[server]``, each in a
  fresh virtual environment (pip; slow).

CPU seconds are the process's (every thread, librdkafka's too) per 100k events. It prints figures and
the load average; it never asserts a timing. ``--quick`` is a smoke run (fails on an error only).

    python bench/bench_sdk.py --before main
    python bench/bench_sdk.py --quick
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import venv
from pathlib import Path
from typing import Any

from bench import (  # type: ignore[import-not-found]
    QUIET,
    SECRET,
    create_topic,
    free_port,
    generate_events,
    isolate_environment,
    latency_summary,
    quiet_stderr,
)

ROOT = Path(__file__).resolve().parents[1]
IMPORT_LINE = "from pdtrail.producers import AuditEmitter"


def _settings(bootstrap: str, home: Path, topic: str) -> Any:
    from pdtrail.config import load_settings

    return load_settings(
        home=home,
        kafka={"bootstrap_servers": bootstrap, "topic": topic},
        pseudonym={"secret": SECRET},
        emitter={"spool_dir": str(home / f"spool-{topic}")},
    )


def _drain(flush: Any, started: float) -> int:
    left = flush(60.0)
    while left and time.perf_counter() - started < 600:
        left = flush(60.0)
    return int(left)


def _as_dicts(events: list[Any]) -> list[tuple[type, dict[str, Any]]]:
    """Each event as the class and the plain values a service builds it from (nested parts as dicts, a
    fresh event id and time from the defaults): model construction validates all of it."""
    out = []
    for event in events:
        data = event.model_dump(exclude={"type", "event_id", "occurred_at"})
        data["subject"] = {"kind": event.subject.kind.value, "value": event.subject.value.get_secret_value()}
        out.append((type(event), data))
    return out


def measure_raw(bootstrap: str, home: Path, events: list[Any], topic: str = "raw") -> dict[str, Any]:
    from confluent_kafka import Producer

    from pdtrail.producers import Pseudonymiser, producer_config
    from pdtrail.producers._producer import EVENT_TYPE_HEADER
    from pdtrail.schemas import EventCodec

    settings = _settings(bootstrap, home, topic)
    create_topic(bootstrap, topic, 6)
    pseudonymiser, codec = Pseudonymiser.from_settings(settings), EventCodec()
    prepared = []
    for event in events:
        stored = pseudonymiser.pseudonymise_event(event)  # a link event's other identifier too
        value = codec.encode(stored)
        prepared.append((value, stored.subject.key.encode(), [(EVENT_TYPE_HEADER, event.event_type.encode())]))
    answered = [0, 0]
    queue_full = 0

    def report(err: Any, _msg: Any) -> None:  # what any producer that wants to know about delivery does
        answered[err is not None] += 1

    producer = Producer(producer_config(settings, **{"client.id": "bench-raw"}), logger=QUIET)
    produce = producer.produce
    gc.collect()
    cpu, started = time.process_time(), time.perf_counter()
    for value, key, headers in prepared:
        while True:
            try:
                produce(topic, value, key, headers=headers, on_delivery=report)
                break
            except BufferError:
                queue_full += 1
                producer.poll(0.05)
        producer.poll(0)
    left = _drain(producer.flush, started)
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    return {
        "events": len(events),
        "events_per_s": len(events) / seconds,
        "cpu_s_per_100k": cpu_s / len(events) * 1e5,
        "queue_full_waits": queue_full,
        "confirmed": answered[0],
        "failed": answered[1],
        "unconfirmed": left,
    }


def measure_emit(bootstrap: str, home: Path, events: list[Any], topic: str, *, build: bool = False) -> dict:
    """emit() per event (with ``build``: constructing the model from a dict first), then flush."""
    from pdtrail.producers import AuditEmitter

    create_topic(bootstrap, topic, 6)
    emitter = AuditEmitter(_settings(bootstrap, home, topic))
    for event in events[:200]:  # warm: connections, the writers, the LRU's first subjects
        emitter.emit(event)
    emitter.flush(30.0)
    inputs = _as_dicts(events) if build else None
    latencies: list[int] = []
    append, clock, emit = latencies.append, time.perf_counter_ns, emitter.emit
    gc.collect()
    collections = sum(g["collections"] for g in gc.get_stats())
    cpu, started = time.process_time(), time.perf_counter()
    if inputs is not None:
        for cls, data in inputs:
            t0 = clock()
            emit(cls(**data))
            append(clock() - t0)
    else:
        for event in events:
            t0 = clock()
            emit(event)
            append(clock() - t0)
    loop_s = time.perf_counter() - started
    collections = sum(g["collections"] for g in gc.get_stats()) - collections  # of any generation, in the loop
    spooled_at_loop_end = emitter.stats.spooled  # librdkafka's queue was full: these went to disk
    left = _drain(emitter.flush, started)
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    stats = emitter.stats
    emitter.close(10.0)
    return {
        "events": len(events),
        "latency_us": latency_summary(latencies, 1000.0),
        "loop_events_per_s": len(events) / loop_s,
        "gc_collections_in_loop": collections,
        "spooled_at_loop_end": spooled_at_loop_end,
        "events_per_s": len(events) / seconds,
        "cpu_s_per_100k": cpu_s / len(events) * 1e5,
        "delivered": stats.delivered - 200,
        "failed": stats.failed,
        "unconfirmed": left,
    }


def measure_emit_many(
    bootstrap: str, home: Path, events: list[Any], batch: int = 1000, topic: str = "many"
) -> dict[str, Any]:
    from pdtrail.producers import AuditEmitter

    create_topic(bootstrap, topic, 6)
    emitter = AuditEmitter(_settings(bootstrap, home, topic))
    emitter.emit_many(events[:200])
    emitter.flush(30.0)
    gc.collect()
    cpu, started = time.process_time(), time.perf_counter()
    for i in range(0, len(events), batch):
        emitter.emit_many(events[i : i + batch])
    left = _drain(emitter.flush, started)
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    stats = emitter.stats
    emitter.close(10.0)
    return {
        "events": len(events),
        "events_per_s": len(events) / seconds,
        "cpu_s_per_100k": cpu_s / len(events) * 1e5,
        "delivered": stats.delivered - 200,
        "failed": stats.failed,
        "unconfirmed": left,
    }


def import_seconds(python: str, env: dict[str, str] | None = None, runs: int = 3) -> float:
    """Best of ``runs`` fresh interpreters: wall time of the SDK's import line."""
    code = f"import time; t = time.perf_counter(); {IMPORT_LINE}; print(time.perf_counter() - t)"
    best = float("inf")
    for _ in range(runs):
        done = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env, check=True, cwd="/")
        best = min(best, float(done.stdout.strip()))
    return best


# -- the SDK of another commit ------------------------------------------------------------------


def checkout_tree(ref: str, into: Path) -> Path:
    """``ref`` of this repository laid out as an importable ``pdtrail`` package; returns the PYTHONPATH entry."""
    source = into / "source"
    source.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True, check=True).stdout
    with tempfile.TemporaryFile() as tmp:
        tmp.write(archive)
        tmp.seek(0)
        with tarfile.open(fileobj=tmp) as tar:
            tar.extractall(source, filter="data")
    folders = tomllib.loads((source / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    tree = into / "tree"
    shutil.copytree(source / "pdtrail", tree / "pdtrail")
    for package, folder in folders.items():
        if package != "pdtrail":
            (tree / Path(*package.split("."))).symlink_to(source / folder, target_is_directory=True)
    return tree


def measure_before(ref: str, bootstrap: str, home: Path, count: int, seed: int) -> dict[str, Any]:
    scratch = Path(tempfile.mkdtemp(prefix="pdtrail-before-"))
    try:
        tree = checkout_tree(ref, scratch)
        env = {**os.environ, "PYTHONPATH": str(tree)}
        command = [sys.executable, __file__, "--child", bootstrap, "--events", str(count), "--seed", str(seed)]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False, cwd=home)
        if done.returncode != 0:
            raise RuntimeError(f"the SDK of {ref} failed:\n{done.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        result["import_s"] = import_seconds(sys.executable, env)
        return result
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def child(bootstrap: str, count: int, seed: int) -> None:
    """Runs with another commit's pdtrail first on the path: its emit() on this broker, as JSON."""
    import pdtrail

    home = Path(tempfile.mkdtemp(prefix="pdtrail-before-home-"))
    isolate_environment(home)
    _, events = generate_events(count, seed)
    with quiet_stderr():
        emit = measure_emit(bootstrap, home, events, "before-emit")
        build = measure_emit(bootstrap, home, events, "before-build", build=True)
    print(json.dumps({"pdtrail": str(Path(pdtrail.__file__).parent), "emit": emit, "build_and_emit": build}))


# -- installed size -------------------------------------------------------------------------------


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def installed_sizes(source: Path, extras: list[str]) -> dict[str, Any]:
    """Build the wheel of ``source``, install it (with each of ``extras``) in a fresh venv; size and import."""
    scratch = Path(tempfile.mkdtemp(prefix="pdtrail-size-"))
    try:
        wheels = scratch / "wheels"
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(source)],
            check=True, capture_output=True,
        )  # fmt: skip
        wheel = next(wheels.glob("pdtrail-*.whl"))
        out = {}
        for extra in extras:
            env_dir = scratch / f"venv-{extra or 'sdk'}"
            venv.EnvBuilder(with_pip=True).create(env_dir)
            empty = _du(env_dir)
            python = str(env_dir / "bin" / "python")
            target = f"{wheel}[{extra}]" if extra else str(wheel)
            subprocess.run([python, "-m", "pip", "install", "-q", target], check=True, capture_output=True)
            out[extra or "sdk"] = {
                "installed_mb": (_du(env_dir) - empty) / 1e6,
                "import_s": import_seconds(python, {"PATH": os.environ.get("PATH", "")}),
            }
        return out
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# -- the run ----------------------------------------------------------------------------------------


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def report(results: dict[str, Any]) -> None:
    raw = results["raw"]
    print(f"\nload average at start {results['loadavg_start']}, at end {results['loadavg_end']}")
    print(f"events per phase: {raw['events']:,}")
    print(
        f"{'phase':<32}{'events/s':>12}{'x raw':>8}{'cpu s/100k':>12}"
        f"{'p50 µs':>9}{'p99 µs':>9}{'p99.9 µs':>10}{'max µs':>9}"
    )

    def row(name: str, r: dict[str, Any]) -> None:
        lat = r.get("latency_us")
        cells = [f"{lat[q]:.1f}" for q in ("p50", "p99", "p99.9", "max")] if lat and "p99.9" in lat else [""] * 4
        rate, ratio = r["events_per_s"], _ratio(r["events_per_s"], raw["events_per_s"])
        print(
            f"{name:<32}{rate:>12,.0f}{ratio:>8}{r['cpu_s_per_100k']:>12.2f}"
            f"{cells[0]:>9}{cells[1]:>9}{cells[2]:>10}{cells[3]:>9}"
        )

    row("raw confluent-kafka", raw)
    row("emit()", results["emit"])
    row("model construction + emit()", results["build_and_emit"])
    row("emit_many() (batches of 1000)", results["emit_many"])
    before = results.get("before")
    if before:
        row(f"emit() at {results['before_ref']}", before["emit"])
        row(f"construction + emit() at {results['before_ref']}", before["build_and_emit"])
        print(f"import time: {results['import_s'] * 1000:.0f} ms now, {before['import_s'] * 1000:.0f} ms at "
              f"{results['before_ref']}")  # fmt: skip
    else:
        print(f"import time: {results['import_s'] * 1000:.0f} ms")
    for name, sizes in results.get("sizes", {}).items():
        for extra, figures in sizes.items():
            size, imported = figures["installed_mb"], figures["import_s"] * 1000
            print(f"installed ({name}, {extra}): {size:.0f} MB, import {imported:.0f} ms")
    for name in ("raw", "emit", "build_and_emit", "emit_many"):
        r = results[name]
        if r.get("failed") or r.get("unconfirmed"):
            print(f"WARNING: {name}: {r.get('failed')} failed, {r.get('unconfirmed')} unconfirmed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--quick", action="store_true", help="smoke run: 5k events")
    parser.add_argument("--before", metavar="REF", help="also measure the SDK of this git commit")
    parser.add_argument("--sizes", action="store_true", help="installed size of the SDK and of [server] (pip)")
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    parser.add_argument(
        "--warm", type=int, default=0, metavar="ROUNDS",
        help="first produce the events raw this many times to topics of their own, untimed (the broker's JIT)",
    )  # fmt: skip
    parser.add_argument("--child", metavar="BOOTSTRAP", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.events, args.seed)
        return 0
    count = 5_000 if args.quick else args.events

    from pdtrail.infra import LocalBroker

    home = Path(tempfile.mkdtemp(prefix="pdtrail-bench-sdk-"))
    isolate_environment(home)
    taken: set[int] = set()
    broker = LocalBroker(home / "kafka", port=free_port(taken), controller_port=free_port(taken))
    results: dict[str, Any] = {"loadavg_start": [round(x, 2) for x in os.getloadavg()]}
    try:
        with quiet_stderr():
            broker.start()
        _, events = generate_events(count, args.seed)
        bootstrap = broker.bootstrap_servers
        with quiet_stderr():
            for round_ in range(args.warm):
                measure_raw(bootstrap, home, events, f"warm-{round_}")
            results["raw"] = measure_raw(bootstrap, home, events)
            results["emit"] = measure_emit(bootstrap, home, events, "emit")
            results["build_and_emit"] = measure_emit(bootstrap, home, events, "build", build=True)
            results["emit_many"] = measure_emit_many(bootstrap, home, events)
        if args.before:
            results["before_ref"] = args.before
            results["before"] = measure_before(args.before, bootstrap, home, count, args.seed)
        results["import_s"] = import_seconds(sys.executable)
        if args.sizes:
            results["sizes"] = {"now": installed_sizes(ROOT, ["", "server"])}
            if args.before:
                scratch = Path(tempfile.mkdtemp(prefix="pdtrail-before-src-"))
                try:
                    source = checkout_tree(args.before, scratch).parent / "source"
                    results["sizes"][args.before] = installed_sizes(source, [""])
                finally:
                    shutil.rmtree(scratch, ignore_errors=True)
    finally:
        with quiet_stderr():
            broker.stop()
        shutil.rmtree(home, ignore_errors=True)
    results["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    failed = any(results[n].get("failed") or results[n].get("unconfirmed") for n in ("raw", "emit", "emit_many"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
