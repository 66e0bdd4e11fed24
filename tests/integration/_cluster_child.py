"""The child process of test_cluster_distributed.py: one chDB engine with a one-shard cluster configured.

chDB keeps one engine per process and the test session has its own store open, so this runs apart.
It prints one JSON object with what it observed; the test asserts on it.

Replicated engines need a Keeper, which the embedded engine cannot run: the one change made to the
rendered cluster DDL here is ``Replicated<Kind>MergeTree('path', 'replica', ...)`` ->
``<Kind>MergeTree(...)`` (and the replicated dedup window -> the non-replicated one) with ``ON CLUSTER``
dropped. The ``<name>_local`` tables, the Distributed tables over them, their sharding keys, the ledger
and every query and insert are exactly as cluster mode runs them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from pathlib import Path
from typing import Any

import clickhouse_connect

from pdtrail.config import StoreSettings
from pdtrail.consumers import COLUMNS
from pdtrail.consumers._rows import event_row
from pdtrail.infra import apply_migrations, apply_retention
from pdtrail.infra._cluster_ddl import ClusterLayout
from pdtrail.producers import Pseudonymiser
from pdtrail.queries import LocalQueries, SubjectLineage, findings
from pdtrail.schemas import SchemaCatalog, load_register
from pdtrail.simulate import simulate_company, simulate_findings
from pdtrail.store import consistency_settings

SECRET = b"cluster-child-secret-0123456789"
CONFIG = """<clickhouse>
  <tcp_port>9000</tcp_port>
  <remote_servers><pdtrail><shard><internal_replication>true</internal_replication>
    <replica><host>localhost</host><port>9000</port></replica>
  </shard></pdtrail></remote_servers>
</clickhouse>"""


def one_engine(statement: str) -> str:
    statement = statement.replace(" ON CLUSTER `pdtrail`", "")
    statement = re.sub(r"Replicated(\w*)MergeTree\('[^']*', '[^']*'(?:, )?", r"\1MergeTree(", statement)
    statement = re.sub(r"replicated_deduplication_window_seconds = \d+, ", "", statement)
    return statement.replace("replicated_deduplication_window", "non_replicated_deduplication_window")


class OneEngine:
    """The client, with every statement of the migrations adapted by :func:`one_engine` first."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.sent: list[str] = []

    def command(self, cmd: str, settings: Any = None, **kwargs: Any) -> Any:
        self.sent.append(cmd)
        return self.client.command(one_engine(cmd), settings=settings, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def cell(value: Any) -> str:
    # groupUniqArray gives its elements in no set order (on one server too): compare them as sets.
    return str(sorted(map(str, value))) if isinstance(value, list | tuple) else str(value)


def main(directory: Path) -> dict[str, Any]:
    config = directory / "config.xml"
    config.write_text(CONFIG)

    def client(database: str | None = None, **settings: Any) -> Any:
        return clickhouse_connect.get_client(
            dsn=f"chdb://{directory / 'store'}", database=database, chdb_options={"config-file": str(config)},
            settings=settings,
        )  # fmt: skip

    bootstrap = client()
    bootstrap.command("CREATE DATABASE IF NOT EXISTS single")
    bootstrap.command("CREATE DATABASE IF NOT EXISTS clustered")
    single, clustered = client("single"), client("clustered", optimize_skip_unused_shards=1)
    store = StoreSettings(dsn="https://clickhouse.example:8443", cluster="pdtrail", database="clustered")
    consistency = consistency_settings(store)
    layout = ClusterLayout(
        cluster="pdtrail", database="clustered", insert_settings=consistency.insert_settings(),
        read_settings=consistency.read_settings(),
        sharding_keys={"checkpoints": "cityHash64(topic, partition)", "ingest_batches": "cityHash64(topic, partition)"},
    )  # fmt: skip
    apply_migrations(single)
    adapted = OneEngine(clustered)
    first = apply_migrations(adapted, layout)
    again = apply_migrations(adapted, layout)

    pseudonymiser = Pseudonymiser({1: SECRET}, current_version=1)
    catalog, version, now = SchemaCatalog.default(), load_register().version, dt.datetime.now(dt.UTC)
    stream = list(simulate_company(30, seed=5))
    stream += [(p.subject, p.event) for p in simulate_findings(stream, seed=5)]
    rows = []
    for offset, (_, event) in enumerate(stream):
        # As the SDK stores it: the subject (and a link event's other identifier) keyed, the register's version.
        stamped = pseudonymiser.pseudonymise_event(event).model_copy(update={"register_version": version})
        rows.append(event_row(stamped, catalog.current(event.avro_name), "pdtrail.events", offset % 3, offset, now))
    half = len(rows) // 2
    for target, settings in ((single, {}), (clustered, consistency.insert_settings())):
        for token, batch in (("batch-a", rows[:half]), ("batch-b", rows[half:])):
            with_token = {**settings, "insert_deduplication_token": token}
            target.insert("events", batch, column_names=COLUMNS, settings=with_token)
    # The consumer's retry of a batch that landed: the same token, dropped by the shard through the Distributed table.
    clustered.insert("events", rows[:half], column_names=COLUMNS, settings=consistency.insert_settings("batch-a"))

    def answers(target: Any) -> dict[str, Any]:
        lineage = SubjectLineage(LocalQueries(target), pseudonymiser)
        subjects = sorted({s.personnummer for s, _ in stream})[:8]
        out: dict[str, Any] = {}
        for pnr in subjects:
            for question in ("who_accessed", "timeline", "shared_with", "sources", "credit_checks", "purposes"):
                rows = getattr(lineage, question)(pnr).rows
                out[f"{question}:{pnr[-4:]}"] = [[cell(value) for value in row] for row in rows]
        out["findings"] = sorted(str(f) for f in findings(LocalQueries(target)))
        positions = (Path(__file__).parents[2] / "consumers" / "positions.sql").read_text()
        read = consistency.read_settings() if target is clustered else {}
        out["positions"] = sorted(
            map(list, target.query(positions, parameters={"topic": "pdtrail.events"}, settings=read).result_rows)
        )
        return out

    on_single, on_cluster = answers(single), answers(clustered)
    stored, stored_local = (
        clustered.command("SELECT count() FROM events"),
        clustered.command("SELECT count() FROM events_local"),
    )
    months = sorted({r[COLUMNS.index("occurred_at")].strftime("%Y%m") for r in rows})
    cutoff = int(months[2])  # drop the two oldest months
    sent_before = len(adapted.sent)
    retention = {"single": apply_retention(single, cutoff), "cluster": apply_retention(adapted, cutoff, layout)}
    remaining = {
        "single": single.command("SELECT count() FROM events"),
        "cluster": clustered.command("SELECT count() FROM events"),
    }
    tables = clustered.query("SELECT name, engine FROM system.tables WHERE database = 'clustered'").result_rows
    return {
        "applied_first": first,
        "applied_again": again,
        "sent": adapted.sent[:sent_before],
        "tables": sorted(map(list, tables)),
        "rows": len(rows),
        "stored": stored,
        "stored_local": stored_local,
        "answers_equal": on_single == on_cluster,
        "different": sorted(k for k in on_single if on_single[k] != on_cluster.get(k)),
        "non_empty_answers": sum(1 for v in on_cluster.values() if v),
        "answers": len(on_cluster),
        "positions": on_cluster["positions"],
        "retention": retention,
        "remaining": remaining,
        "retention_sent": adapted.sent[sent_before:],
        "retention_log": clustered.command("SELECT count() FROM retention_log"),
    }


if __name__ == "__main__":
    json.dump(main(Path(sys.argv[1])), sys.stdout, default=str)
