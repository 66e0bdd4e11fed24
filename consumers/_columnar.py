"""The columnar path: the engine parses a batch's raw Avro bodies; no Python touches an event's fields.

A round holds the batches of every partition due together (``decode_many``): the statements cost mostly per
statement, not per row, so a round pays them once instead of once per partition. Per writer schema (the
fingerprint in each message) the round becomes one Avro container block whose records are ``{kafka_partition,
kafka_offset, <the body as written>, seal}``: Avro record bodies concatenate, so each record is the message's
own bytes between the position's zig-zag varints and an 8-byte seal. One query parses every block and maps it
to ``events`` columns, a second judges the rows with the checks of ``_columnar_sql`` and stages them in one
Native file per Kafka partition and month; each partition's inserts (with their tokens) read its own files,
and one query reads the round's leaves back. The seal (the offset XOR a random nonce per round) proves that a
record was framed by the message it came from: a truncated body or trailing bytes shift every record after it
and break their seals.

What the engine does not vouch for goes to the per-message path: an oversized or unframed message,
an unknown fingerprint, a record whose checks or seal fail, a whole block the engine refuses, and a
message a bytes pre-filter (``prefilter``) flags. Only the embedded store can read the staged files,
so a server store takes the per-message path for every batch.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import os
import secrets
import shutil
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client

from pdtrail.consumers._batches import ALL_MONTHS, RowBatch, in_unit, stored_ids_parameters
from pdtrail.consumers._columnar_sql import CHECK_SQL, EARLIEST_US, LATEST_US, select_sql, wrapper_schema
from pdtrail.consumers._decode import Poison
from pdtrail.integrity._canonical import LEAF_SQL
from pdtrail.schemas import SchemaCatalog, SchemaVersion
from pdtrail.schemas._wire import HEADER_SIZE, MARKER
from pdtrail.store._columns import COLUMNS

Prefilter = Callable[[bytes], bool]  # True: this message may need the per-message check
_Row = tuple[int, str, int, str, bytes]  # a staged row: offset, event id, yyyymm, canonical occurred_at, leaf
_OFFSET, _EVENT_ID = COLUMNS.index("kafka_offset"), COLUMNS.index("event_id")
# As stored_ids.sql, for the staged rows and the ones decoded one by one together (the subject keys narrow the read).
_STORED_IDS = """SELECT DISTINCT toString(event_id) FROM events
WHERE (subject_key IN (SELECT subject_key FROM @STAGED@ WHERE ok) OR subject_key IN {keys:Array(String)})
  AND (event_id IN (SELECT event_id FROM @STAGED@ WHERE ok) OR event_id IN {ids:Array(UUID)})"""
_INFO = f"""SELECT kafka_partition, kafka_offset, toString(event_id), toYYYYMM(occurred_at),
       formatDateTime(occurred_at, '%Y-%m-%dT%H:%i:%S.%fZ', 'UTC'), {LEAF_SQL} AS leaf
FROM @STAGED@ WHERE ok ORDER BY kafka_partition, kafka_offset"""


# The staging statements read files and write files: no filter or index for the query plan's optimisations to
# push anywhere, whose passes over 20 per-schema branches cost a fifth of the parse statement (measured: 220
# -> 173 ms on a round of 3,000 rows). Not for statements that read the log: its primary key is found that way.
_FILE_TO_FILE = "query_plan_enable_optimizations = 0"
_SEAL = struct.Struct("<q")  # the wrapper's Avro fixed(8), read back by the engine as reinterpretAsInt64


def _zz(n: int) -> bytes:
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _micros(moment: dt.datetime) -> int:
    """Microseconds since the epoch, clamped to what DateTime64(6) holds."""
    delta = moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return max(EARLIEST_US, min(LATEST_US, micros))


def _remove(pattern: Path) -> None:
    for path in pattern.parent.glob(pattern.name):
        path.unlink(missing_ok=True)


def _sql_str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class _Schema:
    """What the engine needs for one writer schema: the block header's schema and the mapping SQL."""

    def __init__(self, version: SchemaVersion) -> None:
        schema = wrapper_schema(version).encode()
        meta = {b"avro.schema": schema, b"avro.codec": b"null"}
        self.meta = _zz(len(meta)) + b"".join(_zz(len(k)) + k + _zz(len(v)) + v for k, v in meta.items()) + _zz(0)
        self.select = select_sql(version)


