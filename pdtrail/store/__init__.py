"""Access to the ClickHouse store, and who may open it.

A ClickHouse server is opened by every process directly. An embedded chDB directory can be opened by
one process at a time: the long-lived ``pdtrail serve`` owns it, consumes into it and answers queries
for the others; :func:`open_query_backend` asks that process when it runs and opens the store
itself when it does not.
"""

from __future__ import annotations

from pdtrail.config import Settings
from pdtrail.queries import LocalQueries, QueryBackend, RemoteQueries
from pdtrail.store._columns import COLUMNS, INTEGER_COLUMNS, LATER_COLUMNS
from pdtrail.store._connect import StoreLockedError, connect, embedded_path
from pdtrail.store._consistency import StoreConsistency, consistency_settings
from pdtrail.store._owner import OwnerRecord, read_owner, remove_owner, write_owner
from pdtrail.store._server import QueryServer


def open_query_backend(settings: Settings) -> QueryBackend:
    """Queries through the owner of an embedded store if one runs, else on a fresh connection."""
    owner = read_owner(settings)
    if owner is not None:
        return RemoteQueries(owner.url, owner.token)
    return LocalQueries(connect(settings))


__all__ = [
    "COLUMNS",
    "INTEGER_COLUMNS",
    "LATER_COLUMNS",
    "OwnerRecord",
    "QueryServer",
    "StoreConsistency",
    "StoreLockedError",
    "connect",
    "consistency_settings",
    "embedded_path",
    "open_query_backend",
    "read_owner",
    "remove_owner",
    "write_owner",
]
