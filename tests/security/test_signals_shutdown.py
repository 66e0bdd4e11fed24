"""SIGTERM (a service manager, a container runtime) and SIGINT (Ctrl-C) stop the desk, `pdtrail serve`
and `pdtrail consume` the same clean way at any moment: exit 0, the owner file gone, and every stored
row covered by a signed checkpoint (the final one is written on the way out), so the log verifies to
its last row. The moments are drawn at random (the seed is in the test id) while events flow in."""

from __future__ import annotations

import json
import random
import signal
import threading
import time
from pathlib import Path

import pytest

from pdtrail.config import Settings
from pdtrail.producers import AuditEmitter
from pdtrail.simulate import simulate_company
from tests.security._processes import Running, Tokens, desk_answers, pdtrail, start, stop, wait_until

SIGNALS = {"SIGTERM": signal.SIGTERM, "SIGINT": signal.SIGINT}


@pytest.fixture
def flowing(settings: Settings) -> Settings:
    from pdtrail.infra import ensure_topics

    ensure_topics(settings)
    return settings


def _emit_while(settings: Settings, running: threading.Event, seed: int) -> threading.Thread:
    """Events keep arriving while the process runs, so a batch may be half-read when the signal comes."""

    def emit() -> None:
        journeys = list(simulate_company(30, seed=seed))
        with AuditEmitter(settings) as emitter:
            for _, event in journeys:
                if not running.is_set():
                    break
                emitter.emit(event)
                time.sleep(0.002)
            emitter.flush(30)

    thread = threading.Thread(target=emit, daemon=True)
    thread.start()
    return thread


def _owner_file(store: Path) -> Path:
    return store.parent / f"{store.name}.owner.json"


def _stored_and_covered(settings: Settings, home: Path, store: Path) -> dict[str, int]:
    # A signal may have come before the process applied the migrations: then nothing is stored yet.
    migrated = pdtrail(settings, home, store, "db", "migrate")
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    done = pdtrail(settings, home, store, "verify", "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    counts: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return counts


def _check_clean_stop(running: Running, settings: Settings, home: Path, store: Path, signum: int) -> None:
    code = stop(running, signum)
    assert code == 0, running.output()
    assert not _owner_file(store).exists(), "the owner file outlived its process"
    assert "Traceback" not in running.output()
    counts = _stored_and_covered(settings, home, store)
    assert counts["uncovered_rows"] == 0, counts  # the final checkpoint covers the last stored row
    if counts["rows"]:
        assert counts["checkpoints"] >= 1


@pytest.mark.parametrize("seed", [11, 12])
@pytest.mark.parametrize("name", list(SIGNALS))
def test_the_desk_stops_cleanly_on_a_signal_at_a_random_moment(
    flowing: Settings, tmp_path: Path, name: str, seed: int
) -> None:
    rng = random.Random(seed)
    tokens = Tokens.make()
    home, store = tmp_path / "home", tmp_path / "store"
    desk = start("desk", flowing, home, store, tmp_path / "desk.log", PDTRAIL_DESK__TOKENS=tokens.entries)
    running = threading.Event()
    running.set()
    emitter = _emit_while(flowing, running, seed)
    try:
        if rng.random() < 0.25:
            # Early: the store may be opening, the owner file being written, the server not yet up.
            time.sleep(rng.uniform(0.0, 2.0))
        else:
            desk_answers(desk, tokens)
            wait_until(lambda: _owner_file(store).exists(), "the desk owns the store", desk)
            time.sleep(rng.uniform(0.0, 3.0))  # a random moment while it serves and consumes
        _check_clean_stop(desk, flowing, home, store, SIGNALS[name])
    finally:
        running.clear()
        emitter.join(60)
        stop(desk, signal.SIGKILL)


@pytest.mark.parametrize(("command", "name"), [("serve", "SIGTERM"), ("serve", "SIGINT"), ("consume", "SIGTERM"),
                                               ("consume", "SIGINT")])  # fmt: skip
def test_serve_and_consume_stop_the_same_way(flowing: Settings, tmp_path: Path, command: str, name: str) -> None:
    rng = random.Random(f"{command}{name}")
    home, store = tmp_path / "home", tmp_path / "store"
    running = threading.Event()
    running.set()
    emitter = _emit_while(flowing, running, 5)
    process = start(command, flowing, home, store, tmp_path / f"{command}.log")
    try:
        if command == "serve":
            wait_until(lambda: _owner_file(store).exists(), "serve owns the store", process)
        else:
            wait_until(lambda: (store / "status").exists(), "consume has opened the store", process)
        time.sleep(rng.uniform(0.5, 3.0))
        _check_clean_stop(process, flowing, home, store, SIGNALS[name])
    finally:
        running.clear()
        emitter.join(60)
        stop(process, signal.SIGKILL)
