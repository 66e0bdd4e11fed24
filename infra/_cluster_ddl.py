"""Cluster mode of the store: the migrations as written, rendered for a ClickHouse cluster.

The ``.sql`` migrations are written once, for one server. With ``store.cluster`` set, each statement is
rewritten here before it runs, so a new migration needs no cluster variant of its own:

* ``CREATE TABLE x (...) ENGINE = <Kind>MergeTree ...`` becomes two tables, both ``ON CLUSTER``:
  ``x_local``, ``Replicated<Kind>MergeTree`` on every replica of every shard with the same columns,
  keys and settings; and ``x``, a ``Distributed`` table over ``x_local``. Every query, insert and the
  consumer keep using the name ``x``, so they run unchanged.
* The sharding key is ``cityHash64`` of the first column of the table's ``ORDER BY`` (``subject_key``
  for ``events``: one subject's rows live on one shard, and a lookup by subject asks that shard), or
  :data:`DEFAULT_SHARDING_KEYS`, or ``store.sharding_keys[x]``. It is never random: a retried insert
  must reach the shard that may already hold it, or its deduplication token cannot drop it.
* A table deduplicated on one server (``non_replicated_deduplication_window``) is deduplicated across
  the replicas (``replicated_deduplication_window``, same count, for ``store.dedup_window_s``); a
  table that is not, is not (window 0), so every table behaves as it does on one server.
* ``ALTER TABLE x`` runs on ``x_local`` and — for column changes, the only ones a ``Distributed``
  table takes — on ``x`` after it. ``DROP TABLE x`` drops both; ``INSERT`` runs unchanged (through
  ``x``).
* Anything else raises :class:`ClusterDdlError` naming the statement, so a migration never lands on
  one node of a cluster by accident.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from pdtrail.config import Settings
from pdtrail.errors import ConfigError, PdtrailError
from pdtrail.store._consistency import SettingValue, consistency_settings

LOCAL_SUFFIX = "_local"
_NAME = r"`?(?P<name>[A-Za-z_][A-Za-z0-9_]*)`?"
_CREATE = re.compile(r"CREATE\s+TABLE\s+(?P<ine>IF\s+NOT\s+EXISTS\s+)?" + _NAME + r"(?P<rest>.*)\Z", re.I | re.S)
_ALTER = re.compile(r"ALTER\s+TABLE\s+" + _NAME + r"\s+(?P<rest>.*)\Z", re.I | re.S)
_DROP = re.compile(r"DROP\s+TABLE\s+(?P<ie>IF\s+EXISTS\s+)?" + _NAME + r"\s*(?P<rest>.*)\Z", re.I | re.S)
_ENGINE = re.compile(r"\s*ENGINE\s*=\s*(?P<kind>[A-Za-z]*)MergeTree\b\s*(?:\((?P<args>[^()]*)\))?", re.I)
_COLUMN_COMMAND = re.compile(r"(ADD|DROP|MODIFY|RENAME|COMMENT)\s+COLUMN\b", re.I)
# pdtrail's own small tables, read and written per Kafka partition: spread by partition, not all on the
# shard of one topic (the first column of their ORDER BY). store.sharding_keys overrides these.
DEFAULT_SHARDING_KEYS = {
    "checkpoints": "cityHash64(topic, partition)",
    "ingest_batches": "cityHash64(topic, partition)",
}


class ClusterDdlError(PdtrailError):
    """A migration statement that cannot be rendered for a cluster; ``statement`` is its first line."""

    def __init__(self, statement: str, reason: str) -> None:
        self.statement = statement.strip().splitlines()[0][:120]
        self.reason = reason
        super().__init__(f"cannot render for a cluster: {reason}: {self.statement}")


@dataclass(frozen=True)
class ClusterLayout:
    """Where the tables of one database live on a cluster, and what migrations send with their writes."""

    cluster: str
    database: str
    replica_path: str = "/clickhouse/tables/{shard}/{database}/{table}"
    replica_name: str = "{replica}"
    sharding_keys: Mapping[str, str] = field(default_factory=dict)
    dedup_window_s: int = 7 * 24 * 3600
    insert_settings: Mapping[str, SettingValue] = field(default_factory=dict)
    read_settings: Mapping[str, SettingValue] = field(default_factory=dict)

    def local(self, table: str) -> str:
        return f"`{self.database}`.`{table}{LOCAL_SUFFIX}`"

    def distributed(self, table: str) -> str:
        return f"`{self.database}`.`{table}`"

    @property
    def on_cluster(self) -> str:
        return f"ON CLUSTER `{self.cluster}`"


def cluster_layout(settings: Settings) -> ClusterLayout | None:
    """The layout for ``store.cluster``; None on one server or the embedded store."""
    store = settings.store
    if not store.cluster:
        return None
    if settings.store_is_embedded:
        raise ConfigError("PDTRAIL_STORE__CLUSTER", "a cluster needs ClickHouse servers (an http(s):// dsn)")
    consistency = consistency_settings(store)
    return ClusterLayout(
        cluster=store.cluster,
        database=store.database,
        replica_path=store.replica_path,
        replica_name=store.replica_name,
        sharding_keys={**DEFAULT_SHARDING_KEYS, **store.sharding_keys},
        dedup_window_s=store.dedup_window_s,
        insert_settings=consistency.insert_settings(),
        read_settings=consistency.read_settings(),
    )


def create_database(layout: ClusterLayout) -> str:
    """The database on every node; ``connect()`` creates it on the one it reaches only."""
    return f"CREATE DATABASE IF NOT EXISTS `{layout.database}` {layout.on_cluster}"


def split_statements(sql: str) -> list[str]:
    """The statements of a migration file, comment lines dropped (a semicolon in prose must not split)."""
    code = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in code.split(";") if s.strip()]


NOT_ON_A_CLUSTER = "-- cluster: not applied"


def render_migration(sql: str, layout: ClusterLayout) -> list[str]:
    """Every statement of a migration file, rendered for the cluster, in the order to run them.

    A migration that moves the single-server layout itself (it says ``-- cluster: not applied``) renders
    to nothing: a cluster keeps the sharded layout the earlier migrations gave it."""
    if NOT_ON_A_CLUSTER in sql:
        return []
    return [rendered for statement in split_statements(sql) for rendered in render_statement(statement, layout)]


def render_statement(statement: str, layout: ClusterLayout) -> list[str]:
    """One statement as the cluster runs it (one or two statements; see the module docstring)."""
    head = statement.lstrip()[:6].upper()
    if head == "CREATE":
        return _create(statement, layout)
    if head == "ALTER ":
        return _alter(statement, layout)
    if head == "DROP T":
        return _drop(statement, layout)
    if head == "INSERT":
        return [statement]
    raise ClusterDdlError(statement, "only CREATE TABLE, ALTER TABLE, DROP TABLE and INSERT are rendered")


def _create(statement: str, layout: ClusterLayout) -> list[str]:
    match = _CREATE.match(statement.strip())
    if not match:
        raise ClusterDdlError(statement, "not a CREATE TABLE of an unqualified name")
    table, ine, rest = match["name"], match["ine"] or "", match["rest"].lstrip()
    if not rest.startswith("("):
        raise ClusterDdlError(statement, "expected the column list after the table name (no database, no ON CLUSTER)")
    close = _matching_paren(rest, 0)
    columns, tail = rest[: close + 1], rest[close + 1 :]
    engine = _ENGINE.match(tail)
    if not engine or engine["kind"].lower().startswith(("replicated", "shared")):
        raise ClusterDdlError(statement, "only tables of the (non-replicated) MergeTree family are rendered")
    clauses, table_settings, comment = _split_settings(tail[engine.end() :])
    path = layout.replica_path.replace("'", "\\'")
    args = [f"'{path}'", f"'{layout.replica_name}'"] + ([engine["args"].strip()] if engine["args"] else [])
    table_settings = _replicated_settings(table_settings, layout)
    local = (
        f"CREATE TABLE {ine}{layout.local(table)} {layout.on_cluster}\n{columns}\n"
        f"ENGINE = Replicated{engine['kind']}MergeTree({', '.join(args)})\n{clauses.strip()}\n"
        f"SETTINGS {', '.join(f'{k} = {v}' for k, v in table_settings.items())}" + (f"\n{comment}" if comment else "")
    )
    key = layout.sharding_keys.get(table) or _default_sharding_key(statement, clauses)
    distributed = (
        f"CREATE TABLE {ine}{layout.distributed(table)} {layout.on_cluster} AS {layout.local(table)}\n"
        f"ENGINE = Distributed('{layout.cluster}', '{layout.database}', '{table}{LOCAL_SUFFIX}', {key})"
    )
    return [local, distributed]


def _alter(statement: str, layout: ClusterLayout) -> list[str]:
    match = _ALTER.match(statement.strip())
    if not match or match["rest"].upper().startswith("ON CLUSTER"):
        raise ClusterDdlError(statement, "not an ALTER TABLE of an unqualified name without ON CLUSTER")
    table, commands = match["name"], _split_top_level(match["rest"], ",")
    rendered = [f"ALTER TABLE {layout.local(table)} {layout.on_cluster} {', '.join(commands)}"]
    # A Distributed table has no parts, indexes or settings of its own: it takes the column changes only.
    column_commands = [c for c in commands if _COLUMN_COMMAND.match(c)]
    if column_commands:
        rendered.append(f"ALTER TABLE {layout.distributed(table)} {layout.on_cluster} {', '.join(column_commands)}")
    return rendered


def _drop(statement: str, layout: ClusterLayout) -> list[str]:
    match = _DROP.match(statement.strip())
    if not match or match["rest"]:
        raise ClusterDdlError(statement, "not a plain DROP TABLE of an unqualified name")
    table, ie = match["name"], match["ie"] or ""
    return [
        f"DROP TABLE {ie}{layout.distributed(table)} {layout.on_cluster}",
        f"DROP TABLE {ie}{layout.local(table)} {layout.on_cluster}",
    ]


def _replicated_settings(table_settings: dict[str, str], layout: ClusterLayout) -> dict[str, str]:
    window = table_settings.pop("non_replicated_deduplication_window", "0")
    rendered = {"replicated_deduplication_window": window}
    if window != "0":
        rendered["replicated_deduplication_window_seconds"] = str(layout.dedup_window_s)
    return {**rendered, **table_settings}


def _default_sharding_key(statement: str, clauses: str) -> str:
    order = re.search(r"\bORDER\s+BY\s+", clauses, re.I)
    if not order:
        raise ClusterDdlError(statement, "no ORDER BY to shard by: set store.sharding_keys for this table")
    text = clauses[order.end() :].lstrip()
    if text.startswith("("):
        first = _split_top_level(text[1 : _matching_paren(text, 0)], ",")[0]
    else:
        found = re.match(r"[A-Za-z_][A-Za-z0-9_]*(\s*\([^()]*\))?", text)
        first = found.group(0) if found else ""
    if not first or first.replace(" ", "").lower() == "tuple()":
        raise ClusterDdlError(statement, "ORDER BY has no column to shard by: set store.sharding_keys for this table")
    return f"cityHash64({first})"


def _split_settings(clauses: str) -> tuple[str, dict[str, str], str]:
    """The clauses before SETTINGS, the settings (name -> value as written), and a table COMMENT after them."""
    comment = re.search(r"\bCOMMENT\s+'(?:[^'\\]|\\.|'')*'\s*\Z", clauses, re.I)
    trailer = comment.group(0).strip() if comment else ""
    clauses = clauses[: comment.start()] if comment else clauses
    found = re.search(r"\bSETTINGS\b", clauses, re.I)
    if not found:
        return clauses, {}, trailer
    pairs = {}
    for pair in _split_top_level(clauses[found.end() :], ","):
        name, _, value = pair.partition("=")
        pairs[name.strip()] = value.strip()
    return clauses[: found.start()], pairs, trailer


def _split_top_level(text: str, separator: str) -> list[str]:
    """``text`` split at ``separator`` outside parentheses and quotes, each part stripped."""
    parts, depth, quote, start = [], 0, "", 0
    for i, char in enumerate(text):
        if quote:
            quote = "" if char == quote and text[i - 1] != "\\" else quote
        elif char in "'\"`":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def _matching_paren(text: str, start: int) -> int:
    """The index of the parenthesis closing the one at ``start`` (quotes respected)."""
    depth, quote = 0, ""
    for i in range(start, len(text)):
        char = text[i]
        if quote:
            quote = "" if char == quote and text[i - 1] != "\\" else quote
        elif char in "'\"`":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i
    raise ClusterDdlError(text, "unbalanced parentheses")
