"""The ingest planner against an in-memory Kafka partition, store and dead-letter topic: every crash window.

The simulated consumer below does what the real I/O shell does with the planner's answers (resume,
batch, drop stored event ids, run the flush steps in order), against a store that keeps rows, intents
and deduplication tokens as ClickHouse does. A crash is raised before any one step; the dead letters
sent but not yet confirmed are then lost (the worst a crash can do to them). After every crash the
consumer starts again from what the store and the group's offsets say; the end state must hold every
event exactly once and every poison message in the DLQ.
"""

from __future__ import annotations

import contextlib
import itertools
import random
from dataclasses import dataclass, field

import pytest

from pdtrail.consumers._planner import (
    Commit,
    ConfirmDeadLetters,
    Insert,
    Intent,
    Phase,
    RecordLeaves,
    Resume,
    Step,
    StoreView,
    Verdict,
    WriteIntent,
    abandoned,
    flush_due,
    flush_round,
    flushed,
    on_message,
    plan_flush,
    plan_resume,
    take,
)
from pdtrail.consumers._planner import PartitionState as State

TOPIC = "t"


@dataclass(frozen=True)
class Msg:
    event_id: str | None  # None: poison
    month: int = 202601


@dataclass
class World:
    log: list[Msg]
    rows: dict[int, Msg] = field(default_factory=dict)  # offset -> stored row
    tokens: set[str] = field(default_factory=set)
    intents: list[Intent] = field(default_factory=list)
    committed: int = -1001  # librdkafka's OFFSET_INVALID
    letters: set[int] = field(default_factory=set)  # confirmed by the DLQ's broker
    sent: set[int] = field(default_factory=set)  # produced, not yet confirmed

    def view(self) -> StoreView:
        stored_max = max(self.rows, default=-1)
        if not self.intents:
            return StoreView(stored_max)
        intent = max(self.intents, key=lambda i: i.first)
        in_range = sum(1 for o in self.rows if intent.first <= o <= intent.last)
        below = max((o for o in self.rows if o < intent.first), default=-1)
        return StoreView(stored_max, intent, in_range, below)


class Crash(Exception):
    pass


def run(world: World, *, batch_size: int, crash_at: int | None = None, reorder: bool = False) -> int:
    """One consumer run to the end of the log; raises Crash before step number ``crash_at``. Returns the
    number of steps it ran."""
    steps_run = 0
    resume = plan_resume(world.view(), world.committed)
    state = State.resumed(0, resume, world.committed)
    if state.commit_now is not None:
        world.committed = state.commit_now

    def flush() -> None:
        nonlocal steps_run
        assert state.batch is not None
        stored_ids = {m.event_id for m in world.rows.values()}
        months: dict[int, list[tuple[int, Msg]]] = {}
        poison = dropped = 0
        offset = state.batch.first_offset
        for msg in state.batch.messages:
            if msg.event_id is None:
                poison += 1
                if offset not in world.letters:  # the shell reads the DLQ's recent origins on assignment
                    world.sent.add(offset)
            elif msg.event_id in stored_ids:
                dropped += 1
            else:
                stored_ids.add(msg.event_id)
                months.setdefault(msg.month, []).append((offset, msg))
            offset += 1
        plan = plan_flush(
            state, TOPIC, months={m: len(r) for m, r in months.items()}, dead_letters=poison, dropped=dropped
        )
        if reorder:  # the order before the planner: dead letters confirmed after the inserts
            plan = (
                [s for s in plan if not isinstance(s, ConfirmDeadLetters)][:-1]
                + [s for s in plan if isinstance(s, ConfirmDeadLetters)]
                + [plan[-1]]
            )
        for step in plan:
            if steps_run == crash_at:
                world.sent.clear()  # sent, never confirmed: lost with the process
                raise Crash
            steps_run += 1
            execute(world, step, months)
        flushed(state)

    offset = state.next_offset
    while offset < len(world.log):
        verdict = on_message(state, offset)
        assert verdict is not Verdict.STALE
        if verdict is Verdict.FLUSH_FIRST:
            flush()
        take(state, offset, world.log[offset])
        offset += 1
        if flush_due(state, now=0.0, batch_size=batch_size, linger_s=1e9):
            flush()
    state.at_end = True
    if flush_due(state, now=0.0, batch_size=batch_size, linger_s=1e9):
        flush()
    return steps_run


def execute(world: World, step: Step, months: dict[int, list[tuple[int, Msg]]]) -> None:
    if isinstance(step, ConfirmDeadLetters):
        world.letters |= world.sent
        world.sent.clear()
    elif isinstance(step, WriteIntent):
        world.intents.append(step.intent)
    elif isinstance(step, Insert):
        if step.token not in world.tokens:  # the engine drops an insert whose token it has seen
            world.tokens.add(step.token)
            world.rows.update(months[step.month])
    elif isinstance(step, RecordLeaves):
        pass
    elif isinstance(step, Commit):
        world.committed = step.offset


