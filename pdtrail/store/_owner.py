"""The owner file: how other processes find the one process that owns an embedded store.

``pdtrail serve`` writes ``<store dir>.owner.json`` (pid, URL of its query endpoint, a bearer token;
mode 0600) and removes it on exit. A stale file (dead pid) is ignored.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from pdtrail._files import write_private
from pdtrail._process import pid_alive
from pdtrail.config import Settings


@dataclass(frozen=True)
class OwnerRecord:
    pid: int
    url: str
    token: str


def owner_file(settings: Settings) -> Path | None:
    from pdtrail.store._connect import embedded_path

    path = embedded_path(settings)
    return None if path is None else path.parent / f"{path.name}.owner.json"


def write_owner(settings: Settings, record: OwnerRecord) -> Path:
    target = owner_file(settings)
    assert target is not None, "only an embedded store has an owner"
    # The file holds the endpoint's token: 0600 from its first byte, whatever a crash left beside it.
    return write_private(target, json.dumps(asdict(record)))


def read_owner(settings: Settings) -> OwnerRecord | None:
    """The live owner of the embedded store, or None."""
    target = owner_file(settings)
    if target is None or not target.exists():
        return None
    try:
        record = OwnerRecord(**json.loads(target.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return record if pid_alive(record.pid) else None


def remove_owner(settings: Settings) -> None:
    target = owner_file(settings)
    if target is not None:
        target.unlink(missing_ok=True)


def remove_owner_if(settings: Settings, pid: int) -> None:
    """Remove the owner file if it names ``pid``: the way out of a process stopped before its own clean-up."""
    target = owner_file(settings)
    if target is None:
        return
    try:
        record = json.loads(target.read_text())
    except (OSError, ValueError):
        return
    if isinstance(record, dict) and record.get("pid") == pid:
        target.unlink(missing_ok=True)
