"""The fault-injection tier: each test plants a fault, then counts what was emitted, stored, doubled and
dead-lettered. Every test records its tally with ``fault_tally``; the tallies are printed as one table at
the end of the run (and written as JSON to ``$FAULTS_REPORT`` when set), so a run of this tier is
also the figure sheet of the closing note.

The longest runs carry ``@pytest.mark.slow``; CI runs them too unless ``-m "not slow"`` is given.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

import pytest


@dataclass
class FaultTally:
    fault: str
    emitted: int = 0
    stored: int = 0
    duplicated: int = 0
    dead_lettered: int = 0
    planted_poison: int = 0
    seconds: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)


_TALLIES: list[FaultTally] = []


class _Recorder:
    def record(self, fault: str, **figures: Any) -> FaultTally:
        known = {k: figures.pop(k) for k in list(figures) if k in FaultTally.__dataclass_fields__}
        tally = FaultTally(fault=fault, **known, detail=figures)
        _TALLIES.append(tally)
        return tally


@pytest.fixture
def fault_tally() -> _Recorder:
    """``fault_tally.record("consumer SIGKILL x10", emitted=…, stored=…, duplicated=…, dead_lettered=…)``."""
    return _Recorder()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _TALLIES:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fault tallies")
    width = max(len("fault"), *(len(t.fault) for t in _TALLIES))
    write(f"{'fault':<{width}} {'emitted':>9} {'stored':>9} {'doubled':>8} {'DLQ':>5} {'planted':>8} {'s':>7}")
    for t in _TALLIES:
        write(
            f"{t.fault:<{width}} {t.emitted:>9} {t.stored:>9} {t.duplicated:>8} {t.dead_lettered:>5}"
            f" {t.planted_poison:>8} {t.seconds:>7.1f}"
        )
    target = os.environ.get("FAULTS_REPORT")
    if target:
        with open(target, "w", encoding="utf-8") as out:
            json.dump([asdict(t) for t in _TALLIES], out, indent=2)
