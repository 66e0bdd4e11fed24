"""ClickHouse's own parser and catalogue of settings, via chDB, in a child process.

The unit tier opens no store; chDB keeps one engine per process, so the parser runs in a child
that opens nothing on disk and exits, and a later test in this process may still open its own store.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

_CHILD = r"""
import json, sys
import chdb

asks = json.load(sys.stdin)


def literal(text):
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def names(table, wanted):
    if not wanted:
        return []
    listed = ", ".join(literal(n) for n in wanted)
    rows = chdb.query(f"SELECT name FROM system.{table} WHERE name IN ({listed})", "JSONCompact").data()
    return [row[0] for row in json.loads(rows)["data"]]


formatted, errors = [], []
for statement in asks["statements"]:
    try:
        out = chdb.query(f"SELECT formatQuery({literal(statement)})", "JSONCompact").data()
        formatted.append(json.loads(out)["data"][0][0])
        errors.append(None)
    except Exception as exc:
        formatted.append(None)
        errors.append(str(exc).splitlines()[0])
json.dump(
    {
        "formatted": formatted,
        "errors": errors,
        "settings": names("settings", asks["settings"]),
        "merge_tree_settings": names("merge_tree_settings", asks["merge_tree_settings"]),
    },
    sys.stdout,
)
"""


@dataclass
class Parsed:
    formatted: list[str | None]  # ClickHouse's formatting of each statement; None if it does not parse
    errors: list[str | None]  # the parser's message for a statement that does not parse
    settings: set[str]  # which of the asked names are query settings of this ClickHouse
    merge_tree_settings: set[str]  # ...and which are MergeTree table settings


def parse(
    statements: Sequence[str], *, settings: Sequence[str] = (), merge_tree_settings: Sequence[str] = ()
) -> Parsed:
    asks = {
        "statements": list(statements),
        "settings": list(settings),
        "merge_tree_settings": list(merge_tree_settings),
    }
    done = subprocess.run(
        [sys.executable, "-c", _CHILD], input=json.dumps(asks), capture_output=True, text=True, timeout=120, check=True
    )
    answer = json.loads(done.stdout)
    return Parsed(answer["formatted"], answer["errors"], set(answer["settings"]), set(answer["merge_tree_settings"]))
