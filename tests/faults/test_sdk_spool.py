"""The SDK when the broker goes away: nothing lost, nothing doubled, emit() never waits on the broker.

Each test runs a broker of its own (stopping the session's would break the other tests) and ends with the
real consumer storing the topic into chDB: stored = emitted, distinct event ids = stored rows, and each
subject's events in Kafka in the order they were emitted.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pdtrail.config import Settings
from pdtrail.consumers import AuditConsumer
from pdtrail.infra import LocalBroker, apply_migrations, ensure_topics
from pdtrail.producers import AuditEmitter
from pdtrail.simulate import simulate_company
from pdtrail.store import connect
from tests.conftest import SECRET, free_port, pipeline_settings


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalBroker]:
    broker = LocalBroker(tmp_path / "kafka", port=free_port(), controller_port=free_port())
    broker.start()
    yield broker
    broker.stop()


def _settings(broker: LocalBroker, home: Path, store_dir: Path) -> Settings:
    """``store_dir`` is the session's: chDB opens one store directory per process; each test has a database.
    The delivery timeout is short enough that a stopped broker fills the spool within the test."""
    return pipeline_settings(broker.bootstrap_servers, home, store_dir, emitter={"delivery_timeout_s": 5.0})


def _store_everything(settings: Settings) -> tuple[int, int, list[tuple[str, int, int, str]]]:
    """Consume the topic into chDB; (rows, distinct ids, (subject, partition, offset, event id) in offset order)."""
    client = connect(settings)
    apply_migrations(client)
    AuditConsumer(settings, client).run(drain=True)
    rows, distinct = client.query("SELECT count(), uniqExact(event_id) FROM events").result_rows[0]
    placed = client.query(
        "SELECT subject_key, kafka_partition, kafka_offset, toString(event_id) FROM events "
        "ORDER BY kafka_partition, kafka_offset"
    ).result_rows
    return int(rows), int(distinct), [(str(k), int(p), int(o), e) for k, p, o, e in placed]


def _in_emit_order(placed: list[tuple[str, int, int, str]], emitted: list[Any]) -> bool:
    """Per subject, the Kafka offsets follow the order emit() was called in."""
    rank = {str(e.event_id): n for n, e in enumerate(emitted)}
    by_subject: dict[str, list[tuple[int, int]]] = {}
    for subject, _, offset, event_id in placed:
        by_subject.setdefault(subject, []).append((offset, rank[event_id]))
    return all([r for _, r in sorted(pairs)] == sorted(r for _, r in pairs) for pairs in by_subject.values())


@pytest.mark.slow
def test_broker_down_for_a_minute_while_a_service_emits(
    own_broker: LocalBroker, tmp_path: Path, store_dir: Path, fault_tally: Any
) -> None:
    settings = _settings(own_broker, tmp_path / "home", store_dir)
    ensure_topics(settings)
    events = [e for _, e in simulate_company(250, seed=21)]
    slowest, done = [0.0], threading.Event()
    started = time.monotonic()

    with AuditEmitter(settings) as audit:

        def service() -> None:  # a steady trickle, as a booking service would emit
            for event in events:
                begin = time.perf_counter()
                audit.emit(event)
                slowest[0] = max(slowest[0], time.perf_counter() - begin)
                time.sleep(0.02)
            done.set()

        emitting = threading.Thread(target=service)
        emitting.start()
        time.sleep(5)
        own_broker.stop()
        down_at = time.monotonic()
        time.sleep(60)
        spooled_while_down = audit.stats.spooled
        own_broker.start()
        emitting.join(timeout=300)
        assert done.is_set()
        left = audit.flush(120)
    assert left == 0 and audit.stats.spooled == 0
    assert spooled_while_down > 0  # the broker's absence was real, and the spool carried it

    rows, distinct, placed = _store_everything(settings)
    fault_tally.record(
        "broker stopped 60 s while a service emits",
        emitted=len(events),
        stored=rows,
        duplicated=rows - distinct,
        seconds=time.monotonic() - started,
        spooled_while_down=spooled_while_down,
        slowest_emit_ms=round(slowest[0] * 1000, 1),
        down_s=round(time.monotonic() - down_at, 1),
    )
    assert rows == distinct == len(events)
    assert {e for *_, e in placed} == {str(e.event_id) for e in events}
    assert _in_emit_order(placed, events)


_EMIT_THEN_EXIT = """
import sys, json
from pdtrail.config import load_settings
from pdtrail.producers import AuditEmitter
from pdtrail.simulate import simulate_company
settings = load_settings(**json.loads(sys.argv[1]))
events = [e for _, e in simulate_company(40, seed=33)]
audit = AuditEmitter(settings)
for event in events:
    audit.emit(event)
left = audit.close(timeout=2)
print(json.dumps({"emitted": len(events), "left": left, "ids": [str(e.event_id) for e in events]}))
"""


def test_restart_with_events_still_in_the_spool(
    own_broker: LocalBroker, tmp_path: Path, store_dir: Path, fault_tally: Any
) -> None:
    """A service emits while the broker is down and exits; it starts again once the broker is back and the
    new process sends what the old one left on disk — before anything new."""
    import json

    settings = _settings(own_broker, tmp_path / "home", store_dir)
    ensure_topics(settings)
    own_broker.stop()
    started = time.monotonic()
    overrides = {
        "home": str(settings.home),
        "kafka": settings.kafka.model_dump(),
        "pseudonym": {"secret": SECRET},
        "emitter": {"delivery_timeout_s": 5.0},
    }
    first = subprocess.run(
        [sys.executable, "-c", _EMIT_THEN_EXIT, json.dumps(overrides, default=str)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout.splitlines()[-1])
    assert report["left"] == report["emitted"]  # all of them kept on disk, none delivered
    assert list((settings.home / "spool").glob("spool-*.sqlite"))

    own_broker.start()
    with AuditEmitter(settings) as restarted:  # the service again: it adopts the spool and replays it
        assert restarted.stats.spooled == report["emitted"]
        newer = [e for _, e in simulate_company(5, seed=34)]
        for event in newer:
            restarted.emit(event)
        assert restarted.flush(120) == 0
    rows, distinct, placed = _store_everything(settings)
    emitted = report["emitted"] + len(newer)
    fault_tally.record(
        "emitting process restarted with events in the spool",
        emitted=emitted,
        stored=rows,
        duplicated=rows - distinct,
        seconds=time.monotonic() - started,
    )
    assert rows == distinct == emitted
    first_ids = set(report["ids"])
    assert {e for *_, e in placed} == first_ids | {str(e.event_id) for e in newer}
    # The old process's events went out first: in every partition, they hold the lowest offsets.
    by_partition: dict[int, list[str]] = {}
    for _, partition, _, event_id in placed:
        by_partition.setdefault(partition, []).append(event_id)
    for ids in by_partition.values():
        flags = [i in first_ids for i in ids]
        assert flags == sorted(flags, reverse=True)
