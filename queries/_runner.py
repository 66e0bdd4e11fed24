"""Running the named ``.sql`` files of this package, locally or through the store's owner process.

Only the queries shipped here can run, and only with server-side parameters: a value never becomes
part of the SQL text.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from pdtrail.queries.exceptions import QueryError, StoreUnavailableError

SQL_DIR = Path(__file__).parent


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]] = field(default_factory=list)

    def as_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


class QueryBackend(Protocol):
    """Something that runs a named query: the store itself, or the process that owns it."""

    def run(self, name: str, params: Mapping[str, Any]) -> QueryResult: ...


# A findings query written for some subjects (``subject_key IN {subject_keys:Array(String)}``, which the
# primary key serves) also runs over every subject as ``<name>@all``, with that condition made true. One condition
# "empty(keys) OR subject_key IN keys" would do both, but it keeps ClickHouse from reading the subject's
# rows first (measured at 300k rows: 24 ms against 7 ms per subject).
ALL_SUBJECTS = "@all"
_SUBJECT_FILTER = re.compile(r"\b(?:\w+\.)?subject_key IN \{subject_keys:Array\(String\)\}")


# One person's rows for the per-subject findings: every key of the linked set (and every key version) is
# read as the one key ``person_key``, so a consent withdrawn under the e-mail and marketing sent under the
# personnummer meet in the same join, as one subject's history.
# (Filtered in an inner query: the engine lets WHERE see SELECT's aliases, so beside the REPLACE the filter
# would read the replaced key and keep every row.)
_ONE_PERSON = (
    "(SELECT * REPLACE (toFixedString({person_key:String}, 64) AS subject_key) "
    "FROM (SELECT * FROM events WHERE subject_key IN {subject_keys:Array(String)}))"
)
# A page from the log's start that also carries the searched keys' identity links: ``<name>@links`` returns
# the query's own columns, then LINK_COLUMNS, and besides the query's rows the link and unlink events of
# the keys before the period's end (``{link_types:Array(String)}``). When the answer is shorter than its
# limit it holds every such link, so SubjectLineage walks the links from it and, for a subject whose keys
# link to no other, answers in one statement instead of two (a read of the links, then the page).
WITH_LINKS = "@links"
LINK_COLUMNS = ("link_subject_key", "link_subject_kind", "link_event_type", "link_key", "link_kind")
_HIDDEN = (
    ",\n    subject_key AS link_subject_key, subject_kind AS link_subject_kind, event_type AS link_event_type,"
    "\n    reference AS link_key, action AS link_kind\nFROM events\n"
)
# The page queries that have a form with links, and the event filter that form widens to the link events.
_LINKED_PAGES = {
    "person_rows": None,
    "timeline": None,
    "who_accessed": "  AND event_type = 'personal_data.accessed'\n",
}


def _finding_files() -> list[str]:
    return sorted(p.stem for p in SQL_DIR.glob("finding_*.sql"))


def query_names() -> list[str]:
    names = sorted(p.stem for p in SQL_DIR.glob("*.sql"))
    whole_log = [n for n in _finding_files() if _SUBJECT_FILTER.search((SQL_DIR / f"{n}.sql").read_text())]
    return [
        *names,
        *(f"{n}{ALL_SUBJECTS}" for n in whole_log),
        *(f"{n}{WITH_LINKS}" for n in _LINKED_PAGES),
    ]


@cache
def load_sql(name: str) -> str:
    if name not in query_names():
        raise QueryError(f"no query named {name!r}; known: {', '.join(query_names())}")
    if name.endswith(WITH_LINKS):
        return _with_links_sql(name.removesuffix(WITH_LINKS))
    base = name.removesuffix(ALL_SUBJECTS)
    sql = (SQL_DIR / f"{base}.sql").read_text()
    if name.endswith(ALL_SUBJECTS):
        return _SUBJECT_FILTER.sub("1 = 1", sql)
    if name.startswith("finding_"):
        return re.sub(r"\bFROM events\b", f"FROM {_ONE_PERSON}", sql)
    return sql


def linked_pages() -> dict[str, bool]:
    """The page queries with a form with links, each saying whether link events are rows of its own answer."""
    return {name: own_filter is None for name, own_filter in _LINKED_PAGES.items()}


def _with_links_sql(name: str) -> str:
    sql = (SQL_DIR / f"{name}.sql").read_text()
    own_filter = _LINKED_PAGES[name]
    widened = sql.replace("\nFROM events\n", _HIDDEN, 1)
    if own_filter is not None:
        kept = own_filter.strip().removeprefix("AND ")
        widened = widened.replace(own_filter, f"  AND ({kept} OR event_type IN {{link_types:Array(String)}})\n", 1)
    if widened.count("link_subject_key") != 1 or (own_filter is not None and own_filter in widened):
        raise QueryError(f"{name}.sql no longer has the shape its form with links is made from")
    return widened


class LocalQueries:
    """Runs queries on a clickhouse-connect client (``chdb://`` or ``http(s)://``)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def run(self, name: str, params: Mapping[str, Any]) -> QueryResult:
        try:
            result = self.client.query(load_sql(name), parameters=dict(params))
        except ClickHouseError as exc:
            if "UNKNOWN_TABLE" in str(exc):
                raise QueryError(
                    "the store has no pdtrail tables yet: run `pdtrail db migrate` or consume first"
                ) from None
            raise QueryError(f"query {name} failed: {str(exc).splitlines()[0][:500]}") from None
        types = [t.name for t in result.column_types]
        return QueryResult(list(result.column_names), types, _with_zones(result.result_rows, types))


def _with_zones(rows: Any, types: list[str]) -> list[tuple[Any, ...]]:
    """The rows as tuples, each time in UTC: only the columns that can hold one are looked at (a timeline
    page is ~2,600 values, of which ~100 times)."""
    stamps = [i for i, name in enumerate(types) if any(t in name for t in _MAY_HOLD_TIMES)]
    if not stamps:
        return [tuple(row) for row in rows]
    out = []
    for row in rows:
        values = list(row)
        for i in stamps:
            values[i] = _utc(values[i])
        out.append(tuple(values))
    return out


# Column types whose values may be a datetime (the others never are).
_MAY_HOLD_TIMES = ("DateTime", "Dynamic", "Variant", "Object", "JSON")


def _utc(value: Any) -> Any:
    # Every time column of the log is UTC; chDB hands some back without the zone.
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


# JSON transport for RemoteQueries: values go out as text and come back typed by column type.
def to_json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):  # FixedString (the subject key, hex) comes back from chDB as bytes
        return value.decode("utf-8", "replace")
    if isinstance(value, tuple | list):
        return [to_json_value(v) for v in value]
    return value


def _from_json_value(type_name: str, value: Any) -> Any:
    if value is None:
        return None
    if type_name.startswith("DateTime"):
        return dt.datetime.fromisoformat(value)
    if type_name == "UUID":
        return uuid.UUID(value)
    return value


class RemoteQueries:
    """Asks the long-lived process that owns an embedded store (``pdtrail serve``) to run queries."""

    def __init__(self, url: str, token: str, timeout_s: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self.timeout_s = timeout_s

    def run(self, name: str, params: Mapping[str, Any]) -> QueryResult:
        body = json.dumps({"params": {k: to_json_value(v) for k, v in params.items()}}).encode()
        request = urllib.request.Request(
            f"{self.url}/v1/query/{name}",
            data=body,
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                payload = json.load(response)
        except urllib.error.HTTPError as exc:
            detail = json.loads(exc.read() or b"{}").get("error", exc.reason)
            raise QueryError(f"query {name} failed in the store owner: {detail}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise StoreUnavailableError(f"the store owner at {self.url} did not answer: {exc}") from None
        types = payload["types"]
        rows = [tuple(_from_json_value(t, v) for t, v in zip(types, row, strict=True)) for row in payload["rows"]]
        return QueryResult(payload["columns"], types, rows)
