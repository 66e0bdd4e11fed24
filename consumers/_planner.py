"""The exactly-once decisions of ingest, as pure functions of what the store and Kafka report. No I/O.

Per partition one :class:`PartitionState` with an explicit :class:`Phase`. On assignment
:func:`plan_resume` turns the store's view of the partition (highest stored offset, the newest batch
intent and how many of its rows are stored) and the group's committed offset into where to read from,
whether to replay a batch that was cut short, and what to commit at once. For each batch
:func:`plan_flush` returns the steps the I/O shell runs, in this order:

1. confirm the batch's dead letters (the broker holds them);
2. write the intent (range and row count), unless the batch is a replay of one;
3. one insert per month of ``occurred_at``, each with its deduplication token;
4. record the leaves, checkpoint if due;
5. commit the offset after the batch.

Why dead letters come first: on assignment the highest *stored* offset wins over the committed one
(a crash between insert and commit must not store twice), so once any row of a batch is stored, the
poison below it is never read again. Its letters must be in the DLQ before that row can be.

Modelled on the ClickHouse Kafka Connect sink's ``State`` x ``RangeState`` decision: the state is
small, the decision is one function, and every crash window is a unit test against an in-memory store
(``tests/unit/test_ingest_planner.py``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Phase(StrEnum):
    READING = "reading"  # batches form freely
    REPLAYING = "replaying"  # reading a batch cut short again: it flushes only once it holds the whole range


@dataclass(frozen=True)
class Intent:
    """A batch's promise, written before its first insert: this offset range, this many rows."""

    first: int
    last: int
    rows: int


@dataclass(frozen=True)
class StoreView:
    """What the store says about one partition on assignment. ``-1``: nothing stored."""

    stored_max: int = -1
    intent: Intent | None = None
    intent_rows_stored: int = 0
    stored_below_intent: int = -1  # the highest offset stored below the intent's first one


@dataclass(frozen=True)
class Resume:
    """Where a newly assigned partition starts. ``start`` None: the group's committed offset (or the
    earliest). ``commit``: the store is ahead of the group's commit (a crash between insert and commit);
    commit that, so that Kafka's own lag tools tell the truth. ``gap``: offsets never stored before an
    unfinished batch (an earlier version's trace), read again from its start."""

    start: int | None
    phase: Phase = Phase.READING
    replay: tuple[int, int] | None = None
    commit: int | None = None
    gap: tuple[int, int] | None = None


def plan_resume(view: StoreView, committed: int) -> Resume:
    """``committed``: the group's committed offset, negative when there is none."""
    intent = view.intent
    if intent is not None and view.intent_rows_stored < intent.rows:
        done = max(view.stored_below_intent + 1, committed)
        if (view.stored_below_intent >= 0 or committed >= 0) and done < intent.first:
            # Replaying the batch would skip offsets never stored; its rows that landed are dropped by id.
            return Resume(start=done, gap=(done, intent.first - 1))
        return Resume(start=intent.first, phase=Phase.REPLAYING, replay=(intent.first, intent.last))
    after_stored = view.stored_max + 1
    if after_stored > 0 and after_stored > committed:
        return Resume(start=after_stored, commit=after_stored)
    return Resume(start=None)


@dataclass
class Batch:
    """What was read from one partition and is not stored yet, in offset order. ``messages`` are
    whatever the shell reads (Kafka messages); poison among them is found when the batch is decoded."""

    messages: list[Any] = field(default_factory=list)
    first_offset: int = -1
    last_offset: int = -1
    since: float = field(default_factory=time.monotonic)

    def add(self, offset: int, message: Any) -> None:
        if self.first_offset < 0:
            self.first_offset = offset
        self.last_offset = offset
        self.messages.append(message)


@dataclass
class PartitionState:
    """Everything the consumer holds about one assigned partition."""

    partition: int
    phase: Phase = Phase.READING
    next_offset: int = 0  # messages below it were handled (fetched before a rebalance: stale)
    replay: tuple[int, int] | None = None
    batch: Batch | None = None
    at_end: bool = False
    lag: int | None = None
    commit_now: int | None = None

    @classmethod
    def resumed(cls, partition: int, resume: Resume, committed: int) -> PartitionState:
        start = resume.start if resume.start is not None else committed
        return cls(partition, resume.phase, max(start, 0), resume.replay, commit_now=resume.commit)


