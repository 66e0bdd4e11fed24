"""The SDK's on-disk spool, and the emitter's use of it when no broker answers (no broker runs here)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pdtrail.config import load_settings
from pdtrail.producers import AuditEmitter, SpoolFullError
from pdtrail.producers._spool import Spool
from pdtrail.simulate import simulate_company

from ._factories import SECRET_V2


def test_events_come_back_in_the_order_they_went_in(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10_000)
    for n in range(5):
        spool.append(n, f"k{n % 2}".encode(), f"v{n}".encode(), [("h", b"\x00\xff"), ("t", "text")], f"id-{n}")
    assert spool.depth == 5 and spool.size_bytes == 5 * 4
    head = spool.head(3)
    assert [h.value for h in head] == [b"v0", b"v1", b"v2"]
    assert head[0].headers == [("h", b"\x00\xff"), ("t", b"text")] and head[0].key == b"k0"
    spool.remove([head[0].seq, head[2].seq])
    assert [h.event_id for h in spool.head(10)] == ["id-1", "id-3", "id-4"]
    assert spool.depth == 3 and spool.size_bytes == 12


def test_events_come_back_in_emit_order_whatever_order_they_arrived_in(tmp_path: Path) -> None:
    """An older event that timed out in librdkafka reaches the spool after newer ones went there directly."""
    spool = Spool(tmp_path, max_bytes=10_000)
    for n in (3, 4, 1, 5, 2):
        spool.append(n, b"k", f"v{n}".encode(), [], f"id-{n}")
    assert [h.event_id for h in spool.head(10)] == ["id-1", "id-2", "id-3", "id-4", "id-5"]


def test_the_bound_counts_bytes_but_never_refuses_into_an_empty_spool(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10)
    assert spool.has_room(1000)  # one event larger than the bound still fits an empty spool
    spool.append(1, b"k", b"123456789", [], "a")
    assert not spool.has_room(1) and spool.size_bytes == 10
    spool.remove([spool.head(1)[0].seq])
    assert spool.has_room(10)


def test_two_live_spools_never_share_a_file(tmp_path: Path) -> None:
    first, second = Spool(tmp_path, 100), Spool(tmp_path, 100)
    assert first.path != second.path
    first.append(1, None, b"x", [], "a")
    assert second.depth == 0


def test_a_dead_process_spool_is_adopted_with_its_events(tmp_path: Path) -> None:
    """The owner is SIGKILLed with events in its spool: the next spool in that directory takes them over."""
    code = (
        "import os, signal, sys; from pathlib import Path; from pdtrail.producers._spool import Spool;"
        f"s = Spool(Path({str(tmp_path)!r}), 10_000);"
        "[s.append(n, b'k', f'v{n}'.encode(), [], f'id-{n}') for n in range(3)];"
        "print('spooled', flush=True); os.kill(os.getpid(), signal.SIGKILL)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == -9 and "spooled" in done.stdout
    adopted = Spool(tmp_path, 10_000)
    assert [h.event_id for h in adopted.head(10)] == ["id-0", "id-1", "id-2"]
    assert adopted.first_free_number == 3  # the new process's events number on after the old ones


def test_a_closed_spool_is_free_for_the_next_emitter(tmp_path: Path) -> None:
    first = Spool(tmp_path, 100)
    first.append(1, b"k", b"v", [], "a")
    path = first.path
    first.close()
    again = Spool(tmp_path, 100)
    assert again.path == path and again.depth == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_claims_a_spool_of_its_own(tmp_path: Path) -> None:
    parent = Spool(tmp_path, 100)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a new Spool must not take the parent's locked file
        child = Spool(tmp_path, 100)
        os.write(write, str(child.path).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 1000).decode() != str(parent.path)


# ---- the emitter with nobody to talk to ---------------------------------------------------------------------


def _settings(tmp_path: Path, **emitter: Any) -> Any:
    # Port 9 on loopback refuses connections: librdkafka retries until the delivery timeout, then spools.
    return load_settings(
        home=tmp_path,
        kafka={"bootstrap_servers": "127.0.0.1:9"},
        pseudonym={"secret": SECRET_V2.decode()},
        emitter={"delivery_timeout_s": 1.0, **emitter},
    )


@contextlib.contextmanager
def quick_close(audit: AuditEmitter) -> Iterator[AuditEmitter]:
    """close() waits its timeout for the spool to drain; with no broker it never does."""
    try:
        yield audit
    finally:
        audit.close(timeout=0.2)


def _events(n: int) -> list[Any]:
    return [e for _, e in simulate_company(20, seed=4)][:n]


def test_undeliverable_events_go_to_the_spool_in_order_and_emit_never_waits(tmp_path: Path) -> None:
    events = _events(30)
    with quick_close(AuditEmitter(_settings(tmp_path))) as audit:
        slowest = 0.0
        for event in events[:10]:
            started = time.perf_counter()
            audit.emit(event)
            slowest = max(slowest, time.perf_counter() - started)
        deadline = time.monotonic() + 20
        while audit.stats.spooled < 10 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert audit.stats.spooled == 10 and audit.stats.failed == 0
        for event in events[10:]:  # the spool is not empty: these queue behind on disk at once
            audit.emit(event)
        assert audit.stats.spooled == 30 and audit.stats.pending == 0
    spool = Spool(tmp_path / "spool", 1 << 20)  # closed: the emitter's file is free to adopt
    assert [h.event_id for h in spool.head(100)] == [str(e.event_id) for e in events]
    # Spooled by librdkafka's failure report (the first ten) or at once (the rest): each with its type header.
    assert [h.headers for h in spool.head(100)] == [[("pdtrail-event-type", e.type.encode())] for e in events]


def test_a_spooled_event_on_its_way_out_again_counts_once_as_spooled_not_also_as_pending(tmp_path: Path) -> None:
    """The replayer hands spooled rows to librdkafka while they stay on disk until confirmed: counting
    librdkafka's queue as pending would count them twice (and flush() would report them twice)."""
    events = _events(10)
    with quick_close(AuditEmitter(_settings(tmp_path))) as audit:
        for event in events:
            audit.emit(event)
        deadline = time.monotonic() + 20
        while audit.stats.spooled < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        replaying = 0
        while replaying < 10 and time.monotonic() < deadline:  # the replayer's next try, about 1 s long
            replaying = len(audit._producer)
            time.sleep(0.01)
        assert replaying >= 10, "the replayer never handed the spool to librdkafka"
        assert audit.stats.pending == 0 and audit.stats.spooled == 10
        assert audit.flush(timeout=0.1) == 10


