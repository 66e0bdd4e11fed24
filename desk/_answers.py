"""The pieces the desk answers with: pages, the locked backend, the lineage asked by a case's keys,
rows as JSON values."""

from __future__ import annotations

import datetime as dt
import importlib
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, is_dataclass
from typing import Any

from pdtrail.desk._cases import KeyedSubject
from pdtrail.desk.exceptions import DeskError
from pdtrail.queries import QueryBackend, QueryResult, SubjectLineage, to_json_value
from pdtrail.schemas import SubjectKind

# Views of one subject that come in pages, and the meta-audit resource name of each.
PAGED_VIEWS = ("timeline", "who_accessed", "shared_with", "sources", "credit_checks", "purposes")


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    limit: int
    offset: int
    has_more: bool


class LockedBackend:
    """One query at a time on a backend: a chDB client is not safe across the server's threads."""

    def __init__(self, backend: QueryBackend) -> None:
        self.backend = backend
        self.lock = threading.RLock()

    def run(self, name: str, params: Mapping[str, Any]) -> QueryResult:
        with self.lock:
            return self.backend.run(name, params)


def queries_part(name: str) -> Any:
    """A part of pdtrail.queries that not every build has (findings); a clear 501 if this one lacks it."""
    try:
        return getattr(importlib.import_module("pdtrail.queries"), name)
    except AttributeError:
        raise DeskError(501, "not_available", f"this pdtrail build has no {name}") from None


def json_rows(result: QueryResult) -> list[dict[str, Any]]:
    return [{k: to_json_value(v) for k, v in row.items()} for row in result.as_dicts()]


def plain(value: Any) -> Any:
    """A dataclass, list or mapping as JSON-able values."""
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return to_json_value(value)


class CaseLineage(SubjectLineage):
    """The lineage queries, asked with a case's keys (:class:`KeyedSubject`) or a raw identifier."""

    def subject_keys(self, identifier: str, kind: SubjectKind | str | None = None) -> list[str]:
        if isinstance(identifier, KeyedSubject):
            return list(identifier.keys)
        return super().subject_keys(identifier, kind)
