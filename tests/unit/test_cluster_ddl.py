"""Cluster mode of the store: the shipped migrations rendered for a cluster, checked by ClickHouse's own
parser (chDB's formatQuery) and for what they contain; the single-node DDL stays as written."""

from __future__ import annotations

import re
from typing import Any, cast

import pytest

from pdtrail.config import Settings
from pdtrail.errors import ConfigError
from pdtrail.infra import ClusterDdlError, ClusterLayout, apply_migrations, cluster_layout, migrations, render_migration
from pdtrail.infra._cluster_ddl import render_statement, split_statements
from pdtrail.infra._migrations import _LEDGER

from ._clickhouse_parser import parse
from ._recording_client import RecordingClient

pytestmark = pytest.mark.usefixtures("isolated_env")
SERVER = "https://clickhouse.example:8443"


def layout(**store: Any) -> ClusterLayout:
    found = cluster_layout(Settings(store={"dsn": SERVER, "cluster": "audit", **store}))
    assert found is not None
    return found


def rendered_all(cluster: ClusterLayout) -> list[str]:
    shipped = [s for _, _, sql in migrations() for s in render_migration(sql, cluster)]
    return shipped + render_migration(_LEDGER, cluster)


def one_line(statement: str) -> str:
    return re.sub(r"\s+", " ", statement)


@pytest.fixture(scope="module")
def parsed() -> tuple[list[str], Any]:
    statements = rendered_all(layout())
    table_settings = sorted({m for s in statements for m in re.findall(r"(\w+) = \d+", s.split("SETTINGS")[-1])})
    return statements, parse(statements, merge_tree_settings=table_settings)


def test_every_rendered_statement_parses_in_clickhouse(parsed: tuple[list[str], Any]) -> None:
    statements, result = parsed
    assert len(statements) >= 2 * len(migrations())
    failures = [(s.splitlines()[0], e) for s, e in zip(statements, result.errors, strict=True) if e]
    assert not failures, failures


def test_table_settings_of_the_cluster_ddl_exist_in_clickhouse(parsed: tuple[list[str], Any]) -> None:
    statements, result = parsed
    named = {m for s in statements for m in re.findall(r"(\w+) = \d+", s.split("SETTINGS")[-1])}
    assert {"replicated_deduplication_window", "replicated_deduplication_window_seconds"} <= named
    assert result.merge_tree_settings == named  # every one is a MergeTree setting of this ClickHouse


def test_events_replicated_on_every_replica_and_distributed_by_subject(parsed: tuple[list[str], Any]) -> None:
    statements, result = parsed
    formatted = dict(zip(statements, result.formatted, strict=True))
    local = next(s for s in statements if "`events_local` ON CLUSTER" in s and s.startswith("CREATE"))
    dist = next(s for s in statements if "`pdtrail`.`events` ON CLUSTER" in s and s.startswith("CREATE"))
    text = one_line(formatted[local])
    assert "CREATE TABLE IF NOT EXISTS pdtrail.events_local ON CLUSTER audit" in text
    assert "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')" in text
    assert "PARTITION BY toYYYYMM(occurred_at) ORDER BY (subject_key, occurred_at, event_id)" in text
    assert "replicated_deduplication_window = 1000" in text  # the single-node window, now across replicas
    assert f"replicated_deduplication_window_seconds = {7 * 24 * 3600}" in text
    assert "index_granularity = 1024" in text and "non_replicated" not in text
    assert "`subject_key` FixedString(64) CODEC(ZSTD(3))" in text  # the columns as written
    text = one_line(formatted[dist])
    assert "CREATE TABLE IF NOT EXISTS pdtrail.events ON CLUSTER audit AS pdtrail.events_local" in text
    assert "ENGINE = Distributed('audit', 'pdtrail', 'events_local', cityHash64(subject_key))" in text
    assert statements.index(local) < statements.index(dist)


def test_tables_not_deduplicated_on_one_server_are_not_on_the_cluster() -> None:
    statements = render_migration(migrations()[2][2], layout())  # retention_log
    assert "replicated_deduplication_window = 0" in statements[0]
    assert "window_seconds" not in statements[0]