class _RoundIds:
    """The event ids a round of partitions finds stored: one read for the whole round, before any of its
    inserts, plus the ids of the round's batches stored since (``add``), so that a batch stored later in the
    round drops what an earlier one stored, as if it had read the store after it. (An insert is added once it
    returned: in the embedded engine, the only store of this path, one that raised did not land.)"""

    def __init__(self, client: Client, staged: str | None, slow: list[RowBatch]) -> None:
        self._client, self._staged, self._slow = client, staged, slow
        self._stored: set[str] | None = None

    def known(self) -> set[str]:
        if self._stored is None:
            rows = [row for batch in self._slow for row in batch.rows]
            if self._staged is not None:
                sql = _STORED_IDS.replace("@STAGED@", self._staged)
                found = self._client.query(sql, parameters=stored_ids_parameters(rows)).result_rows
                self._stored = {r[0] for r in found}
            else:
                merged = RowBatch()
                merged.rows = rows
                self._stored = merged.stored_ids(self._client) if rows else set()
        return self._stored

    def add(self, event_ids: list[str]) -> None:
        self.known().update(event_ids)


class StagedBatch:
    """A batch whose good rows the engine staged; the rest decoded one by one (``slow``). ``round_ids``: the
    one dedup read of the round it was staged in (with other partitions' batches, or alone)."""

    def __init__(
        self, client: Client, staged: str | None, rows: list[_Row], slow: RowBatch, done: Callable[[], None],
        round_ids: _RoundIds,
    ) -> None:  # fmt: skip
        self._client, self._staged, self._rows, self.slow, self._done = client, staged, rows, slow, done
        self.poison: list[Poison] = slow.poison
        self._dropped: set[int] = set()
        self._round = round_ids

    def drop_stored(self) -> int:
        """Keep the first row of each event id that is not stored yet, in offset order."""
        if not self._rows and not self.slow.rows:
            return 0
        stored = self._round.known()
        order = sorted(
            [(r[0], r[1], "fast") for r in self._rows]
            + [(int(row[_OFFSET]), str(row[_EVENT_ID]), "slow") for row in self.slow.rows]
        )
        seen, dropped_slow = set(stored), set[int]()
        for offset, event_id, path in order:
            if event_id in seen:
                (self._dropped if path == "fast" else dropped_slow).add(offset)
            seen.add(event_id)
        if dropped_slow:
            self.slow.rows = [row for row in self.slow.rows if int(row[_OFFSET]) not in dropped_slow]
        return len(self._dropped) + len(dropped_slow)

    @property
    def staged_rows(self) -> int:
        """Rows the engine vouched for (the rest of the batch went one by one)."""
        return len(self._rows)

    def _kept(self) -> list[_Row]:
        return [r for r in self._rows if r[0] not in self._dropped]

    def months(self) -> dict[int, int]:
        months: dict[int, int] = {}
        for row in self._kept():
            months[row[2]] = months.get(row[2], 0) + 1
        for month, count in self.slow.months().items():
            months[month] = months.get(month, 0) + count
        return months

    def insert(self, month: int, token: str) -> None:
        if self._staged is not None and any(month in (ALL_MONTHS, r[2]) for r in self._kept()):
            source = self._staged if month == ALL_MONTHS else self._staged.replace("-*.native", f"-{int(month)}.native")
            dropped = ", ".join(str(o) for o in sorted(self._dropped)) or "NULL"
            columns = ", ".join(COLUMNS)
            # Settings in the statement: passed as client settings, each insert would read the session's first.
            self._client.command(
                f"INSERT INTO events ({columns}) SETTINGS insert_deduplication_token = {_sql_str(token)}, "
                "use_structure_from_insertion_table_in_table_functions = 0 "  # the staged file has its own columns
                f"SELECT {columns} FROM {source} "
                f"WHERE ok AND kafka_offset NOT IN ({dropped})"
            )
            self._round.add(  # landed: a later batch of the round drops these ids as stored
                [r[1] for r in self._kept() if month in (ALL_MONTHS, r[2])]
            )
        if any(in_unit(row, month) for row in self.slow.rows):
            self.slow.insert(self._client, month, token + "/one-by-one")
            self._round.add([str(row[_EVENT_ID]) for row in self.slow.rows if in_unit(row, month)])

    def leaves(self) -> tuple[list[int], list[bytes], list[str]]:
        offsets, leaves, occurred = self.slow.leaves()
        merged = sorted([(r[0], r[4], r[3]) for r in self._kept()] + list(zip(offsets, leaves, occurred, strict=True)))
        return [m[0] for m in merged], [m[1] for m in merged], [m[2] for m in merged]

    def close(self) -> None:
        self._done()