def test_close_moves_what_librdkafka_still_holds_to_the_spool(tmp_path: Path) -> None:
    events = _events(5)
    audit = AuditEmitter(_settings(tmp_path, delivery_timeout_s=300.0))
    for event in events:
        audit.emit(event)
    assert audit.stats.spooled == 0  # still in librdkafka's memory, which a crash would lose
    left = audit.close(timeout=0.5)
    assert left == 5
    assert Spool(tmp_path / "spool", 1 << 20).depth == 5


def test_persist_puts_what_librdkafka_holds_on_disk_and_says_nothing_is_left(tmp_path: Path) -> None:
    """What a lookup waits for (the desk and the CLI): every accepted event delivered or on disk."""
    events = _events(5)
    with quick_close(AuditEmitter(_settings(tmp_path, delivery_timeout_s=300.0))) as audit:
        for event in events:
            audit.emit(event)
        assert audit.stats.pending == 5 and audit.stats.spooled == 0
        assert audit.persist(timeout=0.2) == 0
        assert audit.stats.pending == 0 and audit.stats.spooled == 5


def test_a_full_spool_raises_under_the_raise_policy_and_keeps_the_rest(tmp_path: Path) -> None:
    events = _events(10)
    settings = _settings(tmp_path, spool_max_bytes=600, spool_full_policy="raise")
    with quick_close(AuditEmitter(settings)) as audit:
        audit.emit(events[0])
        deadline = time.monotonic() + 20
        while audit.stats.spooled < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        accepted, refused = 1, 0
        for event in events[1:]:
            try:
                audit.emit(event)
                accepted += 1
            except SpoolFullError as exc:
                refused += 1
                assert exc.max_bytes == 600 and exc.spooled >= 1
        assert refused > 0 and audit.stats.spooled == accepted == audit.stats.emitted


def test_a_full_spool_blocks_then_raises_under_the_block_policy(tmp_path: Path) -> None:
    events = _events(10)
    settings = _settings(tmp_path, spool_max_bytes=300, spool_full_policy="block", spool_block_timeout_s=0.3)
    with quick_close(AuditEmitter(settings)) as audit:
        audit.emit(events[0])
        deadline = time.monotonic() + 20
        while audit.stats.spooled < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        started = time.perf_counter()
        with pytest.raises(SpoolFullError) as info:
            for event in events[1:]:
                audit.emit(event)
        assert info.value.waited_s >= 0.3
        assert time.perf_counter() - started >= 0.3


def test_the_spool_depth_is_a_prometheus_metric(tmp_path: Path) -> None:
    from prometheus_client import REGISTRY

    def depth() -> float:
        return REGISTRY.get_sample_value("pdtrail_emitter_spool_depth") or 0.0

    before = depth()
    with quick_close(AuditEmitter(_settings(tmp_path))) as audit:
        for event in _events(4):
            audit.emit(event)
        deadline = time.monotonic() + 20
        while audit.stats.spooled < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert depth() == before + 4
        assert (REGISTRY.get_sample_value("pdtrail_emitter_emitted_total") or 0) >= 4
    assert depth() == before  # a closed emitter is no longer counted
