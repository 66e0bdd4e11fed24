"""The SQL files beside this module, and running them."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client

from pdtrail.integrity._checkpoint import Checkpoint


@cache
def sql(name: str) -> str:
    return (Path(__file__).parent / f"{name}.sql").read_text()


def rows(client: Client, name: str, **params: Any) -> list[dict[str, Any]]:
    result = client.query(sql(name), parameters=params)
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def checkpoints(client: Client, name: str = "checkpoints", **params: Any) -> Iterator[Checkpoint]:
    for row in rows(client, name, **params):
        row["root"], row["signature"] = str(row["root"]), str(row["signature"])
        yield Checkpoint.from_dict(row)
