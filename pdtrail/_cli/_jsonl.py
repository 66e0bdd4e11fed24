"""Reading a JSON-lines file of events, line by line, whatever it holds.

Every line is its own verdict: an object to emit, or a reason it is not one (not UTF-8, a byte-order
mark, a NUL byte, longer than :data:`MAX_LINE_BYTES`, not JSON, JSON that is not an object). A bad line
never stops the lines after it, and nothing of a bad line's content is repeated in its reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

# An event is a few hundred bytes; the consumer dead-letters one above 1 MiB (consumer.max_event_bytes).
MAX_LINE_BYTES = 1024 * 1024
_BOM = b"\xef\xbb\xbf"
_JSON_TYPES = {type(None): "null", bool: "a boolean", int: "a number", float: "a number", str: "a string",
               list: "an array"}  # fmt: skip


@dataclass(frozen=True)
class Line:
    """Line ``number`` (1-based): ``event`` to emit, or ``rejected`` saying why not."""

    number: int
    event: dict[str, Any] | None = None
    rejected: str | None = None


def _verdict(number: int, raw: bytes) -> Line:
    if raw.startswith(_BOM):
        return Line(number, rejected="starts with a byte-order mark (save the file as UTF-8 without one)")
    if b"\x00" in raw:
        return Line(number, rejected="holds a NUL byte")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Line(number, rejected=f"not UTF-8 (byte {exc.start + 1} of the line)")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return Line(number, rejected=f"not JSON ({exc.msg} at column {exc.colno})")
    except RecursionError:
        return Line(number, rejected="not JSON this reader takes (nested too deeply)")
    except ValueError as exc:  # e.g. an integer longer than Python converts
        return Line(number, rejected=f"not JSON this reader takes ({str(exc).split(':')[0]})")
    if not isinstance(value, dict):
        return Line(number, rejected=f"is {_JSON_TYPES.get(type(value), 'not an object')}, not a JSON object")
    return Line(number, event=value)


def read_lines(source: BinaryIO) -> Iterator[Line]:
    """Every non-blank line of ``source`` with its verdict. A line longer than :data:`MAX_LINE_BYTES` is
    rejected without being held in memory whole: the rest of it is read and dropped in bounded pieces."""
    number = 0
    while True:
        raw = source.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                raw = source.readline(MAX_LINE_BYTES)
            yield Line(number, rejected=f"longer than {MAX_LINE_BYTES:,} bytes")
            continue
        if raw.strip():
            yield _verdict(number, raw)
