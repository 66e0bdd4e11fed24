"""One Art. 12(3) deadline rule in two places: the late-answer finding computes it in SQL, the desk's case
list in Python. Both are held to the same answers over generated receipts and extensions, month ends,
leap days and extensions a microsecond either side of the first month's end.

The SQL side is the very expression of ``finding_late_answer.sql``, evaluated by the engine (chDB, in a
child process: the unit tier opens no store in its own).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import subprocess
import sys

from pdtrail.queries import add_months, deadline
from pdtrail.queries._runner import SQL_DIR

UTC = dt.UTC
_EXPRESSION = re.compile(r"(if\(a\.extended AND .*?\)\)) AS deadline", re.DOTALL)

_CHILD = r"""
import json, sys
import chdb
print(chdb.query(sys.stdin.read(), "JSONCompact").data())
"""


def _sql_deadline_expression() -> str:
    found = _EXPRESSION.search((SQL_DIR / "finding_late_answer.sql").read_text())
    assert found, "finding_late_answer.sql no longer computes `... AS deadline` as this test expects"
    return (
        found.group(1)
        .replace("a.extended_at", "extended_at")
        .replace("a.extended", "extended")
        .replace("r.occurred_at", "received")
    )


def _cases(seed: int, n: int) -> list[tuple[dt.datetime, dt.datetime | None]]:
    rng = random.Random(seed)
    cases: list[tuple[dt.datetime, dt.datetime | None]] = []
    for _ in range(n):
        year = rng.choice([2023, 2024, 2025, 2026, 2027, 2028, 2100])  # leap, common, and 2100 (not leap)
        month = rng.randint(1, 12)
        day = rng.choice([1, 15, 28, 29, 30, 31]) if rng.random() < 0.8 else rng.randint(1, 31)
        while True:
            try:
                received = dt.datetime(year, month, day, rng.randint(0, 23), rng.randint(0, 59), tzinfo=UTC)
                break
            except ValueError:
                day -= 1
        received = received.replace(
            second=rng.randint(0, 59), microsecond=rng.choice([0, 1, 999999, rng.randint(0, 999999)])
        )
        first = add_months(received, 1)
        choice = rng.randrange(5)
        extended_at = {
            0: None,
            1: first,  # on the deadline itself
            2: first + dt.timedelta(microseconds=1),  # a microsecond late
            3: first - dt.timedelta(microseconds=1),
            4: received + dt.timedelta(seconds=rng.randint(0, 80 * 86400)),
        }[choice]
        cases.append((received, extended_at))
    return cases


def _engine_deadlines(cases: list[tuple[dt.datetime, dt.datetime | None]]) -> list[str]:
    def literal(moment: dt.datetime | None) -> str:
        return f"'{(moment or dt.datetime(1970, 1, 1, tzinfo=UTC)).strftime('%Y-%m-%d %H:%M:%S.%f')}'"

    rows = ", ".join(f"({i}, {literal(r)}, {int(e is not None)}, {literal(e)})" for i, (r, e) in enumerate(cases))
    sql = (
        f"SELECT formatDateTime({_sql_deadline_expression()}, '%Y-%m-%d %H:%i:%S.%f', 'UTC') FROM values("
        "'i UInt32, received DateTime64(6, \\'UTC\\'), extended Bool, extended_at DateTime64(6, \\'UTC\\')', "
        f"{rows}) ORDER BY i"
    )
    out = subprocess.run([sys.executable, "-c", _CHILD], input=sql, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return [row[0] for row in json.loads(out.stdout)["data"]]


def test_the_findings_sql_and_the_case_list_give_every_request_the_same_deadline() -> None:
    cases = _cases(seed=12, n=3000)
    engine = _engine_deadlines(cases)
    assert len(engine) == len(cases)
    disagreements = [
        (received.isoformat(), extended.isoformat() if extended else None, sql, python)
        for (received, extended), sql in zip(cases, engine, strict=True)
        if sql != (python := deadline(received, extended).strftime("%Y-%m-%d %H:%M:%S.%f"))
    ]
    assert not disagreements, disagreements[:10]


def test_the_generated_cases_reach_the_edges_that_matter() -> None:
    # The comparison above is only as good as its cases: month ends that clamp, and both sides of the
    # extension's cut-off, must be among them.
    cases = _cases(seed=12, n=3000)
    assert any(r.day == 31 and add_months(r, 1).day < 31 for r, _ in cases)
    assert any(r.month == 1 and r.day >= 29 and r.year == 2024 for r, _ in cases)  # to 29 February
    assert any(e == add_months(r, 1) for r, e in cases)
    assert any(e is not None and e == add_months(r, 1) + dt.timedelta(microseconds=1) for r, e in cases)