class Verdict(StrEnum):
    STALE = "stale"  # fetched before a rebalance or a seek back: skip it
    FLUSH_FIRST = "flush_first"  # the replayed range is whole: flush it, then take this message
    TAKE = "take"


def on_message(state: PartitionState, offset: int) -> Verdict:
    if offset < state.next_offset:
        return Verdict.STALE
    if state.replay is not None and offset > state.replay[1] and state.batch is not None:
        return Verdict.FLUSH_FIRST  # the replayed batch ends exactly where the first try did
    return Verdict.TAKE


def take(state: PartitionState, offset: int, message: Any) -> None:
    state.next_offset = offset + 1
    state.at_end = False
    if state.batch is None:
        state.batch = Batch()
    state.batch.add(offset, message)


def flush_due(state: PartitionState, *, now: float, batch_size: int, linger_s: float) -> bool:
    batch = state.batch
    if batch is None:
        return False
    if state.replay is not None and batch.last_offset < state.replay[1]:
        return False  # a replay flushes only once it holds the whole range of the first try
    return state.at_end or len(batch.messages) >= batch_size or now - batch.since >= linger_s


def flush_round(states: list[PartitionState], *, now: float, batch_size: int, linger_s: float) -> list[PartitionState]:
    """The partitions to flush now: none until one is due, then every partition holding a batch that may be
    stored (a replay only once whole), so that the engine stages the round in one go."""
    if not any(flush_due(s, now=now, batch_size=batch_size, linger_s=linger_s) for s in states):
        return []
    whole = [s for s in states if s.batch is not None]
    return [s for s in whole if s.replay is None or (s.batch is not None and s.batch.last_offset >= s.replay[1])]


def replay_whole(state: PartitionState) -> bool:
    """True if the pending batch is exactly the range being replayed (its intent is written already)."""
    batch = state.batch
    return batch is not None and state.replay == (batch.first_offset, batch.last_offset)


def revoke_keeps_batch(state: PartitionState) -> bool:
    """On revocation, store the pending batch unless it is half a replay: stored under new tokens it could
    double the months that had landed; the next owner replays the whole range instead."""
    batch = state.batch
    return batch is not None and not (state.replay is not None and batch.last_offset < state.replay[1])


# -- one batch's steps --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfirmDeadLetters:
    count: int


@dataclass(frozen=True)
class WriteIntent:
    intent: Intent


@dataclass(frozen=True)
class Insert:
    month: int
    token: str
    rows: int


@dataclass(frozen=True)
class RecordLeaves:
    read_back: bool  # some rows were there already: read the partition's tail back in offset order


@dataclass(frozen=True)
class Commit:
    offset: int


Step = ConfirmDeadLetters | WriteIntent | Insert | RecordLeaves | Commit


def insert_token(topic: str, partition: int, first_offset: int, last_offset: int, month: int) -> str:
    return f"{topic}/{partition}/{first_offset}-{last_offset}/{month}"


def plan_flush(
    state: PartitionState, topic: str, *, months: dict[int, int], dead_letters: int, dropped: int
) -> list[Step]:
    """The steps that store the pending batch. ``months``: rows to insert per yyyymm, after the events
    stored already were dropped (``dropped`` of them); ``dead_letters``: the batch's poison."""
    batch = state.batch
    assert batch is not None
    replaying = replay_whole(state)
    rows = sum(months.values())
    steps: list[Step] = []
    if dead_letters:
        steps.append(ConfirmDeadLetters(dead_letters))
    if rows:
        if not replaying:
            steps.append(WriteIntent(Intent(batch.first_offset, batch.last_offset, rows)))
        for month, count in months.items():
            token = insert_token(topic, state.partition, batch.first_offset, batch.last_offset, month)
            steps.append(Insert(month, token, count))
        steps.append(RecordLeaves(read_back=replaying or dropped > 0))
    steps.append(Commit(batch.last_offset + 1))
    return steps


def flushed(state: PartitionState) -> None:
    """The batch is stored and committed."""
    state.batch = None
    state.replay = None
    state.phase = Phase.READING


def abandoned(state: PartitionState, *, intent_written: bool) -> int:
    """The store failed the batch past the write budget: it is read again from its first offset (the
    returned seek position), as exactly the same range if its intent was written (months may have landed)."""
    batch = state.batch
    assert batch is not None
    state.batch = None
    if intent_written:
        state.replay = (batch.first_offset, batch.last_offset)
        state.phase = Phase.REPLAYING
    state.next_offset = batch.first_offset
    return batch.first_offset
