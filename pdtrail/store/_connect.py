"""Opening the ClickHouse store: embedded chDB on disk (``chdb:///dir``) or a server (``http(s)://``)."""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError, ProgrammingError

from pdtrail._files import private_dir
from pdtrail.config import Settings
from pdtrail.errors import PdtrailError, RetryableError


class StoreLockedError(PdtrailError):
    """Another process owns the embedded store; chDB lets one process open a directory at a time."""

    def __init__(self, path: str, owner_pid: int | None) -> None:
        self.path = path
        self.owner_pid = owner_pid
        who = f"process {owner_pid} (`pdtrail serve`)" if owner_pid else "another process"
        super().__init__(f"the embedded store {path} is in use by {who}")


def embedded_path(settings: Settings) -> Path | None:
    """The on-disk directory of an embedded store, or None for a server."""
    dsn = settings.store_dsn
    if not dsn.startswith("chdb:"):
        return None
    return Path(dsn.removeprefix("chdb://"))


def connect(settings: Settings, *, create_database: bool = True) -> Client:
    """A client on the configured database; creates the database (and the embedded directory) if missing."""
    dsn, database = settings.store_dsn, settings.store.database
    path = embedded_path(settings)
    username = password = None
    if path is not None:
        private_dir(path)  # the log of everyone's processing: the owner's alone
    else:
        username = settings.store.username
        password = settings.store.password_value()
    # Only a server takes credentials; clickhouse-connect warns about arguments chDB has no use for.
    extra: dict[str, Any] = {"username": username, "password": password or ""} if username else {}
    if path is None:
        extra.update(_server_options(settings))
    try:
        if create_database:
            bootstrap = clickhouse_connect.get_client(dsn=dsn, **extra)
            bootstrap.command(f"CREATE DATABASE IF NOT EXISTS `{database}`")  # name checked by StoreSettings
            bootstrap.close()
        return clickhouse_connect.get_client(dsn=dsn, database=database, **extra)
    except (ClickHouseError, ProgrammingError, OSError) as exc:
        text = str(exc)
        if path is not None and _locked_elsewhere(path):
            from pdtrail.store._owner import read_owner

            owner = read_owner(settings)
            raise StoreLockedError(str(path), owner.pid if owner else None) from None
        raise RetryableError(f"cannot open the store at {_safe(dsn)}: {text.splitlines()[0][:300]}") from None


def _server_options(settings: Settings) -> dict[str, Any]:
    """TLS files, and in cluster mode the shard pruning that lets one shard answer one subject's lookup."""
    store = settings.store
    options: dict[str, Any] = {}
    for name, path in (
        ("ca_cert", store.ca_cert),
        ("client_cert", store.client_cert),
        ("client_cert_key", store.client_key),
    ):
        if path is not None:
            options[name] = str(path)
    if store.cluster:
        # Lookups filter on subject_key, the sharding key: the Distributed table asks only the shard(s)
        # that hold the subject's keys instead of every shard.
        options["settings"] = {"optimize_skip_unused_shards": 1}
    return options


def _locked_elsewhere(path: Path) -> bool:
    """True if another process holds the engine's lock on ``<path>/status`` (ClickHouse uses flock)."""
    try:
        with open(path / "status", "rb") as status:
            fcntl.flock(status, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(status, fcntl.LOCK_UN)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False


def _safe(dsn: str) -> str:
    # A DSN may carry a password (user:pass@host); never print it.
    if "@" in dsn and "://" in dsn:
        scheme, rest = dsn.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return dsn
