"""A stand-in for clickhouse-connect's ``Client`` that records every call and the settings it sends.

For the store calls whose ClickHouse settings matter (cluster mode: quorum inserts, sequential
reads) and that no server here can check. It keeps the rows inserted per table and answers a
``SELECT <column> FROM <table>`` from them, which is all the callers tested with it read back;
any other query is answered by ``answers`` (SQL -> rows) or fails the test loudly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Call:
    kind: str  # "command", "query" or "insert"
    target: str  # the SQL, or the table of an insert
    settings: dict[str, Any]
    rows: list[Sequence[Any]] = field(default_factory=list)


@dataclass
class _Result:
    result_rows: list[tuple[Any, ...]]
    column_names: tuple[str, ...] = ()


class RecordingClient:
    def __init__(self, answers: Callable[[str], list[tuple[Any, ...]] | None] | None = None) -> None:
        self.calls: list[Call] = []
        self.tables: dict[str, list[dict[str, Any]]] = {}
        self._answers = answers or (lambda sql: None)

    def command(
        self, cmd: str, parameters: Any = None, data: Any = None, settings: Mapping[str, Any] | None = None
    ) -> Any:
        self.calls.append(Call("command", cmd, dict(settings or {})))
        exists = re.fullmatch(r"EXISTS TABLE (\w+)", cmd.strip(), re.I)
        if exists:
            return int(exists.group(1) in self.tables)
        return None

    def query(self, query: str, parameters: Any = None, settings: Mapping[str, Any] | None = None, **_: Any) -> _Result:
        self.calls.append(Call("query", query, dict(settings or {})))
        answered = self._answers(query)
        if answered is not None:
            return _Result(answered)
        simple = re.fullmatch(r"\s*SELECT\s+(\w+)\s+FROM\s+(\w+)\s*", query, re.I)
        assert simple, f"the recording client cannot answer {query!r}"
        column, table = simple.groups()
        return _Result([(row[column],) for row in self.tables.get(table, [])])

    def insert(
        self,
        table: str,
        data: Sequence[Sequence[Any]],
        column_names: Sequence[str] | str = "*",
        settings: Mapping[str, Any] | None = None,
        **_: Any,
    ) -> None:
        rows = [list(row) for row in data]
        self.calls.append(Call("insert", table, dict(settings or {}), rows))
        self.tables.setdefault(table, []).extend(dict(zip(column_names, row, strict=True)) for row in rows)

    def of(self, kind: str) -> list[Call]:
        return [call for call in self.calls if call.kind == kind]
