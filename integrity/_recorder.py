"""The ingest side: leaves for every stored row, and a signed checkpoint every N rows or T seconds.

The consumer calls :meth:`IntegrityRecorder.stored` after each successful insert and
:meth:`maybe_checkpoint` before it commits the offsets. A checkpoint goes to ClickHouse first, then to
the external topic; after a restart :meth:`resume` rebuilds the uncovered tail of a partition from the
stored rows and publishes the newest checkpoint again (a crash between the two writes then leaves no
gap; an identical copy in the topic is harmless).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from clickhouse_connect.driver.client import Client

from pdtrail.config import Settings
from pdtrail.integrity import _sql
from pdtrail.integrity._checkpoint import COLUMNS as CHECKPOINT_COLUMNS
from pdtrail.integrity._checkpoint import PREFIX_BYTES, Checkpoint
from pdtrail.integrity._external import ExternalCheckpoints
from pdtrail.integrity._keys import Signer
from pdtrail.integrity._merkle import merkle_root
from pdtrail.integrity.verify_proof import checkpoint_signed_bytes
from pdtrail.store._consistency import consistency_settings


@dataclass
class _Tail:
    """The stored rows of a partition that no checkpoint covers yet."""

    offsets: list[int] = field(default_factory=list)
    leaves: list[bytes] = field(default_factory=list)
    occurred: list[str] = field(default_factory=list)
    last: Checkpoint | None = None
    since: float = field(default_factory=time.monotonic)

    def add(self, offset: int, leaf: bytes, occurred_at: str) -> None:
        self.offsets.append(offset)
        self.leaves.append(leaf)
        self.occurred.append(occurred_at)


class IntegrityRecorder:
    def __init__(self, settings: Settings, client: Client, signer: Signer, producer_config: dict[str, Any]) -> None:
        self._settings = settings
        self._client = client
        self._signer = signer
        self._topic = settings.kafka.topic
        self._external = ExternalCheckpoints(settings, producer_config)
        self._tails: dict[int, _Tail] = {}
        self.checkpoints_written = 0
        # On a cluster the chain is picked up from whatever replica answers: read sequentially, write with
        # a quorum, as the consumer's positions and rows are (empty on one server or the embedded store).
        self._consistency = consistency_settings(settings.store)

    def resume(self, partition: int) -> None:
        """Pick up a partition: its newest checkpoint and the stored rows after it."""
        read = self._consistency.read_settings()
        found = _sql.checkpoints(self._client, "last_checkpoint", read, topic=self._topic, partition=partition)
        last = next(iter(found), None)
        tail = _Tail(last=last)
        first = last.last_offset + 1 if last else 0
        for offset, leaf, occurred_at, _ in _sql.leaves(self._client, self._topic, partition, first, 2**63, read):
            tail.add(offset, leaf, occurred_at)
        self._tails[partition] = tail
        if last is not None:
            self._external.publish(last)

    def stored(self, partition: int, offsets: list[int], leaves: list[bytes], occurred: list[str]) -> None:
        """Rows are now in ClickHouse: their offsets, leaves and canonical occurred_at, in offset order."""
        tail = self._tails.get(partition)
        if tail is None:
            self.resume(partition)  # reads these rows back too
            return
        tail.offsets.extend(offsets)
        tail.leaves.extend(leaves)
        tail.occurred.extend(occurred)

    def maybe_checkpoint(self, partition: int, *, force: bool = False) -> list[Checkpoint]:
        """Cut the checkpoints that are due (all pending rows if ``force``), at most N rows each, so that a
        long uncovered tail (after a restart) becomes checkpoints of the usual size."""
        return self.maybe_checkpoint_many([partition], force=force)

    def maybe_checkpoint_many(self, partitions: list[int], *, force: bool = False) -> list[Checkpoint]:
        """``maybe_checkpoint`` of several partitions, written together: one insert and one wait for the
        topic per round of partitions, not one per partition (each is a statement and a broker round trip)."""
        integrity = self._settings.integrity
        cut: list[Checkpoint] = []
        tails: dict[int, _Tail] = {}
        for partition in partitions:
            tail = self._tails.get(partition)
            while tail is not None and tail.leaves:
                full = len(tail.leaves) >= integrity.checkpoint_every_events
                if not (force or full or time.monotonic() - tail.since >= integrity.checkpoint_every_s):
                    break
                checkpoint, tail = self._cut(partition, tail, min(len(tail.leaves), integrity.checkpoint_every_events))
                cut.append(checkpoint)
                tails[partition] = tail
        if cut:
            # Written together: to ClickHouse first, then to the topic (resume() publishes the newest again).
            # The tails move on only once both hold them, so a failed write is cut again, identically.
            self._client.insert(
                "checkpoints", [c.as_row() for c in cut], column_names=CHECKPOINT_COLUMNS,
                settings=self._consistency.insert_settings(),
            )  # fmt: skip
            self._external.publish_all(cut)
            self._tails.update(tails)
            self.checkpoints_written += len(cut)
        return cut

    def checkpoint_all(self) -> None:
        self.maybe_checkpoint_many(list(self._tails), force=True)

    def forget(self, partition: int) -> None:
        """The partition went to another consumer: it resumes from what is stored."""
        self._tails.pop(partition, None)

    def _cut(self, partition: int, tail: _Tail, count: int) -> tuple[Checkpoint, _Tail]:
        """The checkpoint over the first ``count`` rows of the tail, and the tail after it."""
        offsets, leaves, occurred = tail.offsets[:count], tail.leaves[:count], tail.occurred[:count]
        body = Checkpoint(
            topic=self._topic,
            partition=partition,
            seq=tail.last.seq + 1 if tail.last else 0,
            first_offset=offsets[0],
            last_offset=offsets[-1],
            leaf_count=count,
            root=merkle_root(leaves).hex(),
            offsets=offsets,
            leaf_prefixes=[leaf[:PREFIX_BYTES].hex() for leaf in leaves],
            months=[int(moment[:4] + moment[5:7]) for moment in occurred],
            min_occurred_at=min(occurred),
            max_occurred_at=max(occurred),
            prev=tail.last.digest if tail.last else "",
            key_id=self._signer.key_id,
        )
        signature = self._signer.sign(checkpoint_signed_bytes(body.as_dict())).hex()
        checkpoint = Checkpoint(**{**body.as_dict(), "signature": signature})
        return checkpoint, _Tail(tail.offsets[count:], tail.leaves[count:], tail.occurred[count:], last=checkpoint)
