"""The pipeline under faults. Each test emits a known set of events (plus re-sent copies of some, as a
replaying spool sends them, and a few planted poison messages), plants one fault, and asserts at the
end: stored rows = distinct emitted events, distinct event ids = stored rows, DLQ = the planted poison.

chDB runs in-process and opens one store per process, so the consumer that is SIGKILLed runs as
``pdtrail consume`` in a subprocess on a store directory of its own, and the store is read (by another
subprocess) only once it is gone. The other tests run their consumers in this process.
"""

from __future__ import annotations

import functools
import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from pdtrail.config import Settings
from pdtrail.consumers import AuditConsumer, read_dead_letters
from pdtrail.infra import LocalCluster, apply_migrations, ensure_topics
from pdtrail.producers import AuditEmitter, Pseudonymiser, producer_config
from pdtrail.schemas import EventCodec
from pdtrail.schemas._wire import MARKER
from pdtrail.simulate import simulate_company
from pdtrail.store import connect
from tests.conftest import SECRET, SIGNING_KEY, free_port
from tests.integration.helpers import stored_counts

FAST_GROUPS = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}  # a dead member is noticed in 6 s
Message = tuple[bytes, bytes]  # key, value


# -- the stream ---------------------------------------------------------------------------------------


def _encoded(settings: Settings, count: int, seed: int) -> list[Message]:
    """``count`` distinct events as the SDK puts them on the wire (pseudonymised, Avro)."""
    pseudonymiser, codec = Pseudonymiser.from_settings(settings), EventCodec()
    messages: list[Message] = []
    for _, event in simulate_company(count // 6 + 10, seed=seed):
        keyed = pseudonymiser.pseudonymise_event(event)
        messages.append((keyed.subject.key.encode(), codec.encode(keyed)))  # type: ignore[union-attr]
        if len(messages) == count:
            return messages
    raise AssertionError(f"the simulation gave fewer than {count} events")


def _poison(settings: Settings, rng: random.Random) -> list[Message]:
    """Three kinds of poison: random bytes, an unknown writer schema, a truncated body."""
    _, valid = _encoded(settings, 1, seed=rng.randrange(1 << 30))[0]
    return [
        (b"poison-random", rng.randbytes(64)),
        (b"poison-fingerprint", MARKER + b"\x07" * 8 + b"\x02"),
        (b"poison-truncated", valid[:-9]),
    ]


def _stream(settings: Settings, count: int, seed: int) -> tuple[list[Message], int, int]:
    """The messages to produce, how many distinct events they hold, and how many are poison."""
    rng = random.Random(seed)
    events = _encoded(settings, count, seed)
    stream = list(events)
    for copy in rng.sample(events, min(50, count // 10)):  # re-sent later, at a new offset
        stream.insert(rng.randrange(stream.index(copy) + 1, len(stream) + 1), copy)
    poison = _poison(settings, rng)
    for message in poison:
        stream.insert(rng.randrange(len(stream) + 1), message)
    return stream, count, len(poison)


def _produce(
    settings: Settings, stream: list[Message], *, chunk: int = 0, pause_s: float = 0.0,
    hold: Callable[[int], bool] = lambda _n: False, hold_max_s: float = 5.0,
) -> None:  # fmt: skip
    """Produce with the SDK's guarantees (idempotent, acks=all); with ``chunk``, paced to last a while,
    and after each chunk held back (for at most ``hold_max_s``) while ``hold(messages produced)``."""
    producer = Producer(producer_config(settings))
    failures: list[str] = []
    for n, (key, value) in enumerate(stream, start=1):
        while True:
            try:
                producer.produce(
                    settings.kafka.topic, value=value, key=key,
                    on_delivery=lambda err, _m: failures.append(err.str()) if err else None,
                )  # fmt: skip
                break
            except BufferError:
                producer.poll(0.05)
        if chunk and n % chunk == 0:
            producer.poll(0)
            time.sleep(pause_s)
            held_until = time.monotonic() + hold_max_s
            while hold(n) and time.monotonic() < held_until:
                time.sleep(0.1)
    assert producer.flush(120) == 0 and not failures, failures[:3]


def _in_thread(target: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def _wait(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _committed(settings: Settings) -> dict[int, int]:
    """The group's committed offsets per partition (-1001 where none)."""
    reader = Consumer({"bootstrap.servers": settings.kafka.bootstrap_servers, "group.id": settings.kafka.group_id})
    try:
        partitions = [TopicPartition(settings.kafka.topic, p) for p in range(settings.kafka.partitions)]
        return {tp.partition: tp.offset for tp in reader.committed(partitions, timeout=30)}
    finally:
        reader.close()


def _uncommitted(settings: Settings) -> int:
    """Messages past the group's committed offsets: > 0 while ingest is unfinished."""
    reader = Consumer({"bootstrap.servers": settings.kafka.bootstrap_servers, "group.id": settings.kafka.group_id})
    try:
        behind = 0
        for partition, committed in _committed(settings).items():
            _, high = reader.get_watermark_offsets(TopicPartition(settings.kafka.topic, partition), timeout=30)
            behind += high - max(committed, 0)
        return behind
    finally:
        reader.close()


def _with(settings: Settings, *, kafka: dict[str, Any] | None = None, **consumer: Any) -> Settings:
    update: dict[str, Any] = {"consumer": settings.consumer.model_copy(update=consumer)}
    if kafka:
        update["kafka"] = settings.kafka.model_copy(update=kafka)
    return settings.model_copy(update=update)


def _count(client: Any) -> int:
    return int(client.query("SELECT count() FROM events").result_rows[0][0])


# -- consumer SIGKILLed at random points ----------------------------------------------------------------


def _env(settings: Settings, metrics_port: int = 0) -> dict[str, str]:
    kafka, consumer = settings.kafka, settings.consumer
    env = {k: v for k, v in os.environ.items() if not k.startswith("PDTRAIL_")}
    env.update(
        {
            "PDTRAIL_HOME": str(settings.home),
            "PDTRAIL_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "PDTRAIL_KAFKA__TOPIC": kafka.topic,
            "PDTRAIL_KAFKA__DEAD_LETTER_TOPIC": kafka.dead_letter_topic,
            "PDTRAIL_KAFKA__GROUP_ID": kafka.group_id,
            "PDTRAIL_KAFKA__PARTITIONS": str(kafka.partitions),
            "PDTRAIL_KAFKA__CONSUMER": json.dumps(kafka.consumer),
            "PDTRAIL_STORE__DSN": str(settings.store.dsn),
            "PDTRAIL_STORE__DATABASE": settings.store.database,
            "PDTRAIL_PSEUDONYM__SECRET": SECRET,
            "PDTRAIL_INTEGRITY__SIGNING_KEY": SIGNING_KEY,
            "PDTRAIL_INTEGRITY__CHECKPOINT_TOPIC": settings.integrity.checkpoint_topic,
            "PDTRAIL_INTEGRITY__CHECKPOINT_EVERY_EVENTS": str(settings.integrity.checkpoint_every_events),
            "PDTRAIL_CONSUMER__BATCH_SIZE": str(consumer.batch_size),
            "PDTRAIL_CONSUMER__LINGER_S": str(consumer.linger_s),
            "PDTRAIL_CONSUMER__DRAIN_IDLE_S": str(consumer.drain_idle_s),
            "PDTRAIL_CONSUMER__METRICS_PORT": str(metrics_port),
        }
    )
    return env


def _health(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        return dict(json.loads(exc.read()))
    except (OSError, ValueError):
        return None


def _pdtrail(settings: Settings, port: int, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pdtrail", *args]
    return subprocess.run(command, env=_env(settings, port), capture_output=True, text=True, timeout=120, check=False)


_STORE_FIGURES = """
import json
from pdtrail.config import load_settings
from pdtrail.store import connect
rows, distinct = connect(load_settings()).query("SELECT count(), uniqExact(event_id) FROM events").result_rows[0]
print(json.dumps([int(rows), int(distinct)]))
"""


# A guard against a hung run, not a detection window: ten restarts of a consumer that re-reads its store
# took 133-300 s on 2 busy cores, past the suite's default of 300.
@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    ("events", "kills"),
    [pytest.param(100_000, 10, marks=pytest.mark.slow, id="100k-10-kills"), pytest.param(20_000, 4, id="20k-4-kills")],
)
def test_consumer_sigkilled_at_random_points(
    settings: Settings, tmp_path: Path, fault_tally: Any, events: int, kills: int
) -> None:
    seed = int(os.environ.get("FAULTS_SEED", random.randrange(1 << 20)))
    rng = random.Random(seed)
    store = settings.store.model_copy(update={"dsn": f"chdb://{tmp_path / 'store'}"})
    own = _with(settings, kafka={"consumer": FAST_GROUPS}, batch_size=2000, linger_s=0.5).model_copy(
        update={"store": store}
    )
    ensure_topics(own)
    stream, distinct, planted = _stream(own, events, seed)
    started = time.monotonic()
    kill_points: list[int] = []  # rows this run had stored when it was killed
    # Produced while the consumer is killed and restarted, paced so that ingest outlasts the kills: a
    # chunk waits (a while) for its share of kills, however fast or slow the machine runs the consumer.
    producing = _in_thread(
        lambda: _produce(
            own, stream, chunk=events // 40, pause_s=1.0, hold=lambda n: len(kill_points) < kills * n / len(stream)
        )
    )

    def read_or_caught_up(port: int, process: subprocess.Popen[bytes]) -> bool:
        if process.poll() is not None:
            return True
        health = _health(port) or {}
        # Caught up with nothing to read: the run before was killed after its last insert, before its commit.
        return health.get("consumed", 0) > 0 or (not producing.is_alive() and health.get("lag") == 0)

    logs = tmp_path / "consumer.log"
    while len(kill_points) < kills:
        port = free_port()
        with open(logs, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "pdtrail", "consume"], env=_env(own, port), stdout=log, stderr=log
            )
        try:
            _wait(functools.partial(read_or_caught_up, port, process), 180, "the consumer to read")
            assert process.poll() is None, f"the consumer exited by itself:\n{logs.read_text()[-3000:]}"
            if (_health(port) or {}).get("consumed", 0) == 0:
                break  # ingest is over
            if not kill_points:  # the operator's view of a running consumer, once
                health = _pdtrail(own, port, "health", "--format", "json")
            time.sleep(rng.uniform(0.0, 2.0))
            at_kill = _health(port) or {}
        finally:
            process.kill()
            process.wait()
        if _uncommitted(own) > 0:  # a kill after everything was stored and committed does not count
            kill_points.append(int(at_kill.get("stored", -1)))
        elif not producing.is_alive():
            break
    producing.join(300)
    assert len(kill_points) >= kills, f"ingest ended after {len(kill_points)} kills; emit more events"

    done = subprocess.run(
        [sys.executable, "-m", "pdtrail", "consume", "--drain"], env=_env(own), capture_output=True, text=True,
        timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    figures = subprocess.run(
        [sys.executable, "-c", _STORE_FIGURES], env=_env(own), capture_output=True, text=True, timeout=300, check=False
    )
    assert figures.returncode == 0, figures.stderr[-3000:]
    rows, ids = json.loads(figures.stdout)
    verified = subprocess.run(
        [sys.executable, "-m", "pdtrail", "verify", "--no-external", "--format", "json"], env=_env(own),
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    gone = _pdtrail(own, free_port(), "health", "--format", "json")  # no consumer answers any more
    letters = read_dead_letters(own)
    fault_tally.record(
        f"consumer SIGKILL x{len(kill_points)} ({events // 1000}k)", emitted=distinct, stored=rows,
        duplicated=rows - ids, dead_lettered=len(letters), planted_poison=planted,
        seconds=time.monotonic() - started, seed=seed, kill_points=kill_points, resent=len(stream) - distinct - planted,
    )  # fmt: skip
    assert rows == distinct, f"seed {seed}: stored {rows} of {distinct}"
    assert ids == rows, f"seed {seed}: {rows - ids} doubled"
    assert len(letters) == planted, f"seed {seed}: {len(letters)} dead letters for {planted} planted"
    assert verified.returncode == 0, verified.stdout[-2000:] + verified.stderr[-2000:]
    assert health.returncode == 0, health.stdout + health.stderr
    assert json.loads(health.stdout)["checks"]["consumer"]["state"] == "running"
    assert gone.returncode == 1 and json.loads(gone.stdout)["checks"]["consumer"]["ok"] is False


# -- ClickHouse failing under a running consumer ----------------------------------------------------------


def _through_a_store_fault(
    own: Settings, seed: int, breaking: str, mending: str, while_broken: Callable[[AuditConsumer], dict[str, Any]]
) -> dict[str, Any]:
    """One consumer ingests 12,000 events; ``breaking`` is run on the store once it has stored a batch, and
    ``mending`` once ``while_broken`` (called when the consumer reports ``retrying``) has looked. Returns
    what it saw, the group's offsets before (unless ``while_broken`` says from when on) and after it looked,
    and the figures at the end."""
    stream, distinct, planted = _stream(own, 12_000, seed=seed)
    admin = connect(own)
    consumer = AuditConsumer(own, connect(own))
    started = time.monotonic()
    runner = _in_thread(consumer.run)
    producing = _in_thread(lambda: _produce(own, stream, chunk=400, pause_s=0.3))
    try:
        _wait(lambda: consumer.stats.stored > 0, 120, "the first stored batch")
        admin.command(breaking)
        _wait(lambda: consumer.stats.state == "retrying", 60, "the consumer to notice")
        before = _committed(own)
        seen = while_broken(consumer)
        during = _committed(own)
    finally:
        admin.command(mending)
    producing.join(120)
    _wait(lambda: _count(admin) >= distinct and consumer.stats.state == "running", 240, "the consumer to recover")
    time.sleep(1)
    consumer.stop()
    runner.join(60)
    rows, ids = stored_counts(admin)
    return {
        "before": before, **seen, "during": during, "stats": consumer.stats, "emitted": distinct, "stored": rows,
        "duplicated": rows - ids, "dead_lettered": len(read_dead_letters(own)), "planted_poison": planted,
        "seconds": time.monotonic() - started,
    }  # fmt: skip


def _assert_nothing_lost_doubled_or_committed_early(own: Settings, run: dict[str, Any]) -> None:
    assert run["before"] == run["during"], "offsets were committed while nothing could be stored"
    assert run["stored"] == run["emitted"] and run["duplicated"] == 0, run
    assert run["dead_lettered"] == run["planted_poison"]
    assert _uncommitted(own) == 0  # everything stored is committed in the end


def test_store_unavailable_mid_stream(pipeline: Settings, fault_tally: Any) -> None:
    """The events table is detached under the running consumer: every insert and read of it fails in
    the real engine (UNKNOWN_TABLE), as when a server loses a table or a disk, until it is attached."""
    port = free_port()
    own = _with(pipeline, batch_size=500, linger_s=0.2, metrics_port=port)

    def while_broken(consumer: AuditConsumer) -> dict[str, Any]:
        report = _health(port)
        time.sleep(3)  # events keep arriving; nothing of them may be committed
        return {"report": report, "retries": consumer.stats.insert_retries}

    run = _through_a_store_fault(own, 61, "DETACH TABLE events", "ATTACH TABLE events", while_broken)
    fault_tally.record(
        "ClickHouse table detached mid-stream", emitted=run["emitted"], stored=run["stored"],
        duplicated=run["duplicated"], dead_lettered=run["dead_lettered"], planted_poison=run["planted_poison"],
        seconds=run["seconds"], retries=run["retries"], duplicates_dropped=run["stats"].duplicates_dropped,
    )  # fmt: skip
    report = run["report"]
    assert report is not None and report["state"] == "retrying" and "events" in report["last_error"]
    assert run["retries"] > 0
    _assert_nothing_lost_doubled_or_committed_early(own, run)


def test_store_refusing_inserts_but_answering_reads(pipeline: Settings, fault_tally: Any) -> None:
    """The events table refuses every insert with TOO_MANY_PARTS (the real engine's error, made by
    lowering ``parts_to_throw_insert`` to one part) while reads go on working, for longer than
    max.poll.interval.ms: as when merges fall behind on a server. The consumer gives up its batches,
    leaves the group, finds it can read where it stands, joins again and is refused again; nothing is
    committed or stored meanwhile, and once inserts are taken again everything is stored once."""
    groups = {**FAST_GROUPS, "max.poll.interval.ms": 8000}
    own = _with(pipeline, kafka={"consumer": groups}, batch_size=500, linger_s=0.2)
    reader = connect(own)

    def while_broken(consumer: AuditConsumer) -> dict[str, Any]:
        stored_before, refused = _count(reader), consumer.health()["last_error"]
        # A round commits the partitions it stored as it ends, and the round that meets the refusal ends when it
        # gives a batch up: from the first step aside on, nothing more may be committed while inserts are refused.
        _wait(lambda: consumer.stats.left_group >= 1, 120, "the consumer to give its batch up and leave")
        committed_at_leaving = _committed(own)
        _wait(lambda: consumer.stats.left_group >= 2, 120, "the consumer to leave, join again and leave again")
        return {"refused": refused, "stored_while_refused": _count(reader) - stored_before,
                "before": committed_at_leaving}  # fmt: skip

    run = _through_a_store_fault(
        own, 67, "ALTER TABLE events MODIFY SETTING parts_to_throw_insert = 1",
        "ALTER TABLE events RESET SETTING parts_to_throw_insert", while_broken,
    )  # fmt: skip
    stats = run["stats"]
    fault_tally.record(
        "ClickHouse refusing inserts (too many parts), reads served", emitted=run["emitted"], stored=run["stored"],
        duplicated=run["duplicated"], dead_lettered=run["dead_lettered"], planted_poison=run["planted_poison"],
        seconds=run["seconds"], left_group=stats.left_group, abandoned=stats.batches_abandoned,
    )  # fmt: skip
    assert "TOO_MANY_PARTS" in run["refused"] or "Too many parts" in run["refused"]
    assert stats.batches_abandoned >= 1 and run["stored_while_refused"] == 0
    _assert_nothing_lost_doubled_or_committed_early(own, run)


# -- two consumers, rebalances in the middle ----------------------------------------------------------


def test_two_consumers_and_rebalances(settings: Settings, fault_tally: Any) -> None:
    """Consumer A starts alone; B joins mid-stream (rebalance); A leaves (rebalance: B takes all six).
    Both run in this process, each with its own chDB client on the same store: chDB opens one store per
    process, and two clients of it in two threads work on the same tables."""
    own = _with(settings, kafka={"partitions": 6, "consumer": FAST_GROUPS}, batch_size=500, linger_s=0.2)
    ensure_topics(own)
    apply_migrations(connect(own))
    stream, distinct, planted = _stream(own, 30_000, seed=73)
    reader = connect(own)
    first, second = AuditConsumer(own, connect(own)), AuditConsumer(own, connect(own))
    started = time.monotonic()
    producing = _in_thread(lambda: _produce(own, stream, chunk=500, pause_s=0.15))
    run_first = _in_thread(first.run)
    _wait(lambda: first.stats.stored > 0, 120, "A to store")
    run_second = _in_thread(second.run)
    _wait(lambda: second.stats.stored > 0, 120, "B to store after joining")
    stored_by_first_at_join = first.stats.stored
    first.stop()
    run_first.join(120)
    producing.join(180)
    _wait(lambda: _count(reader) >= distinct and not second.pending, 240, "B to store everything")
    partitions_of_second = second.health()["partitions"]
    second.stop()
    run_second.join(120)
    rows, ids = stored_counts(reader)
    letters = read_dead_letters(own)
    fault_tally.record(
        "two consumers, join + leave rebalances", emitted=distinct, stored=rows, duplicated=rows - ids,
        dead_lettered=len(letters), planted_poison=planted, seconds=time.monotonic() - started,
        stored_by_a=first.stats.stored, stored_by_b=second.stats.stored,
        duplicates_dropped=first.stats.duplicates_dropped + second.stats.duplicates_dropped,
    )  # fmt: skip
    assert stored_by_first_at_join > 0 and second.stats.stored > 0
    assert partitions_of_second == list(range(6))
    assert first.stats.stored + second.stats.stored == rows
    assert rows == distinct and ids == rows
    assert len(letters) == planted


# -- one consumer cut off from the store for longer than max.poll.interval.ms ---------------------------


class _CutOff:
    """A clickhouse-connect client that cannot reach the store while ``cut`` is set: every query,
    insert and command fails, as across a network partition.

    A mock, and the only one in this suite: the fault is one consumer losing the store while another
    keeps it (a network partition between one host and a ClickHouse server). The embedded engine is one
    store per process, shared by both consumers here, so the real part cannot be made to fail for one
    of them alone."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.cut = threading.Event()

    def __getattr__(self, name: str) -> Any:
        call = getattr(self._client, name)
        if name not in ("query", "insert", "command"):
            return call

        def cut_off(*args: Any, **kwargs: Any) -> Any:
            if self.cut.is_set():
                raise OSError("connection refused: this consumer is cut off from the store")
            return call(*args, **kwargs)

        return cut_off


def test_consumer_cut_off_from_the_store_past_its_poll_interval(settings: Settings, fault_tally: Any) -> None:
    """A loses the store for longer than max.poll.interval.ms: it leaves its batches unwritten and the
    group, so B takes every partition and stores them. When A's store comes back, A joins again, and the
    batches it had read belong to B: A must not write them as well."""
    groups = {**FAST_GROUPS, "max.poll.interval.ms": 8000}
    own = _with(settings, kafka={"partitions": 4, "consumer": groups}, batch_size=500, linger_s=0.2)
    ensure_topics(own)
    apply_migrations(connect(own))
    stream, distinct, planted = _stream(own, 12_000, seed=97)
    reader, cut_off = connect(own), _CutOff(connect(own))
    first, second = AuditConsumer(own, cut_off), AuditConsumer(own, connect(own))
    started = time.monotonic()
    producing = _in_thread(lambda: _produce(own, stream, chunk=400, pause_s=0.3))
    run_first = _in_thread(first.run)
    _wait(lambda: first.stats.stored > 0, 120, "A to store")
    cut_off.cut.set()
    _wait(lambda: first.stats.state == "retrying", 60, "A to notice")
    run_second = _in_thread(second.run)
    _wait(lambda: second.health()["partitions"] == [0, 1, 2, 3], 120, "B to take every partition from A")
    taken_at = second.stats.stored
    _wait(lambda: second.stats.stored > taken_at, 60, "B to store A's partitions")
    cut_off.cut.clear()
    _wait(lambda: first.stats.state == "running" and first.health()["partitions"], 120, "A to join again")
    producing.join(180)
    _wait(lambda: _count(reader) >= distinct and not first.pending and not second.pending, 240, "the rest stored")
    time.sleep(2)  # anything A would still write twice lands now
    first.stop(), second.stop()
    run_first.join(120), run_second.join(120)
    rows, ids = stored_counts(reader)
    letters = read_dead_letters(own)
    fault_tally.record(
        "consumer cut off from the store past its poll interval", emitted=distinct, stored=rows,
        duplicated=rows - ids, dead_lettered=len(letters), planted_poison=planted, seconds=time.monotonic() - started,
        stored_by_a=first.stats.stored, stored_by_b=second.stats.stored, abandoned_by_a=first.stats.batches_abandoned,
        a_left_group=first.stats.left_group,
    )  # fmt: skip
    assert first.stats.insert_retries > 0 and first.stats.left_group >= 1  # A was cut off, and stepped aside
    assert rows == distinct and ids == rows, f"stored {rows} rows, {ids} distinct, of {distinct}"
    assert len(letters) == planted


def test_consumer_cut_off_from_the_store_while_idle_when_the_group_rebalances(
    settings: Settings, fault_tally: Any
) -> None:
    """A is idle and has lost the store when B joins: A cannot read where its new partitions stand, so it
    takes none of them and leaves the group; B stores every partition, and A joins again once it can."""
    groups = {**FAST_GROUPS, "max.poll.interval.ms": 8000}
    own = _with(settings, kafka={"partitions": 4, "consumer": groups}, batch_size=500, linger_s=0.2)
    ensure_topics(own)
    apply_migrations(connect(own))
    stream, distinct, planted = _stream(own, 6_000, seed=98)
    half = len(stream) // 2
    reader, cut_off = connect(own), _CutOff(connect(own))
    first, second = AuditConsumer(own, cut_off), AuditConsumer(own, connect(own))
    started = time.monotonic()
    run_first = _in_thread(first.run)
    _produce(own, stream[:half])
    _wait(lambda: first.health()["lag"] == 0 and not first.pending, 120, "A to read and store all it was given")
    cut_off.cut.set()
    run_second = _in_thread(second.run)
    _wait(lambda: second.health()["partitions"] == [0, 1, 2, 3], 120, "B to take every partition from A")
    assert first.stats.left_group >= 1 and first.health()["partitions"] == []
    _produce(own, stream[half:])
    _wait(lambda: _count(reader) >= distinct, 120, "B to store the rest")
    cut_off.cut.clear()
    _wait(lambda: first.stats.state == "running" and first.health()["partitions"], 120, "A to join again")
    time.sleep(2)
    first.stop(), second.stop()
    run_first.join(120), run_second.join(120)
    rows, ids = stored_counts(reader)
    letters = read_dead_letters(own)
    fault_tally.record(
        "idle consumer cut off from the store at a rebalance", emitted=distinct, stored=rows, duplicated=rows - ids,
        dead_lettered=len(letters), planted_poison=planted, seconds=time.monotonic() - started,
        stored_by_a=first.stats.stored, stored_by_b=second.stats.stored, a_left_group=first.stats.left_group,
    )  # fmt: skip
    assert rows == distinct and ids == rows, f"stored {rows} rows, {ids} distinct, of {distinct}"
    assert len(letters) == planted


# -- one broker of three killed under load ------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    local = LocalCluster(tmp_path_factory.mktemp("cluster"))
    local.start()
    yield local
    local.stop()


def test_one_broker_killed_under_load(cluster: LocalCluster, settings: Settings, fault_tally: Any) -> None:
    own = _with(
        settings,
        kafka={"bootstrap_servers": cluster.bootstrap_servers, "replication_factor": 3, "consumer": FAST_GROUPS},
        batch_size=500, linger_s=0.2,
    )  # fmt: skip
    ensure_topics(own)
    apply_migrations(connect(own))
    events = [e for _, e in simulate_company(2500, seed=83)]
    poison = _poison(own, random.Random(83))
    client = connect(own)
    consumer = AuditConsumer(own, connect(own))
    started = time.monotonic()
    runner = _in_thread(consumer.run)
    half = threading.Event()
    outcome: dict[str, Any] = {}

    def emit_all() -> None:
        with AuditEmitter(own) as emitter:
            for n, event in enumerate(events, start=1):
                emitter.emit(event)
                if n % 500 == 0:
                    time.sleep(0.2)
                if n == len(events) // 2:
                    half.set()
                    _produce(own, poison)
            outcome["left"] = emitter.flush(180)
            outcome["stats"] = emitter.stats

    emitting = _in_thread(emit_all)
    assert half.wait(120)
    metadata = Consumer({"bootstrap.servers": own.kafka.bootstrap_servers, "group.id": "probe"})
    leader = metadata.list_topics(own.kafka.topic, timeout=30).topics[own.kafka.topic].partitions[0].leader
    metadata.close()
    cluster.kill(leader)  # the leader of partition 0, under load
    emitting.join(300)
    assert outcome.get("left") == 0 and outcome["stats"].failed == 0, outcome
    _wait(lambda: _count(client) >= len(events), 300, "every event to be stored")
    consumer.stop()
    runner.join(120)
    cluster.restart(leader)
    rows, ids = stored_counts(client)
    letters = read_dead_letters(own)
    fault_tally.record(
        f"broker {leader} of 3 SIGKILLed under load", emitted=len(events), stored=rows, duplicated=rows - ids,
        dead_lettered=len(letters), planted_poison=len(poison), seconds=time.monotonic() - started,
    )  # fmt: skip
    assert rows == len(events) and ids == rows
    assert len(letters) == len(poison)


# -- the consumer dies between its insert and the dead letters' confirmation ------------------------------

# The one way to die at an exact point of the loop: the consumer runs as it does under ``pdtrail consume
# --drain`` and its process ends (os._exit, no clean-up, as a SIGKILL) once every insert of its first batch
# has landed, before it records the leaves and commits. The dead letters wait in librdkafka (linger 60 s)
# until the consumer confirms them, so a loop that confirmed them after the inserts would lose them here:
# the restart resumes after the highest stored offset, past the poison.
_DIE_AFTER_THE_INSERTS = """
import faulthandler, os
faulthandler.dump_traceback_later(120, exit=True)  # a hang shows where it is
from pdtrail.config import load_settings
from pdtrail.consumers import AuditConsumer, _consumer, _planner
from pdtrail.infra import apply_migrations
from pdtrail.store import connect
execute = _consumer.AuditConsumer._execute
def execute_or_die(self, step, *args):
    if isinstance(step, _planner.RecordLeaves):
        os._exit(17)
    execute(self, step, *args)
_consumer.AuditConsumer._execute = execute_or_die
settings = load_settings()
client = connect(settings)
apply_migrations(client)  # as pdtrail consume does
AuditConsumer(settings, client).run(drain=True)
"""


def test_consumer_killed_between_insert_and_dead_letter_confirm(
    settings: Settings, tmp_path: Path, fault_tally: Any
) -> None:
    store = settings.store.model_copy(update={"dsn": f"chdb://{tmp_path / 'store'}"})
    # A fast session timeout: the dead member's partition goes to the restarted one in seconds.
    own = _with(settings, kafka={"partitions": 1, "consumer": FAST_GROUPS}, batch_size=50_000, linger_s=2.0).model_copy(
        update={"store": store}
    )
    ensure_topics(own)
    stream, distinct, planted = _stream(own, 3_000, seed=101)
    started = time.monotonic()
    _produce(own, stream)
    held = {**_env(own), "PDTRAIL_KAFKA__PRODUCER": json.dumps({"linger.ms": 60_000, "message.timeout.ms": 120_000})}
    died = subprocess.run(
        [sys.executable, "-c", _DIE_AFTER_THE_INSERTS], env=held, capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert died.returncode == 17, died.stderr[-3000:]  # it died right after its inserts landed
    done = subprocess.run(
        [sys.executable, "-m", "pdtrail", "consume", "--drain"], env=_env(own), capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    figures = subprocess.run(
        [sys.executable, "-c", _STORE_FIGURES], env=_env(own), capture_output=True, text=True, timeout=300, check=False
    )
    assert figures.returncode == 0, figures.stderr[-3000:]
    rows, ids = json.loads(figures.stdout)
    letters = read_dead_letters(own)
    fault_tally.record(
        "consumer killed between insert and dead-letter confirm", emitted=distinct, stored=rows,
        duplicated=rows - ids, dead_lettered=len(letters), planted_poison=planted, seconds=time.monotonic() - started,
    )  # fmt: skip
    assert rows == distinct and ids == rows, (
        f"stored {rows} rows, {ids} distinct, of {distinct}: {done.stdout[-500:]} {done.stderr[-3000:]}"
    )
    assert sorted(letter.origin_offset for letter in letters) == sorted(
        offset for offset, (key, _) in enumerate(stream) if key.startswith(b"poison-")
    ), "a poison message below the highest stored offset has no dead letter"
