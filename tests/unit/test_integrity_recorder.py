"""The recorder's checkpoints for a round of partitions: cut per partition, written together, moved on
only once both the store and the topic hold them."""

from __future__ import annotations

import hashlib
from typing import Any, cast

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pdtrail.config import Settings
from pdtrail.integrity import Checkpoint, Signer
from pdtrail.integrity._merkle import merkle_root
from pdtrail.integrity._recorder import IntegrityRecorder
from tests.unit._recording_client import RecordingClient


class _Topic:
    """Stands in for the checkpoint topic (the real one is exercised by the integration tier): it records
    what each ``publish_all`` sent, and can be told to refuse."""

    def __init__(self) -> None:
        self.sent: list[list[Checkpoint]] = []
        self.refuse = False

    def publish_all(self, checkpoints: list[Checkpoint], timeout_s: float = 30.0) -> None:
        if self.refuse:
            raise RuntimeError("not confirmed")
        self.sent.append(list(checkpoints))

    def publish(self, checkpoint: Checkpoint, timeout_s: float = 30.0) -> None:
        self.publish_all([checkpoint], timeout_s)


def _recorder(every: int) -> tuple[IntegrityRecorder, RecordingClient, _Topic]:
    client = RecordingClient(answers=lambda sql: [])
    settings = Settings(integrity={"checkpoint_every_events": every, "checkpoint_every_s": 3600})
    recorder = IntegrityRecorder(settings, cast(Any, client), Signer(Ed25519PrivateKey.generate()), {})
    topic = _Topic()
    recorder._external = cast(Any, topic)
    return recorder, client, topic


def _store(recorder: IntegrityRecorder, partition: int, first: int, count: int) -> list[bytes]:
    offsets = list(range(first, first + count))
    leaves = [hashlib.sha256(b"%d/%d" % (partition, o)).digest() for o in offsets]
    recorder.stored(partition, offsets, leaves, ["2026-11-30T10:00:00.000000Z"] * count)
    return leaves


@pytest.mark.parametrize("sizes", [(5, 5, 5), (12, 4, 0), (3, 9, 10)])
def test_a_round_is_one_insert_and_one_publish_with_each_partitions_own_checkpoints(sizes: tuple[int, ...]) -> None:
    recorder, client, topic = _recorder(every=4)
    leaves = {}
    for partition, size in enumerate(sizes):
        recorder.resume(partition)
        leaves[partition] = _store(recorder, partition, 100 * partition, size)
    client.calls.clear()
    cut = recorder.maybe_checkpoint_many(list(range(len(sizes))))
    # only full checkpoints are due (the time cadence is an hour away): size // 4 per partition
    assert [c.partition for c in cut] == [p for p, size in enumerate(sizes) for _ in range(size // 4)]
    inserts = client.of("insert")
    assert len(inserts) == (1 if cut else 0) and len(topic.sent) == (1 if cut else 0)
    if cut:
        assert len(inserts[0].rows) == len(cut) and topic.sent[0] == cut
    for partition in range(len(sizes)):
        own = [c for c in cut if c.partition == partition]
        assert [c.seq for c in own] == list(range(len(own)))  # each partition's chain, from its start
        for n, checkpoint in enumerate(own):
            assert checkpoint.root == merkle_root(leaves[partition][4 * n : 4 * n + 4]).hex()
            assert checkpoint.prev == (own[n - 1].digest if n else "")


def test_a_refused_publish_leaves_every_tail_to_be_cut_again_identically() -> None:
    recorder, _, topic = _recorder(every=3)
    for partition in (0, 1):
        recorder.resume(partition)
        _store(recorder, partition, 0, 3)
    topic.refuse = True
    with pytest.raises(RuntimeError):
        recorder.maybe_checkpoint_many([0, 1])
    topic.refuse = False
    again = recorder.maybe_checkpoint_many([0, 1])
    assert [(c.partition, c.seq, c.first_offset, c.last_offset) for c in again] == [(0, 0, 0, 2), (1, 0, 0, 2)]
    assert recorder.checkpoints_written == 2 and recorder.maybe_checkpoint_many([0, 1]) == []


def test_force_cuts_the_short_tails_of_every_partition_in_one_write() -> None:
    recorder, client, topic = _recorder(every=1000)
    for partition in (3, 5):
        recorder.resume(partition)
        _store(recorder, partition, 10, 2)
    client.calls.clear()
    recorder.checkpoint_all()
    assert [(c.partition, c.leaf_count) for c in topic.sent[-1]] == [(3, 2), (5, 2)]
    assert len(client.of("insert")) == 1