class EngineDecoder:
    """Stages batches through the embedded engine. ``one_by_one(partition, messages)`` is the slow path."""

    def __init__(self, client: Client, topic: str, max_event_bytes: int, catalog: SchemaCatalog | None = None) -> None:
        self._client = client
        self._topic = topic
        self._limit = max_event_bytes
        self._catalog = catalog or SchemaCatalog.default()
        self._schemas: dict[bytes, _Schema | None] = {}
        self._dir = Path(tempfile.mkdtemp(prefix="pdtrail-ingest-"))
        self._count = itertools.count()
        self.prefilter: Prefilter | None = None
        # Stage one file per Kafka partition and month, for a log partitioned by month (an insert lands whole
        # only within one partition of the table); else one per Kafka partition: fewer, larger files to write
        # and to read back (a round of six partitions over a year wrote 118 files, 0.2 s of 0.3 s of stage 2).
        self.by_month = True

    def _schema(self, fingerprint: bytes) -> _Schema | None:
        if fingerprint not in self._schemas:
            version = self._catalog.by_fingerprint(fingerprint)
            self._schemas[fingerprint] = _Schema(version) if version is not None else None
        return self._schemas[fingerprint]

    def decode(
        self, partition: int, messages: list[Any], received: dt.datetime, one_by_one: Callable[[list[Any]], RowBatch],
        *, window: tuple[dt.datetime, dt.datetime] | None = None,
    ) -> StagedBatch:  # fmt: skip
        """One partition's batch (``decode_many`` of that one)."""
        staged = self.decode_many({partition: messages}, received, lambda _, slow: one_by_one(slow), window=window)
        return staged[partition]

    def decode_many(
        self, batches: dict[int, list[Any]], received: dt.datetime,
        one_by_one: Callable[[int, list[Any]], RowBatch], *, window: tuple[dt.datetime, dt.datetime] | None = None,
    ) -> dict[int, StagedBatch]:  # fmt: skip
        """The batches of several partitions staged together: the statements that parse, judge and read
        them back cost mostly per statement, not per row, so a round of partitions pays them once."""
        groups: dict[bytes, list[tuple[int, int, bytes]]] = {}
        slow: dict[int, list[Any]] = {partition: [] for partition in batches}
        framed: dict[int, dict[int, Any]] = {partition: {} for partition in batches}  # offset -> message
        prefilter = self.prefilter
        for partition, messages in batches.items():
            positions = framed[partition]
            for msg in messages:
                value = msg.value()
                if (
                    value is None or len(value) > self._limit or len(value) <= HEADER_SIZE or value[:2] != MARKER
                    or (prefilter is not None and prefilter(value))
                ):  # fmt: skip
                    slow[partition].append(msg)
                    continue
                fingerprint = value[2:HEADER_SIZE]
                if self._schema(fingerprint) is None:
                    slow[partition].append(msg)  # unknown_schema, as the per-message path says
                    continue
                offset = msg.offset()
                positions[offset] = msg
                groups.setdefault(fingerprint, []).append((partition, offset, value))
        batch, staged = self._stage(groups, received, window)
        rows: dict[int, list[_Row]] = {partition: [] for partition in batches}
        if staged:
            columns = self._client.query(
                _INFO.replace("@STAGED@", self._source(batch, "*")), column_formats={"leaf": "bytes"}
            ).result_columns
            for partition, *row in zip(*columns, strict=True) if columns else ():
                waiting = framed.get(partition)
                if waiting is not None and waiting.pop(row[0], None) is not None:
                    rows[partition].append(tuple(row))
        for partition, unvouched in framed.items():  # what the engine did not stage goes one by one
            slow[partition].extend(unvouched.values())
        one_by_one_rows = {}
        for partition in batches:
            slow[partition].sort(key=lambda m: m.offset())
            one_by_one_rows[partition] = one_by_one(partition, slow[partition])
        staged_any = any(rows.values())
        round_ids = _RoundIds(self._client, self._source(batch, "*") if staged_any else None,
                              list(one_by_one_rows.values()))  # fmt: skip
        decoded = {}
        for partition in batches:
            own = self._dir / f"s{batch}-{partition}-*.native"
            source = self._source(batch, str(partition)) if staged and any(own.parent.glob(own.name)) else None
            decoded[partition] = StagedBatch(
                self._client, source, rows[partition], one_by_one_rows[partition], functools.partial(_remove, own),
                round_ids,
            )  # fmt: skip
        return decoded

    def _source(self, batch: int, partition: str) -> str:
        """The table function over the staged rows of one partition of a round (``*``: every partition)."""
        return f"file({_sql_str(str(self._dir / f's{batch}-{partition}-*.native'))}, 'Native')"

    def _stage(
        self, groups: dict[bytes, list[tuple[int, int, bytes]]], received: dt.datetime,
        window: tuple[dt.datetime, dt.datetime] | None = None,
    ) -> tuple[int, bool]:  # fmt: skip
        """Write the blocks, parse and stage them, one file per Kafka partition and month (``_source``):
        the round's number, and whether anything was staged."""
        batch = next(self._count)
        if not groups:
            return batch, False
        ingested = f"toDateTime64({_sql_str(received.astimezone(dt.UTC).strftime('%Y-%m-%d %H:%M:%S.%f'))}, 6, 'UTC')"
        earliest, latest = (_micros(w) for w in window) if window else (EARLIEST_US, LATEST_US)
        selects = []
        nonce = secrets.randbits(62)  # one per round: stage 2 checks every block's seals at once
        for n, (fingerprint, records) in enumerate(groups.items()):
            schema = self._schema(fingerprint)
            assert schema is not None
            path = self._dir / f"b{batch}-{n}.avro"
            self._write_block(path, schema, records, nonce)
            source = f"file({_sql_str(str(path))}, 'Avro')"
            selects.append(
                schema.select.replace("@SOURCE@", source).replace("@TOPIC@", _sql_str(self._topic))
                .replace("@INGESTED@", ingested)
            )  # fmt: skip
        check = CHECK_SQL.replace("@NONCE@", str(nonce)).replace("@EARLIEST@", str(earliest))
        check = check.replace("@LATEST@", str(latest))
        parsed = self._dir / f"p{batch}.native"
        try:
            self._client.command(
                f"INSERT INTO FUNCTION file({_sql_str(str(parsed))}, 'Native') SELECT * FROM (\n"
                + "\nUNION ALL\n".join(selects)
                + f"\n) SETTINGS {_FILE_TO_FILE}"
            )
        except Exception:
            # A block the engine refuses (a body that does not parse): parse block by block, and what
            # still fails goes one by one.
            parsed.unlink(missing_ok=True)
            good = 0
            for n, select in enumerate(selects):
                part = self._dir / f"p{batch}-{n}.native"
                try:
                    self._client.command(f"INSERT INTO FUNCTION file({_sql_str(str(part))}, 'Native') {select}")
                    good += 1
                except Exception:
                    part.unlink(missing_ok=True)
            if not good:
                return batch, False
            parsed = self._dir / f"p{batch}-*.native"
        finally:
            for n in range(len(selects)):
                (self._dir / f"b{batch}-{n}.avro").unlink(missing_ok=True)
        # Stage 2: every row judged by one expression, whatever its type; one file per partition (and month), so
        # that each insert reads its own rows only (a string key: the file is named "<partition>-<yyyymm|all>").
        staged = self._dir / f"s{batch}-{{_partition_id}}.native"
        columns = ", ".join(COLUMNS)
        month = "toString(toYYYYMM(occurred_at))" if self.by_month else "'all'"
        try:
            self._client.command(
                f"INSERT INTO FUNCTION file({_sql_str(str(staged))}, 'Native') "
                f"PARTITION BY concat(toString(kafka_partition), '-', {month}) "
                f"SELECT {columns}, ({check}) AS ok FROM file({_sql_str(str(parsed))}, 'Native') "
                f"SETTINGS {_FILE_TO_FILE}"
            )
        finally:
            _remove(parsed)  # stage 2 is its only reader
        return batch, True

    @staticmethod
    def _write_block(path: Path, schema: _Schema, records: list[tuple[int, int, bytes]], nonce: int) -> None:
        # The hot loop of the framing: a round's records are mostly of a few partitions, so each partition's
        # varint is computed once per block, and the seal is a fixed 8 bytes packed by struct (no varint).
        sync = os.urandom(16)
        partitions: dict[int, bytes] = {}
        parts: list[bytes] = []
        for partition, offset, value in records:
            prefix = partitions.get(partition)
            if prefix is None:
                prefix = partitions[partition] = _zz(partition)
            parts += (prefix, _zz(offset), value[HEADER_SIZE:], _SEAL.pack(offset ^ nonce))
        body = b"".join(parts)
        with open(path, "wb") as block:
            block.write(b"Obj\x01" + schema.meta + sync + _zz(len(records)) + _zz(len(body)) + body + sync)

    def close(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)