def test_sharding_keys_per_partition_for_pdtrails_small_tables_and_overridable() -> None:
    by_name = {n: sql for _, n, sql in migrations()}
    checkpoints = render_migration(by_name["0002_checkpoints"], layout())[1]
    assert checkpoints.endswith("'checkpoints_local', cityHash64(topic, partition))")
    custom = render_migration(by_name["0001_events"], layout(sharding_keys={"events": "sipHash64(subject_key)"}))
    assert custom[1].endswith("'events_local', sipHash64(subject_key))")


def test_column_changes_run_on_both_tables_local_first() -> None:
    statements = render_migration(migrations()[4][2], layout())  # 0005: four ADD COLUMN
    assert len(statements) == 8
    for local, dist in zip(statements[::2], statements[1::2], strict=True):
        assert local.startswith("ALTER TABLE `pdtrail`.`events_local` ON CLUSTER `audit` ADD COLUMN IF NOT EXISTS")
        assert dist == local.replace("`events_local`", "`events`")
    assert parse(statements).errors == [None] * 8


def test_the_millisecond_ingest_time_renders_on_both_tables_and_keeps_each_ones_codec() -> None:
    version, name, sql = migrations()[6]
    assert (version, name) == (7, "0007_ingested_at_to_the_millisecond")
    statements = render_migration(sql, layout())
    modify = "MODIFY COLUMN ingested_at DateTime64(3, 'UTC')"
    assert statements == [
        f"ALTER TABLE `pdtrail`.`events_local` ON CLUSTER `audit` {modify}",
        f"ALTER TABLE `pdtrail`.`events` ON CLUSTER `audit` {modify}",
    ]  # no codec named: a Distributed table has none, and the cluster's local table keeps its own
    assert parse(statements).errors == [None, None]


def test_other_alters_run_on_the_local_table_only() -> None:
    cluster = layout()
    assert render_statement("ALTER TABLE events DROP PARTITION 202401", cluster) == [
        "ALTER TABLE `pdtrail`.`events_local` ON CLUSTER `audit` DROP PARTITION 202401"
    ]
    index = "ADD INDEX actor_idx actor_id TYPE bloom_filter GRANULARITY 4"
    mixed = render_statement(f"ALTER TABLE events {index}, DROP COLUMN reason", cluster)
    assert mixed == [
        f"ALTER TABLE `pdtrail`.`events_local` ON CLUSTER `audit` {index}, DROP COLUMN reason",
        "ALTER TABLE `pdtrail`.`events` ON CLUSTER `audit` DROP COLUMN reason",
    ]
    assert parse(mixed).errors == [None, None]
    modify = "MODIFY SETTING index_granularity = 2048, min_bytes_for_wide_part = 0"
    assert render_statement(f"ALTER TABLE events {modify}", cluster) == [
        f"ALTER TABLE `pdtrail`.`events_local` ON CLUSTER `audit` {modify}"
    ]


def test_a_future_migration_renders_with_no_extra_work() -> None:
    # The shape of a later migration: another layout of the events, a MergeTree variant with an engine
    # argument, a column list with nested types and defaults, then a data copy and a drop.
    sql = """
    -- A new layout; the prose may hold a semicolon; it is not split.
    CREATE TABLE IF NOT EXISTS events_v2
    (
        subject_key FixedString(64),
        occurred_at DateTime64(6, 'UTC'),
        tags        Map(String, Array(String)) DEFAULT map(),
        version     UInt64
    )
    ENGINE = ReplacingMergeTree(version)
    PARTITION BY toYYYYMM(occurred_at)
    ORDER BY (subject_key, occurred_at)
    SETTINGS non_replicated_deduplication_window = 500;
    INSERT INTO events_v2 SELECT subject_key, occurred_at, map(), 1 FROM events;
    DROP TABLE IF EXISTS events_v1;
    """
    statements = render_migration(sql, layout())
    assert len(statements) == 5
    result = parse(statements)
    assert result.errors == [None] * 5
    text = one_line(cast(str, result.formatted[0]))
    engine = "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)"
    assert f"ENGINE = {engine}" in text
    assert "replicated_deduplication_window = 500" in text
    assert "cityHash64(subject_key)" in statements[1]
    assert statements[2].startswith("INSERT INTO events_v2 SELECT")  # through the Distributed table
    assert statements[3:] == [
        "DROP TABLE IF EXISTS `pdtrail`.`events_v1` ON CLUSTER `audit`",
        "DROP TABLE IF EXISTS `pdtrail`.`events_v1_local` ON CLUSTER `audit`",
    ]


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        ("CREATE VIEW v AS SELECT 1", "not a CREATE TABLE"),
        ("CREATE TABLE m (a UInt8) ENGINE = Memory", "MergeTree family"),
        ("CREATE TABLE r (a UInt8) ENGINE = ReplicatedMergeTree ORDER BY a", "MergeTree family"),
        ("CREATE TABLE db.t (a UInt8) ENGINE = MergeTree ORDER BY a", "column list after the table name"),
        ("CREATE TABLE t ON CLUSTER c (a UInt8) ENGINE = MergeTree ORDER BY a", "column list after the table name"),
        ("CREATE TABLE t (a UInt8) ENGINE = MergeTree ORDER BY tuple()", "no column to shard by"),
        ("ALTER TABLE t ON CLUSTER c ADD COLUMN b UInt8", "without ON CLUSTER"),
        ("RENAME TABLE a TO b", "only CREATE TABLE, ALTER TABLE, DROP TABLE and INSERT"),
        ("OPTIMIZE TABLE events FINAL", "only CREATE TABLE"),
    ],
)
def test_statements_it_cannot_render_are_refused_by_name(statement: str, reason: str) -> None:
    with pytest.raises(ClusterDdlError) as info:
        render_statement(statement, layout())
    assert reason in info.value.reason
    assert info.value.statement == statement


