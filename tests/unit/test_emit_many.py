"""emit_many() and the emitter's counters, with no broker to talk to (nothing is confirmed here)."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from pdtrail.config import load_settings
from pdtrail.producers import AuditEmitter, InvalidEventError
from pdtrail.producers._metrics import Tally
from pdtrail.simulate import simulate_company

from ._factories import SECRET_V2

EVENTS = [e for _, e in itertools.islice(simulate_company(30, seed=8), 40)]


def _emitter(tmp_path: Path) -> AuditEmitter:
    # Port 9 on loopback refuses connections: events stay pending in librdkafka for the delivery timeout.
    return AuditEmitter(
        load_settings(
            home=tmp_path,
            kafka={"bootstrap_servers": "127.0.0.1:9"},
            pseudonym={"secret": SECRET_V2.decode()},
            emitter={"delivery_timeout_s": 300.0, "spool_max_bytes": 0},
        )
    )


def _invalid(event: Any) -> dict[str, Any]:
    data = event.model_dump(exclude={"register_version"})
    data["subject"] = {"kind": event.subject.kind.value, "value": event.subject.value.get_secret_value()}
    data["purpose"] = "profiling.scoring"
    return data


def test_emit_many_queues_the_batch_in_order_and_returns_the_ids(tmp_path: Path) -> None:
    audit = _emitter(tmp_path)
    try:
        ids = audit.emit_many(EVENTS[:25])
        assert ids == [e.event_id for e in EVENTS[:25]]
        assert audit.stats.emitted == 25 and audit.stats.pending == 25
    finally:
        audit.close(timeout=0)


def test_an_invalid_event_stops_the_batch_before_anything_is_sent(tmp_path: Path) -> None:
    audit = _emitter(tmp_path)
    try:
        batch: list[Any] = [*EVENTS[:5], _invalid(EVENTS[5]), *EVENTS[6:10]]
        with pytest.raises(InvalidEventError) as info:
            audit.emit_many(batch)
        assert info.value.field == "purpose"
        assert audit.stats.emitted == 0 and audit.stats.pending == 0
    finally:
        audit.close(timeout=0)


def test_with_on_invalid_the_invalid_ones_are_told_by_index_and_the_rest_sent(tmp_path: Path) -> None:
    audit = _emitter(tmp_path)
    try:
        batch: list[Any] = [*EVENTS[:3], _invalid(EVENTS[3]), EVENTS[4], _invalid(EVENTS[5])]
        told: list[tuple[int, str]] = []
        ids = audit.emit_many(batch, on_invalid=lambda i, exc: told.append((i, exc.field)))
        assert told == [(3, "purpose"), (5, "purpose")]
        assert ids == [e.event_id for e in (*EVENTS[:3], EVENTS[4])]
        assert audit.stats.emitted == 4 and audit.stats.pending == 4
    finally:
        audit.close(timeout=0)


def test_the_prometheus_counters_keep_what_a_closed_emitter_counted(tmp_path: Path) -> None:
    from prometheus_client import REGISTRY

    def emitted() -> float:
        return REGISTRY.get_sample_value("pdtrail_emitter_emitted_total") or 0.0

    audit = _emitter(tmp_path / "a")
    audit.emit_many(EVENTS[:7])
    during = emitted()
    audit.close(timeout=0)
    assert emitted() == during  # no reset when an emitter goes
    second = _emitter(tmp_path / "b")
    try:
        second.emit(EVENTS[0])
        assert emitted() == during + 1
    finally:
        second.close(timeout=0)


def test_a_tally_loses_no_count_across_threads_and_never_goes_down() -> None:
    tally = Tally()
    seen: list[int] = []

    def count() -> None:
        for _ in range(20_000):
            tally.add()

    def watch() -> None:
        for _ in range(200):
            seen.append(tally.value)

    threads = [threading.Thread(target=count) for _ in range(4)] + [threading.Thread(target=watch)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert tally.value == 80_000  # the counting threads ended: their counts were folded in, none lost
    assert seen == sorted(seen)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_emits_through_a_producer_and_counters_of_its_own(tmp_path: Path) -> None:
    audit = _emitter(tmp_path)
    try:
        audit.emit_many(EVENTS[:3])
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: the parent's three are not its own to count or confirm
            try:
                audit.emit(EVENTS[3])
                stats = audit.stats
                os.write(write, f"{stats.emitted} {stats.pending} {audit._pid == os.getpid()}".encode())
            finally:
                os._exit(0)
        os.close(write)
        answer = _read_with_deadline(read, pid, seconds=60)
        # A child that hangs is killed and fails the test: destroying the producer copy it inherited used to
        # wait forever on a lock of the parent's librdkafka threads.
        assert answer is not None, "the forked child did not answer within 60 s"
        assert answer == "1 1 True"
        assert audit.stats.emitted == 3 and audit.stats.pending == 3  # the parent's, unchanged
    finally:
        audit.close(timeout=0)


def _read_with_deadline(fd: int, pid: int, *, seconds: float) -> str | None:
    """The child's answer, or None (the child killed) if it gave none within ``seconds``."""
    import select
    import signal

    # poll, not select: by the time this runs the suite's process may hold more than 1024 descriptors,
    # which select() cannot watch.
    watch = select.poll()
    watch.register(fd, select.POLLIN)
    if not watch.poll(seconds * 1000):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return None
    answer = os.read(fd, 100).decode()
    os.waitpid(pid, 0)
    return answer


_FORK_AND_EXIT = textwrap.dedent(
    """
    import os, sys
    from pdtrail.config import load_settings
    from pdtrail.producers import AuditEmitter
    from pdtrail.simulate import simulate_company
    events = [e for _, (_, e) in zip(range(4), simulate_company(5, seed=3))]
    audit = AuditEmitter(load_settings(home=sys.argv[1], kafka={"bootstrap_servers": "127.0.0.1:9"},
                                       pseudonym={"secret": sys.argv[2]},
                                       emitter={"delivery_timeout_s": 1.0, "spool_max_bytes": 0}))
    audit.emit_many(events[:3])
    pid = os.fork()
    if pid == 0:
        audit.emit(events[3])
        sys.exit(0)  # the way a worker ends: atexit handlers, then the interpreter's own teardown
    _, status = os.waitpid(pid, 0)
    print("child exit", os.waitstatus_to_exitcode(status))
    """
)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_that_exits_normally_does_not_hang_on_the_producer_it_inherited(tmp_path: Path) -> None:
    # A process of its own: the interpreter's teardown in the child is what is tested, and pytest's
    # process must not fork with its own threads about.
    done = subprocess.run(
        [sys.executable, "-c", _FORK_AND_EXIT, str(tmp_path), SECRET_V2.decode()],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "child exit 0" in done.stdout, done.stderr[-2000:]
