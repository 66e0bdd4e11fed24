"""The SDK's on-disk spool: encoded events librdkafka could not deliver in time, kept in order until the
broker is back — also across a restart of the service.

One SQLite file (WAL: an appended event survives the process being killed) per live emitter, in the
configured directory. A file is owned through an exclusive ``flock`` on a companion ``.lock`` file, so two
live processes never share one; a new emitter adopts any file whose owner is gone (a crashed or restarted
service), and its events go out before the new ones. Rows are deleted only once Kafka confirmed them.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pdtrail.producers.exceptions import SpoolFullError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spooled (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    n        INTEGER NOT NULL,
    key      BLOB,
    value    BLOB NOT NULL,
    headers  TEXT NOT NULL,
    event_id TEXT NOT NULL,
    size     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS spooled_by_emit_order ON spooled (n)
"""


@dataclass(frozen=True)
class SpooledEvent:
    seq: int
    key: bytes | None
    value: bytes
    headers: Headers
    event_id: str


Headers = list[tuple[str, str | bytes | None]]  # as confluent-kafka takes them


def _encode_headers(headers: Headers) -> str:
    def raw(value: str | bytes | None) -> bytes:
        return value.encode() if isinstance(value, str) else value or b""

    return json.dumps([[name, raw(value).hex()] for name, value in headers])


def _decode_headers(text: str) -> Headers:
    return [(name, bytes.fromhex(value)) for name, value in json.loads(text)]


class Spool:
    """A bounded, ordered, crash-safe queue of encoded events in ``directory``.

    ``head`` reads the oldest in emit order; ``remove`` deletes confirmed ones. Emit numbers continue from
    the highest in the file, so an adopted spool's events stay ahead of the new process's.
    ``size_bytes`` counts keys and values, the part that grows with the events.
    """

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.path, self._lock_fd = self._claim(directory)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives the process being killed (what a crashed service does);
        # only a power cut may take the last ones. FULL would fsync on every emit() while the broker is away.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._count, self._bytes, last = self._db.execute(
            "SELECT count(*), coalesce(sum(size), 0), coalesce(max(n), 0) FROM spooled"
        ).fetchone()
        self.first_free_number = int(last) + 1

    @staticmethod
    def _claim(directory: Path) -> tuple[Path, int]:
        """The first spool file no live process holds: one a dead process left (to replay), else a new one."""
        existing = sorted(directory.glob("spool-*.sqlite"), key=lambda p: int(p.stem.split("-")[1]))
        numbers = [int(p.stem.split("-")[1]) for p in existing]
        for n in [*numbers, max(numbers, default=0) + 1]:
            path = directory / f"spool-{n}.sqlite"
            fd = os.open(directory / f"spool-{n}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return path, fd
        raise AssertionError("unreachable: a new spool number is always free")  # pragma: no cover

    @property
    def depth(self) -> int:
        # Read on every emit(): no lock. One int attribute is read whole; a count changing under the read
        # is seen a moment later, as it would be right after a locked read.
        return int(self._count)

    @property
    def size_bytes(self) -> int:
        with self._lock:
            return int(self._bytes)

    def has_room(self, size: int) -> bool:
        with self._lock:
            return self._bytes + size <= self.max_bytes or self._count == 0

    def append(self, n: int, key: bytes | None, value: bytes, headers: Headers, event_id: str) -> int:
        """Keep one event; ``n`` is its place in emit order (events come back sorted by it, whatever order
        they were appended in: a timed-out older event may arrive after newer ones went straight to disk)."""
        size = len(key or b"") + len(value)
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO spooled (n, key, value, headers, event_id, size) VALUES (?, ?, ?, ?, ?, ?)",
                (n, key, value, _encode_headers(headers), event_id, size),
            )
            self._count += 1
            self._bytes += size
            return int(cursor.lastrowid or 0)

    def append_when_room(
        self, n: int, key: bytes, value: bytes, headers: Headers, event_id: str, *, wait_s: float
    ) -> None:
        """:meth:`append` once there is room, waiting up to ``wait_s`` (0: not at all) for the replayer to
        make some; then raises :class:`SpoolFullError` (nothing kept, the caller still holds the event)."""
        size = len(key) + len(value)
        started = time.monotonic()
        while not self.has_room(size):
            waited = time.monotonic() - started
            if waited >= wait_s:
                raise SpoolFullError(self.max_bytes, self.depth, waited)
            time.sleep(0.05)
        self.append(n, key, value, headers, event_id)

    def head(self, limit: int) -> list[SpooledEvent]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, key, value, headers, event_id FROM spooled ORDER BY n, seq LIMIT ?", (limit,)
            ).fetchall()
        return [SpooledEvent(seq, key, value, _decode_headers(headers), eid) for seq, key, value, headers, eid in rows]

    def remove(self, seqs: Sequence[int]) -> None:
        if not seqs:
            return
        with self._lock:
            self._db.execute("BEGIN")
            size = 0
            for seq in seqs:
                row = self._db.execute("DELETE FROM spooled WHERE seq = ? RETURNING size", (seq,)).fetchone()
                if row is not None:
                    size += row[0]
                    self._count -= 1
            self._db.execute("COMMIT")
            self._bytes -= size

    def close(self) -> None:
        with self._lock:
            self._db.close()
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