def test_a_table_without_sort_key_shards_by_a_configured_key() -> None:
    statement = "CREATE TABLE t (a UInt8) ENGINE = MergeTree ORDER BY tuple()"
    rendered = render_statement(statement, layout(sharding_keys={"t": "cityHash64(a)"}))
    assert rendered[1].endswith("'t_local', cityHash64(a))")


def test_single_node_and_embedded_have_no_layout_and_a_cluster_needs_a_server() -> None:
    assert cluster_layout(Settings()) is None
    assert cluster_layout(Settings(store={"dsn": SERVER})) is None
    with pytest.raises(ConfigError) as info:
        cluster_layout(Settings(store={"cluster": "audit"}))
    assert info.value.setting == "PDTRAIL_STORE__CLUSTER"


def test_single_node_migrations_run_as_written_with_no_settings() -> None:
    client = RecordingClient()
    apply_migrations(cast(Any, client))
    sent = [call.target for call in client.of("command")]
    assert sent == split_statements(_LEDGER) + [s for _, _, sql in migrations() for s in split_statements(sql)]
    assert all(call.settings == {} for call in client.calls)
    assert "ENGINE = MergeTree" in sent[1] and "ON CLUSTER" not in "".join(sent)


def test_cluster_migrations_send_quorum_writes_and_sequential_reads_and_apply_once() -> None:
    cluster = layout(insert_quorum=2)
    client = RecordingClient()
    applied = apply_migrations(cast(Any, client), cluster)
    assert applied == [name for _, name, _ in migrations()]
    ddl = [c.target for c in client.of("command")]
    database = "CREATE DATABASE IF NOT EXISTS `pdtrail` ON CLUSTER `audit`"  # on every node, not just this one
    ledger, shipped = rendered_all(cluster)[-2:], rendered_all(cluster)[:-2]
    assert ddl == ["EXISTS TABLE schema_migrations", database, *ledger, *shipped]
    assert parse([database]).errors == [None]
    for call in client.of("command")[1:] + client.of("insert"):
        assert call.settings["insert_quorum"] == 2 and call.settings["distributed_foreground_insert"] == 1
    (ledger_read,) = client.of("query")
    assert ledger_read.settings == {"select_sequential_consistency": 1}
    # Again: the ledger exists and answers every version, so no DDL runs at all.
    client.calls.clear()
    assert apply_migrations(cast(Any, client), cluster) == []
    assert [c.target for c in client.of("command")] == ["EXISTS TABLE schema_migrations"]
    assert client.of("insert") == []


def test_a_table_comment_stays_after_the_settings() -> None:
    statement = (
        "CREATE TABLE notes (subject_key String, note String) ENGINE = MergeTree ORDER BY subject_key "
        "SETTINGS index_granularity = 1024 COMMENT 'the DPO''s notes, per subject'"
    )
    rendered = render_statement(statement, layout())
    assert rendered[0].endswith("SETTINGS replicated_deduplication_window = 0, index_granularity = 1024\n"
                                "COMMENT 'the DPO''s notes, per subject'")  # fmt: skip
    assert parse(rendered).errors == [None, None]
