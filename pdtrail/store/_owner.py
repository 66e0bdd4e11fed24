"""The owner file: how other processes find the one process that owns an embedded store.

``pdtrail serve`` writes ``<store dir>.owner.json`` (pid, URL of its query endpoint, a bearer token;
mode 0600) and removes it on exit. A stale file (dead pid) is ignored.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

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
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(record), handle)
    tmp.replace(target)
    return target


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