def stream(seed: int, count: int = 40) -> list[Msg]:
    rng = random.Random(seed)
    log: list[Msg] = []
    for n in range(count):
        roll = rng.random()
        if roll < 0.12:
            log.append(Msg(None))
        elif roll < 0.2 and log and any(m.event_id for m in log):
            log.append(rng.choice([m for m in log if m.event_id]))  # re-sent by a replaying spool
        else:
            log.append(Msg(f"e{n}", rng.choice((202512, 202601, 202602))))
    return log


def assert_exactly_once(world: World) -> None:
    events = {m.event_id for m in world.log if m.event_id}
    stored = [m.event_id for m in world.rows.values()]
    assert sorted(stored) == sorted(events), "an event lost or stored twice"
    assert world.letters == {o for o, m in enumerate(world.log) if m.event_id is None}, "a dead letter lost"


def total_steps(log: list[Msg], batch_size: int) -> int:
    return run(World(log), batch_size=batch_size)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("batch_size", [1, 4, 7, 40])
def test_a_crash_before_any_step_neither_loses_nor_doubles(seed: int, batch_size: int) -> None:
    log = stream(seed)
    for crash_at in range(total_steps(log, batch_size) + 1):
        world = World(log)
        with pytest.raises(Crash) if crash_at < total_steps(log, batch_size) else _nothing():
            run(world, batch_size=batch_size, crash_at=crash_at)
        run(world, batch_size=batch_size)
        assert_exactly_once(world)


@pytest.mark.parametrize("seed", range(4))
def test_crashes_again_and_again_while_recovering(seed: int) -> None:
    rng = random.Random(seed)
    log = stream(seed, count=60)
    world = World(log)
    for _ in range(30):
        try:
            run(world, batch_size=rng.choice((3, 5, 8)), crash_at=rng.randrange(12))
            break
        except Crash:
            continue
    run(world, batch_size=5)
    assert_exactly_once(world)


def test_the_old_order_loses_poison_below_the_stored_maximum() -> None:
    """The issue's loss window, confirmed: with the dead letters confirmed after the insert (the order
    before the planner), a crash in between leaves the poison unlettered, and the restart resumes after
    the highest stored offset, past it. With the planner's order the same crash loses nothing."""
    log = [Msg("a"), Msg(None), Msg("b"), Msg("c")]
    losses = []
    for crash_at in range(8):
        world = World(log)
        with contextlib.suppress(Crash):
            run(world, batch_size=10, crash_at=crash_at, reorder=True)
        run(world, batch_size=10)
        if 1 not in world.letters:
            losses.append(crash_at)
    assert losses, "the old order lost nothing: the window is not where the issue says"
    for crash_at in losses:
        world = World(log)
        with pytest.raises(Crash):
            run(world, batch_size=10, crash_at=crash_at)
        run(world, batch_size=10)
        assert_exactly_once(world)


def test_steps_come_in_the_order_that_keeps_dead_letters() -> None:
    state = State(0)
    for offset, msg in enumerate([Msg("a"), Msg(None), Msg("b", 202602)]):
        take(state, offset, msg)
    steps = plan_flush(state, TOPIC, months={202601: 1, 202602: 1}, dead_letters=1, dropped=0)
    kinds = [type(s) for s in steps]
    assert kinds == [ConfirmDeadLetters, WriteIntent, Insert, Insert, RecordLeaves, Commit]
    assert steps[1] == WriteIntent(Intent(0, 2, 2))
    assert [s.token for s in steps if isinstance(s, Insert)] == ["t/0/0-2/202601", "t/0/0-2/202602"]
    assert steps[-1] == Commit(3)


def test_a_batch_of_poison_only_confirms_its_letters_and_commits() -> None:
    state = State(3, next_offset=10)
    take(state, 10, Msg(None))
    assert plan_flush(state, TOPIC, months={}, dead_letters=1, dropped=0) == [ConfirmDeadLetters(1), Commit(11)]


# -- resume cases, as the integration tests (test_restart, test_torn_insert) left the store ----------------


def test_resume_fresh_partition_reads_from_the_group_position() -> None:
    assert plan_resume(StoreView(), committed=-1001) == Resume(start=None)
    assert plan_resume(StoreView(), committed=5) == Resume(start=None)


def test_resume_after_a_crash_between_insert_and_commit_starts_after_the_stored_rows() -> None:
    assert plan_resume(StoreView(stored_max=99), committed=50) == Resume(start=100, commit=100)
    assert plan_resume(StoreView(stored_max=99), committed=-1001) == Resume(start=100, commit=100)


def test_resume_when_the_group_is_ahead_of_the_store_keeps_the_group_position() -> None:
    # Poison-only batches are committed without a row: the group may be past the highest stored offset.
    assert plan_resume(StoreView(stored_max=99), committed=120) == Resume(start=None)


def test_resume_replays_a_batch_cut_short_between_months() -> None:
    view = StoreView(stored_max=140, intent=Intent(100, 149, 50), intent_rows_stored=20, stored_below_intent=99)
    resume = plan_resume(view, committed=100)
    assert resume == Resume(start=100, phase=Phase.REPLAYING, replay=(100, 149))


