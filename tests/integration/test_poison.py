"""Every kind of poison lands in the DLQ with its own reason; ``dlq list`` shows it; a re-drive after a
fix stores what now passes exactly once, returns what still fails to the DLQ, and can run twice."""

from __future__ import annotations

import argparse
import json
import os

import pytest
from confluent_kafka import Producer
from rich.console import Console

from pdtrail._cli import _ops_cmds
from pdtrail.config import Settings
from pdtrail.consumers import AuditConsumer, read_dead_letters, redrive
from pdtrail.producers import AuditEmitter
from pdtrail.schemas import IdentifiersCollected
from pdtrail.schemas._wire import MARKER
from pdtrail.simulate import simulate_company
from pdtrail.store import connect
from tests.integration.helpers import stored_counts
from tests.integration.test_dead_letters import _invalid_but_decodable, _truncated

LIMIT = 1024


def _large_valid_event() -> IdentifiersCollected:
    """A valid event above LIMIT bytes once encoded: long labels, as many cookie names as the schema allows."""
    collected = next(e for _, e in simulate_company(20, seed=17) if isinstance(e, IdentifiersCollected))
    return collected.model_copy(
        update={"identifiers": tuple(f"cookie-{n}-" + "x" * 180 for n in range(8)), "correlation_id": "c" * 200}
    )


def _with_consumer(settings: Settings, **consumer: object) -> Settings:
    return settings.model_copy(update={"consumer": settings.consumer.model_copy(update=consumer)})


def test_each_poison_kind_has_its_reason_and_a_redrive_stores_the_fixed_once(
    pipeline: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    strict = _with_consumer(pipeline, max_event_bytes=LIMIT)
    good = [e for _, e in simulate_company(6, seed=11)]
    large = _large_valid_event()
    poison = {
        "random bytes": os.urandom(80),
        "unknown fingerprint": MARKER + b"\x01" * 8 + b"\x02\x04",
        "truncated body": _truncated(pipeline),
        "invalid content": _invalid_but_decodable(),
    }
    with AuditEmitter(pipeline) as emitter:
        for event in good:
            emitter.emit(event)
        emitter.emit(large)
        raw = Producer({"bootstrap.servers": pipeline.kafka.bootstrap_servers})
        for name, value in poison.items():
            raw.produce(pipeline.kafka.topic, value=value, key=name.encode())
        assert raw.flush(10) == 0

    client = connect(pipeline)
    stats = AuditConsumer(strict, client).run(drain=True)
    assert stats.dead_lettered == len(poison) + 1
    assert stored_counts(client) == (len(good), len(good))

    letters = read_dead_letters(pipeline)
    assert len(letters) == len(poison) + 1
    by_error: dict[str, list[str]] = {}
    for letter in letters:
        assert letter.origin_topic == pipeline.kafka.topic and letter.origin_offset >= 0 and letter.time is not None
        by_error.setdefault(letter.error, []).append(letter.reason)
    assert sorted(by_error) == ["invalid", "oversized", "undecodable", "unknown_schema"]
    assert len(by_error["undecodable"]) == 2
    assert any("missing C3 01 marker" in r for r in by_error["undecodable"])
    assert any("body does not decode" in r for r in by_error["undecodable"])
    assert "above max_event_bytes (1024)" in by_error["oversized"][0]
    assert "unknown writer schema" in by_error["unknown_schema"][0]
    assert "subject.key" in by_error["invalid"][0]

    # The operator's view: one JSON line per letter with its origin, never its bytes.
    args = argparse.Namespace(action="list", format="json", dry_run=False, all=False)
    assert _ops_cmds.dlq(args, pipeline, Console()) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert sorted(r["error"] for r in listed) == sorted(letter.error for letter in letters)
    assert {r["origin_offset"] for r in listed} == {letter.origin_offset for letter in letters}

    dry = redrive(pipeline, dry_run=True)
    assert len(dry.letters) == len(letters) and dry.published == 0

    # The fix: a larger limit. Re-driven, the large event is stored; the real poison comes back.
    fixed = _with_consumer(pipeline, max_event_bytes=1024 * 1024)
    assert redrive(pipeline).published == len(letters)
    again = AuditConsumer(fixed, client).run(drain=True)
    assert again.dead_lettered == len(poison)
    assert stored_counts(client) == (len(good) + 1, len(good) + 1)
    # Only the letters that came back are due for the next re-drive.
    assert sorted(letter.error for letter in redrive(pipeline, dry_run=True).letters) == sorted(
        ["invalid", "undecodable", "undecodable", "unknown_schema"]
    )

    # Re-driving everything a second time stores nothing twice.
    assert redrive(pipeline, from_start=True).published == 2 * len(poison) + 1
    third = AuditConsumer(fixed, client).run(drain=True)
    assert third.duplicates_dropped == 1 and third.dead_lettered == 2 * len(poison)
    assert stored_counts(client) == (len(good) + 1, len(good) + 1)
    assert len(read_dead_letters(pipeline)) == len(poison) + 1 + len(poison) + 2 * len(poison)


def test_an_event_sent_twice_is_stored_once(pipeline: Settings) -> None:
    """The SDK's spool may deliver an event again at a new offset; the consumer drops the copy."""
    events = [e for _, e in simulate_company(8, seed=23)]
    with AuditEmitter(pipeline) as emitter:
        for event in events:
            emitter.emit(event)
        for event in events[:5]:  # the same events, as a replaying spool would send them
            emitter.emit(event)
    client = connect(pipeline)
    consumer = AuditConsumer(pipeline, client)
    stats = consumer.run(drain=True)
    assert stats.duplicates_dropped == 5
    assert consumer.metrics.registry.get_sample_value("pdtrail_consumer_duplicates_dropped_total") == 5
    assert stored_counts(client) == (len(events), len(events))
