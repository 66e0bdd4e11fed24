"""What the consumer must send to a ClickHouse cluster so that exactly-once still holds.

On one server (or the embedded store) a row is readable the moment its insert returns, so the
consumer's resume — read back the highest stored offset, the last intent, the stored event ids — is
exact, and nothing extra is sent. On a cluster (``store.cluster``) three things break that:

* an insert into the ``Distributed`` table is queued on the server that received it and sent to the
  shards later (``distributed_foreground_insert = 0``, the default): the consumer could commit Kafka
  offsets for rows no shard holds yet;
* a replica acknowledges an insert before any other replica has it: losing that replica loses rows
  the consumer has already committed;
* a read may be answered by a lagging replica, which does not yet hold the consumer's last batch: the
  consumer would resume from an older offset and store that range again under new batch boundaries
  (new deduplication tokens, so the replicated deduplication cannot drop them).

So in cluster mode every insert of the consumer carries :attr:`StoreConsistency.insert`:

``distributed_foreground_insert = 1``
    the insert returns once every shard has stored its rows.
``insert_quorum`` (``store.insert_quorum``, default ``'auto'`` = a majority of the shard's replicas)
    ...and once that many replicas of each shard have them; else it fails and is retried (with the
    same ``insert_deduplication_token``, so a block that did land is dropped as a duplicate).
``insert_quorum_parallel = 0``
    quorum inserts into one table of one shard are linearised. ClickHouse documents this as the
    condition under which ``select_sequential_consistency`` holds.
``insert_quorum_timeout`` (``store.insert_quorum_timeout_ms``)
    how long an insert waits for its quorum before it fails (and is retried).

and every read of its own positions carries :attr:`StoreConsistency.read`:

``select_sequential_consistency = 1``
    the replica that answers must hold every quorum-confirmed insert, else the query fails (and is
    retried) instead of answering from stale data — the read-after-write the resume needs.

Trade-offs, as ClickHouse documents them: an insert waits for a second replica (and Keeper), so
each insert takes longer; with ``insert_quorum_parallel = 0`` a second consumer's insert into the
same shard fails while the first one's quorum is pending (the consumer's bounded retry absorbs
this; bigger batches mean fewer inserts to collide); an insert fails outright when fewer replicas
than the quorum are up (a shard of 2 replicas with ``'auto'`` needs both: run 3); and
``select_sequential_consistency`` costs a Keeper round-trip per read, which is why only the
consumer's position reads carry it, never the DPO's lookups. On ClickHouse Cloud
(SharedMergeTree) every insert is a quorum insert and the quorum settings are ignored;
``select_sequential_consistency`` still gives read-after-write there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pdtrail.config import StoreSettings

SettingValue = str | int


@dataclass(frozen=True)
class StoreConsistency:
    """The ClickHouse settings the consumer sends: ``insert`` with each insert, ``read`` with each read
    of its own positions. Both are empty for one server or the embedded store."""

    insert: Mapping[str, SettingValue] = field(default_factory=dict)
    read: Mapping[str, SettingValue] = field(default_factory=dict)

    def insert_settings(self, token: str | None = None) -> dict[str, SettingValue]:
        """The settings of one insert: the consistency settings, plus its deduplication token if any."""
        settings = dict(self.insert)
        if token is not None:
            settings["insert_deduplication_token"] = token
        return settings

    def read_settings(self) -> dict[str, SettingValue]:
        """The settings of one read of the consumer's own positions."""
        return dict(self.read)


def consistency_settings(store: StoreSettings) -> StoreConsistency:
    """What the consumer sends for ``store`` (see the module docstring for each setting and its cost)."""
    if not store.cluster:
        return StoreConsistency()
    return StoreConsistency(
        insert={
            "distributed_foreground_insert": 1,
            "insert_quorum": store.insert_quorum,
            "insert_quorum_parallel": 0,
            "insert_quorum_timeout": store.insert_quorum_timeout_ms,
            # On by default; stated because the per-insert tokens depend on it.
            "insert_deduplicate": 1,
        },
        read={"select_sequential_consistency": 1},
    )
