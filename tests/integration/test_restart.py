"""A restarted consumer neither loses nor doubles events, even when Kafka's committed offsets lag."""

from __future__ import annotations

import threading

from confluent_kafka import Consumer, TopicPartition

from pdtrail.config import Settings
from pdtrail.consumers import AuditConsumer
from pdtrail.producers import AuditEmitter
from pdtrail.simulate import simulate_company
from pdtrail.store import connect
from tests.integration.helpers import stored_counts


def _emit(settings: Settings, subjects: int, seed: int) -> int:
    events = [e for _, e in simulate_company(subjects, seed=seed)]
    with AuditEmitter(settings) as emitter:
        for event in events:
            emitter.emit(event)
    return len(events)


def test_restart_after_stop_continues_where_it_left(pipeline: Settings) -> None:
    client = connect(pipeline)
    first = _emit(pipeline, 20, seed=1)
    AuditConsumer(pipeline, client).run(drain=True)
    second = _emit(pipeline, 20, seed=2)
    stats = AuditConsumer(pipeline, client).run(drain=True)
    assert stats.consumed == second
    assert stored_counts(client) == (first + second, first + second)


def test_stop_mid_stream_then_restart(pipeline: Settings) -> None:
    client = connect(pipeline)
    total = _emit(pipeline, 60, seed=4)
    small = pipeline.model_copy(update={"consumer": pipeline.consumer.model_copy(update={"batch_size": 50})})
    consumer = AuditConsumer(small, client)
    stopper = threading.Thread(target=lambda: _stop_after(consumer, 100))
    stopper.start()
    consumer.run()
    stopper.join()
    assert 100 <= consumer.stats.stored < total  # it really stopped mid-stream
    AuditConsumer(pipeline, client).run(drain=True)
    assert stored_counts(client) == (total, total)


def _stop_after(consumer: AuditConsumer, stored: int) -> None:
    import time

    deadline = time.monotonic() + 60
    while consumer.stats.stored < stored and time.monotonic() < deadline:
        time.sleep(0.01)
    consumer.stop()


def test_committed_offsets_lost_after_insert_do_not_double(pipeline: Settings) -> None:
    """The crash window between insert and commit, made real: rewind the group's offsets to 0."""
    client = connect(pipeline)
    total = _emit(pipeline, 30, seed=6)
    AuditConsumer(pipeline, client).run(drain=True)
    rewind = Consumer({"bootstrap.servers": pipeline.kafka.bootstrap_servers, "group.id": pipeline.kafka.group_id})
    rewind.commit(
        offsets=[TopicPartition(pipeline.kafka.topic, p, 0) for p in range(pipeline.kafka.partitions)],
        asynchronous=False,
    )
    rewind.close()
    stats = AuditConsumer(pipeline, client).run(drain=True)
    assert stats.consumed == 0
    assert stored_counts(client) == (total, total)
