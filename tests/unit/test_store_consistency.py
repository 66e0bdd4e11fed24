"""The settings the consumer sends in cluster mode (quorum inserts, sequential reads of its own positions),
checked against ClickHouse's own catalogue of settings, and recorded as a store call sends them."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any, cast

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client import CollectorRegistry

from pdtrail.config import Settings, StoreSettings
from pdtrail.consumers._batches import RowBatch
from pdtrail.consumers._decoder import BatchDecoder, _Rows
from pdtrail.consumers._metrics import ConsumerMetrics
from pdtrail.consumers._planner import Intent
from pdtrail.consumers._store_writes import ConsumeStats, StoreWrites
from pdtrail.integrity._keys import Signer
from pdtrail.integrity._recorder import IntegrityRecorder
from pdtrail.schemas import EventCodec
from pdtrail.store import StoreConsistency, consistency_settings
from pdtrail.store._columns import COLUMNS

from ._clickhouse_parser import parse
from ._recording_client import RecordingClient

pytestmark = pytest.mark.usefixtures("isolated_env")
CLUSTER = StoreSettings(dsn="https://clickhouse.example:8443", cluster="audit")


def test_one_server_and_the_embedded_store_send_nothing_extra() -> None:
    for store in (StoreSettings(), StoreSettings(dsn="https://clickhouse.example:8443")):
        consistency = consistency_settings(store)
        assert consistency == StoreConsistency()
        assert consistency.insert_settings("t-1") == {"insert_deduplication_token": "t-1"}
        assert consistency.read_settings() == {}


def test_cluster_inserts_wait_for_every_shard_and_a_linearised_quorum() -> None:
    insert = consistency_settings(CLUSTER).insert_settings()
    assert insert == {
        "distributed_foreground_insert": 1,
        "insert_quorum": "auto",
        "insert_quorum_parallel": 0,
        "insert_quorum_timeout": 60_000,
        "insert_deduplicate": 1,
    }
    sized = StoreSettings(dsn=CLUSTER.dsn, cluster="audit", insert_quorum=3, insert_quorum_timeout_ms=5_000)
    assert consistency_settings(sized).insert["insert_quorum"] == 3
    assert consistency_settings(sized).insert["insert_quorum_timeout"] == 5_000


def test_cluster_reads_of_own_positions_are_sequentially_consistent() -> None:
    assert consistency_settings(CLUSTER).read_settings() == {"select_sequential_consistency": 1}


def test_the_per_insert_token_is_added_without_changing_the_shared_settings() -> None:
    consistency = consistency_settings(CLUSTER)
    first, second = consistency.insert_settings("tok-a"), consistency.insert_settings("tok-b")
    assert first["insert_deduplication_token"] == "tok-a" and second["insert_deduplication_token"] == "tok-b"
    assert "insert_deduplication_token" not in consistency.insert
    assert first.pop("insert_quorum") == "auto" and consistency.insert["insert_quorum"] == "auto"


def test_every_setting_is_a_setting_of_clickhouse() -> None:
    consistency = consistency_settings(CLUSTER)
    # ...and the shard pruning connect() sets for every client in cluster mode.
    names = sorted(
        {*consistency.insert, *consistency.read, "insert_deduplication_token", "optimize_skip_unused_shards"}
    )
    assert parse([], settings=names).settings == set(names)


def test_config_reads_the_cluster_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PDTRAIL_STORE__DSN", "https://clickhouse.example:8443")
    monkeypatch.setenv("PDTRAIL_STORE__CLUSTER", "audit")
    monkeypatch.setenv("PDTRAIL_STORE__INSERT_QUORUM", "2")
    monkeypatch.setenv("PDTRAIL_STORE__SHARDING_KEYS", '{"events": "sipHash64(subject_key)"}')
    store = Settings().store
    assert (store.cluster, store.insert_quorum) == ("audit", 2)
    assert store.sharding_keys == {"events": "sipHash64(subject_key)"}


def _answers(sql: str) -> list[tuple[Any, ...]] | None:
    if "max(kafka_offset)" in sql and "GROUP BY" in sql:
        return [(0, 41)]  # positions
    if "FROM ingest_batches" in sql:
        return [(30, 41, 12)]  # the partition's last batch intent
    if "count()" in sql and "max(kafka_offset)" in sql:
        return [(29, 30)]  # stored below the intent
    if "count()" in sql:
        return [(12,)]  # rows of the intent's range stored
    return None


def _store_writes(client: RecordingClient, store: StoreSettings) -> StoreWrites:
    return StoreWrites(
        cast(Any, client), "pdtrail.events", stats=ConsumeStats(), metrics=ConsumerMetrics(CollectorRegistry()),
        stop=threading.Event(), progress=lambda: None, max_poll_interval_ms=300_000,
        consistency=consistency_settings(store),
    )  # fmt: skip


def test_the_consumer_reads_its_positions_sequentially_and_writes_intents_with_a_quorum() -> None:
    client = RecordingClient(answers=_answers)
    writes = _store_writes(client, CLUSTER)
    assert writes.stored_positions() == {0: 41}
    view = writes.view(0, 41)
    assert view.intent == Intent(30, 41, 12) and view.intent_rows_stored == 12
    assert view.stored_below_intent == 29
    writes.write_intent(0, Intent(42, 50, 9))
    reads, inserts = client.of("query"), client.of("insert")
    assert len(reads) >= 4, "positions, the last intent, its stored rows and what lies below it"
    assert all(call.settings == {"select_sequential_consistency": 1} for call in reads)
    (intent,) = inserts
    assert intent.target == "ingest_batches" and intent.rows == [["pdtrail.events", 0, 42, 50, 9]]
    assert intent.settings["insert_quorum"] == "auto" and intent.settings["distributed_foreground_insert"] == 1


def test_one_server_reads_and_writes_carry_no_cluster_settings() -> None:
    client = RecordingClient(answers=_answers)
    writes = _store_writes(client, StoreSettings(dsn="https://clickhouse.example:8443"))
    writes.stored_positions()
    writes.write_intent(0, Intent(42, 50, 9))
    assert [call.settings for call in client.calls] == [{}, {}]


def test_a_batch_decoded_one_by_one_is_inserted_with_the_quorum_and_its_token() -> None:
    settings = Settings(store=CLUSTER)

    def answers(sql: str) -> list[tuple[Any, ...]] | None:
        return [("Distributed", "")] if "system.tables" in sql else [] if "event_id" in sql else None

    client = RecordingClient(answers=answers)
    decoder = BatchDecoder(settings, cast(Any, client), EventCodec())
    assert decoder.engine is None, "a server store is decoded one message at a time"
    assert not decoder.whole_batch, "through a Distributed table a batch is inserted month by month"
    client.calls.clear()
    row = [None] * len(COLUMNS)
    row[COLUMNS.index("event_id")] = "0190f0a0-0000-7000-8000-000000000001"
    row[COLUMNS.index("subject_key")] = "ab" * 32
    row[COLUMNS.index("kafka_offset")] = 7
    row[COLUMNS.index("occurred_at")] = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)
    decoded = _Rows(cast(Any, client), RowBatch(rows=[row]), decoder.consistency)
    assert decoded.drop_stored() == 0
    decoded.insert(202611, "pdtrail.events/0/7-7/202611")
    (read,), (insert,) = client.of("query"), client.of("insert")
    assert read.settings == {"select_sequential_consistency": 1}
    assert insert.target == "events" and insert.rows == [row]
    assert insert.settings["insert_deduplication_token"] == "pdtrail.events/0/7-7/202611"
    assert insert.settings["insert_quorum"] == "auto" and insert.settings["insert_quorum_parallel"] == 0


def test_the_integrity_chain_is_picked_up_with_sequential_reads() -> None:
    # A partition with nothing checkpointed and nothing stored yet: the two reads of resume().
    client = RecordingClient(answers=lambda sql: [])
    settings = Settings(store=CLUSTER)
    recorder = IntegrityRecorder(settings, cast(Any, client), Signer(Ed25519PrivateKey.generate()), {})
    recorder.resume(0)
    reads = client.of("query")
    assert len(reads) == 2 and all(call.settings == {"select_sequential_consistency": 1} for call in reads)
