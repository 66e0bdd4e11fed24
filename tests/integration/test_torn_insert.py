"""An insert cut short between its monthly parts is finished exactly once on restart.

A crash inside an insert cannot be made to happen on cue in the embedded engine, so this test leaves
the store as such a crash would (done at the data level, with the consumer's own intent record, tokens
and row mapping): the intent for a batch is written, one month of its rows landed, the rest did not,
and no offset was committed. The restarted consumer must end with every event exactly once.
"""

from __future__ import annotations

import datetime as dt

import pytest
from confluent_kafka import Consumer, TopicPartition

from pdtrail.config import Settings
from pdtrail.consumers import COLUMNS, AuditConsumer
from pdtrail.consumers._batches import by_month, insert_token
from pdtrail.consumers._rows import event_row
from pdtrail.integrity import public_keys_from_settings, read_external
from pdtrail.integrity._verify import verify
from pdtrail.producers import AuditEmitter
from pdtrail.schemas import EventCodec
from pdtrail.simulate import simulate_company
from pdtrail.store import connect
from tests.integration.helpers import stored_counts


def _partition_messages(settings: Settings, partition: int, start: int) -> list[tuple[int, bytes]]:
    reader = Consumer({"bootstrap.servers": settings.kafka.bootstrap_servers, "group.id": "torn-reader",
                       "enable.partition.eof": True, "enable.auto.commit": False})  # fmt: skip
    reader.assign([TopicPartition(settings.kafka.topic, partition, start)])
    found = []
    while True:
        msg = reader.poll(5)
        assert msg is not None, "the partition did not reach its end"
        if msg.error():
            break
        found.append((msg.offset(), msg.value()))
    reader.close()
    return found


@pytest.mark.parametrize(
    ("months_landed", "gap"),
    [
        pytest.param(1, 0, id="torn-between-months"),
        pytest.param(0, 0, id="killed-after-the-intent-before-any-insert"),
        # The state an earlier consumer could leave (a batch formed after one it had left unwritten): the
        # newest intent starts past offsets never stored. Replaying it would skip them for good.
        pytest.param(1, 7, id="intent-past-offsets-never-stored"),
    ],
)
def test_a_batch_cut_short_is_completed_once(pipeline: Settings, months_landed: int, gap: int) -> None:
    client = connect(pipeline)
    first = [e for _, e in simulate_company(10, seed=41)]
    with AuditEmitter(pipeline) as emitter:
        for event in first:
            emitter.emit(event)
    AuditConsumer(pipeline, client).run(drain=True)
    stored_before = stored_counts(client)[0]
    start = int(client.query("SELECT max(kafka_offset) FROM events WHERE kafka_partition = 0").result_rows[0][0]) + 1

    second = [e for _, e in simulate_company(25, seed=42)]
    with AuditEmitter(pipeline) as emitter:
        for event in second:
            emitter.emit(event)
    messages = _partition_messages(pipeline, 0, start)[gap:]
    codec, now = EventCodec(), dt.datetime.now(dt.UTC)
    rows = [
        event_row(*codec.decode_versioned(value), pipeline.kafka.topic, 0, offset, now) for offset, value in messages
    ]
    months = by_month(rows)
    assert len(months) >= 2  # the batch spans months, so its insert has several parts
    first_offset, last_offset = messages[0][0], messages[-1][0]
    assert first_offset == start + gap
    client.insert("ingest_batches", [[pipeline.kafka.topic, 0, first_offset, last_offset, len(rows)]],
                  column_names=["topic", "partition", "first_offset", "last_offset", "rows"])  # fmt: skip
    for landed_month, landed in list(months.items())[:months_landed]:
        token = insert_token(pipeline.kafka.topic, 0, first_offset, last_offset, landed_month)
        client.insert("events", landed, column_names=COLUMNS, settings={"insert_deduplication_token": token})

    consumer = AuditConsumer(pipeline, client)
    assert consumer.unfinished_batch(0) == (first_offset, last_offset)
    consumer.run(drain=True)

    total = len(first) + len(second)
    assert stored_before == len(first)
    assert stored_counts(client) == (total, total)  # every event once: the landed month was not written twice
    report = verify(client, public_keys_from_settings(pipeline), read_external(pipeline))
    assert report.ok and report.uncovered_rows == 0, [str(f) for f in report.findings]
