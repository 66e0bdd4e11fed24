"""The settings the consumer sends in cluster mode (quorum inserts, sequential reads of its own positions),
checked against ClickHouse's own catalogue of settings, and recorded as a store call sends them."""

from __future__ import annotations

from typing import Any, cast

import pytest

from pdtrail.config import Settings, StoreSettings
from pdtrail.store import StoreConsistency, consistency_settings

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


def test_a_store_call_sends_the_settings_the_recording_client_records() -> None:
    # The shape of the consumer's calls (wired after the new consumer lands): an insert with its token,
    # a read of its positions. The recording client is what the wiring test of the consumer will use.
    consistency = consistency_settings(CLUSTER)
    client = RecordingClient(answers=lambda sql: [(0, 41)] if "max(kafka_offset)" in sql else None)
    store = cast(Any, client)
    store.insert("events", [[1, 2]], column_names=["a", "b"], settings=consistency.insert_settings("tok-1"))
    rows = store.query(
        "SELECT kafka_partition, max(kafka_offset) FROM events GROUP BY kafka_partition",
        settings=consistency.read_settings(),
    ).result_rows
    assert rows == [(0, 41)]
    insert, read = client.calls
    assert (insert.kind, insert.target, insert.rows) == ("insert", "events", [[1, 2]])
    assert insert.settings["insert_deduplication_token"] == "tok-1" and insert.settings["insert_quorum"] == "auto"
    assert read.settings == {"select_sequential_consistency": 1}
    assert client.tables["events"] == [{"a": 1, "b": 2}]
