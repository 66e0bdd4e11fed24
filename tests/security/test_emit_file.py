"""``pdtrail emit --file`` against generated bad JSON-lines files: every bad line, whatever its JSON type or
encoding, is rejected with its number, the good lines are all sent, the exit code is 1, never a traceback."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pdtrail._cli._jsonl import MAX_LINE_BYTES, read_lines
from pdtrail.config import Settings
from pdtrail.schemas import PersonalDataAccessed
from tests.conftest import cli_env
from tests.integration.helpers import read_topic
from tests.unit._factories import event_data

_no_newline = st.binary(min_size=1, max_size=40).map(lambda b: b.replace(b"\n", b" "))
# Every kind of bad line, as the bytes of the line (no newline of its own).
BAD_LINES: dict[str, st.SearchStrategy[bytes]] = {
    "null": st.just(b"null"),
    "array": st.lists(st.integers(), max_size=3).map(lambda v: json.dumps(v).encode()),
    "string": st.text(max_size=10).map(lambda v: json.dumps(v).encode()),
    "number": st.one_of(st.integers(), st.floats(allow_nan=False)).map(lambda v: json.dumps(v).encode()),
    "boolean": st.booleans().map(lambda v: json.dumps(v).encode()),
    "not_json": st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\n\r"), min_size=1)
    .map(str.encode)
    .filter(lambda b: b.strip() and not _is_json(b)),
    "not_utf8": _no_newline.map(lambda b: b'{"type": "' + b + b"\xff\xfe" + b'"}'),
    "bom": st.just(b"\xef\xbb\xbf" + json.dumps({"type": "personal_data.accessed"}).encode()),
    "nul": st.just(b'{"type": "personal_data.accessed"}\x00'),
    "deep": st.integers(5_000, 50_000).map(lambda n: b"[" * n + b"]" * n),
    "huge_int": st.integers(5_000, 20_000).map(lambda n: b'{"n": ' + b"9" * n + b"}"),
    "huge_line": st.just(b'{"resource": "' + b"x" * (MAX_LINE_BYTES + 10) + b'"}'),
    "invalid_event": st.just(json.dumps({"type": "personal_data.accessed", "self": 1, "[/red]": 2}).encode()),
    "unknown_type": st.sampled_from([b'{"type": null}', b'{"type": ["x"]}', b'{"type": "nope"}', b"{}"]),
}

# One of each, for the run that has them all at once.
EVERY_KIND: dict[str, bytes] = {
    "null": b"null",
    "array": b"[1, 2]",
    "string": b'"personal_data.accessed"',
    "number": b"-1.5e300",
    "boolean": b"true",
    "not_json": b"{not json",
    "not_utf8": b'{"type": "\xc3\x28"}',
    "bom": b"\xef\xbb\xbf{}",
    "nul": b"\x00",
    "deep": b"[" * 100_000 + b"]" * 100_000,
    "huge_int": b'{"n": ' + b"9" * 10_000 + b"}",
    "huge_line": b'{"resource": "' + b"x" * (4 * MAX_LINE_BYTES) + b'"}',
    "invalid_event": b'{"type": "personal_data.accessed", "self": 1, "[/red]": 2}',
    "unknown_type": b'{"type": ["x"]}',
}
assert set(EVERY_KIND) == set(BAD_LINES)


def _is_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return True


def good_line(n: int) -> bytes:
    data = event_data(PersonalDataAccessed, resource=f"customer-record/{n}")
    data["occurred_at"] = data["occurred_at"].isoformat()
    return json.dumps({"type": "personal_data.accessed", **data}).encode()


@st.composite
def jsonl_files(draw: st.DrawFn) -> tuple[bytes, list[int], dict[int, str]]:
    """(file, line numbers of good events, line number -> kind of each bad line), blank lines between."""
    kinds = draw(st.lists(st.sampled_from([*BAD_LINES, "good", "good", "blank"]), min_size=1, max_size=25))
    lines: list[bytes] = []
    good: list[int] = []
    bad: dict[int, str] = {}
    for number, kind in enumerate(kinds, start=1):
        if kind == "good":
            lines.append(good_line(number))
            good.append(number)
        elif kind == "blank":
            lines.append(draw(st.sampled_from([b"", b"   ", b"\t", b"\r"])))
        else:
            lines.append(draw(BAD_LINES[kind]))
            bad[number] = kind
    ending = draw(st.sampled_from([b"\n", b"\r\n"]))
    body = ending.join(lines) + draw(st.sampled_from([b"", ending]))
    return body, good, bad


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(jsonl_files())
def test_every_line_gets_its_own_verdict(file: tuple[bytes, list[int], dict[int, str]]) -> None:
    body, good, bad = file
    verdicts = list(read_lines(io.BytesIO(body)))
    events = [v.number for v in verdicts if v.event is not None]
    rejected = {v.number: v.rejected for v in verdicts if v.rejected is not None}
    # An event line is an object, so it reaches the SDK, which rejects invalid_event and unknown_type lines.
    sdk_judges = {n for n, kind in bad.items() if kind in ("invalid_event", "unknown_type")}
    assert events == sorted([*good, *sdk_judges])
    assert set(rejected) == set(bad) - sdk_judges
    for number, reason in rejected.items():
        assert reason and len(reason) < 120, (bad[number], reason)  # a reason, not the line's content


def run_emit(env: dict[str, str], path: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pdtrail", "emit", "--file", path, "--timeout", "30"],
        env=env, input=stdin.decode("latin-1") if stdin is not None else None,
        capture_output=True, text=True, timeout=180, encoding="latin-1",
    )  # fmt: skip


@pytest.fixture
def env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    from pdtrail.infra import ensure_topics

    ensure_topics(settings)
    return cli_env(settings, tmp_path / "home", tmp_path / "store")


def _check_run(done: subprocess.CompletedProcess[str], good: list[int], bad: dict[int, str]) -> None:
    assert "Traceback" not in done.stderr + done.stdout, done.stderr[-2000:]
    assert done.returncode == (1 if bad else 0), done.stdout[-2000:] + done.stderr[-2000:]
    reported = {int(line.split()[1].rstrip(":")) for line in done.stdout.splitlines() if line.startswith("line ")}
    assert reported == set(bad)
    assert f"emitted {len(good)}, delivered {len(good)}, failed 0, rejected {len(bad)}" in done.stdout


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
          HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(file=jsonl_files())
def test_pdtrail_emit_rejects_each_bad_line_and_sends_the_rest(
    env: dict[str, str], tmp_path: Path, file: tuple[bytes, list[int], dict[int, str]]
) -> None:
    body, good, bad = file
    path = tmp_path / "events.jsonl"
    path.write_bytes(body)
    _check_run(run_emit(env, str(path)), good, bad)


def test_every_kind_of_bad_line_at_once_from_a_file_and_from_stdin(
    env: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    """One line of each kind between good ones; then the same through standard input. The broker gets
    exactly the good lines, twice."""
    lines: list[bytes] = []
    good: list[int] = []
    bad: dict[int, Any] = {}
    for kind, example in EVERY_KIND.items():
        lines.append(good_line(len(lines) + 1))
        good.append(len(lines))
        lines.append(example)
        bad[len(lines)] = kind
    body = b"\n".join(lines) + b"\n"
    path = tmp_path / "every-kind.jsonl"
    path.write_bytes(body)
    _check_run(run_emit(env, str(path)), good, bad)
    _check_run(run_emit(env, "-", stdin=body), good, bad)
    assert len(read_topic(settings, settings.kafka.topic, expected=2 * len(good))) == 2 * len(good)


def test_a_file_that_cannot_be_read_is_an_error_not_a_traceback(env: dict[str, str], tmp_path: Path) -> None:
    done = run_emit(env, str(tmp_path / "missing.jsonl"))
    assert done.returncode == 2 and "cannot read" in done.stdout and "Traceback" not in done.stderr