def test_resume_replays_a_batch_killed_after_its_intent_before_any_insert() -> None:
    view = StoreView(stored_max=99, intent=Intent(100, 149, 50), intent_rows_stored=0, stored_below_intent=99)
    assert plan_resume(view, committed=100).replay == (100, 149)


def test_resume_of_the_first_batch_ever_replays_it() -> None:
    view = StoreView(stored_max=3, intent=Intent(0, 9, 10), intent_rows_stored=4)
    assert plan_resume(view, committed=-1001).replay == (0, 9)


def test_resume_does_not_replay_past_offsets_never_stored() -> None:
    view = StoreView(stored_max=140, intent=Intent(107, 149, 40), intent_rows_stored=10, stored_below_intent=99)
    assert plan_resume(view, committed=100) == Resume(start=100, gap=(100, 106))


def test_a_finished_intent_is_no_reason_to_replay() -> None:
    view = StoreView(stored_max=149, intent=Intent(100, 149, 50), intent_rows_stored=50, stored_below_intent=99)
    assert plan_resume(view, committed=100) == Resume(start=150, commit=150)


def test_a_replay_flushes_only_once_it_holds_the_whole_range() -> None:
    state = State.resumed(0, Resume(start=10, phase=Phase.REPLAYING, replay=(10, 12)), committed=10)
    for offset in (10, 11):
        assert on_message(state, offset) is Verdict.TAKE
        take(state, offset, Msg(f"e{offset}"))
        assert not flush_due(state, now=1e9, batch_size=1, linger_s=0.0)
    take(state, 12, Msg("e12"))
    assert flush_due(state, now=0.0, batch_size=1, linger_s=1e9)
    steps = plan_flush(state, TOPIC, months={202601: 1}, dead_letters=0, dropped=2)
    assert not any(isinstance(s, WriteIntent) for s in steps)  # its intent is written already
    assert RecordLeaves(read_back=True) in steps
    flushed(state)
    assert state.phase is Phase.READING and state.replay is None


def test_a_round_flushes_every_partition_with_a_batch_once_one_is_due() -> None:
    full, partial, empty = State(0), State(1), State(2)
    for offset in range(3):
        take(full, offset, Msg(f"f{offset}"))
    take(partial, 0, Msg("p0"))
    states = [full, partial, empty]
    assert flush_round([partial, empty], now=0.0, batch_size=3, linger_s=1e9) == []  # none due: no round yet
    assert flush_round(states, now=0.0, batch_size=3, linger_s=1e9) == [full, partial]


def test_a_round_leaves_out_a_replay_that_is_not_whole_yet() -> None:
    due = State(0)
    for offset in range(3):
        take(due, offset, Msg(f"d{offset}"))
    replaying = State.resumed(1, Resume(start=10, phase=Phase.REPLAYING, replay=(10, 12)), committed=10)
    take(replaying, 10, Msg("r10"))
    assert flush_round([due, replaying], now=0.0, batch_size=3, linger_s=1e9) == [due]
    take(replaying, 11, Msg("r11"))
    take(replaying, 12, Msg("r12"))
    assert flush_round([due, replaying], now=0.0, batch_size=3, linger_s=1e9) == [due, replaying]


def test_a_message_past_the_replayed_range_flushes_it_first() -> None:
    state = State.resumed(0, Resume(start=10, phase=Phase.REPLAYING, replay=(10, 11)), committed=10)
    take(state, 10, Msg("a"))
    take(state, 11, Msg("b"))
    assert on_message(state, 12) is Verdict.FLUSH_FIRST


def test_messages_fetched_before_a_seek_back_are_stale() -> None:
    state = State(0, next_offset=20)
    assert on_message(state, 19) is Verdict.STALE


def test_an_abandoned_batch_is_read_again_as_the_same_range_once_its_intent_was_written() -> None:
    state = State(0)
    for offset in range(5, 9):
        take(state, offset, Msg(f"e{offset}"))
    assert abandoned(state, intent_written=True) == 5
    assert state.replay == (5, 8) and state.phase is Phase.REPLAYING and state.next_offset == 5
    for offset in range(5, 9):
        take(state, offset, Msg(f"e{offset}"))
    assert abandoned(state, intent_written=False) == 5


def test_an_abandoned_batch_then_recovered_stores_everything_once() -> None:
    """The store fails a batch past the write budget after its intent and one month: the batch is left,
    read again as the same range, and the months that landed are not written twice."""
    log = [Msg(f"e{n}", 202601 + n % 2) for n in range(6)]
    world = World(log)
    state = State.resumed(0, plan_resume(world.view(), world.committed), world.committed)
    for offset in range(6):
        take(state, offset, log[offset])
    months = {202601: [(o, log[o]) for o in (0, 2, 4)], 202602: [(o, log[o]) for o in (1, 3, 5)]}
    steps = plan_flush(state, TOPIC, months={m: len(r) for m, r in months.items()}, dead_letters=0, dropped=0)
    for step in itertools.islice(steps, 2):  # the intent and the first month, then the store fails
        execute(world, step, months)
    abandoned(state, intent_written=True)
    run(world, batch_size=100)
    assert_exactly_once(world)


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None
