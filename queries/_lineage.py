"""Per-subject lineage: the DPO's questions, asked with the raw identifier they were given."""

from __future__ import annotations

import datetime as dt

from pdtrail.producers import Pseudonymiser
from pdtrail.queries._runner import QueryBackend, QueryResult
from pdtrail.queries.exceptions import InvalidQueryParameterError
from pdtrail.schemas import SubjectKind, guess_subject_kind

EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)
MAX_ROWS = 100_000


def _as_param(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)  # a bare date or time from a DPO means UTC
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class SubjectLineage:
    """Answers per-subject questions. The identifier is pseudonymised here, under every key version,
    and only the keys reach the store. ``since`` is inclusive, ``until`` exclusive."""

    def __init__(self, backend: QueryBackend, pseudonymiser: Pseudonymiser) -> None:
        self.backend = backend
        self.pseudonymiser = pseudonymiser

    def subject_keys(self, identifier: str, kind: SubjectKind | str | None = None) -> list[str]:
        try:
            resolved = SubjectKind(kind) if kind else guess_subject_kind(identifier)
        except ValueError:
            choices = ", ".join(k.value for k in SubjectKind)
            raise InvalidQueryParameterError("kind", f"must be one of {choices}") from None
        try:
            return self.pseudonymiser.lookup_keys(resolved, identifier)
        except ValueError as exc:
            raise InvalidQueryParameterError("identifier", str(exc)) from None

    def _run(
        self,
        name: str,
        identifier: str,
        kind: SubjectKind | str | None,
        since: dt.datetime | None,
        until: dt.datetime | None,
        limit: int,
    ) -> QueryResult:
        start, end = since or EARLIEST, until or LATEST
        if _as_param(start) >= _as_param(end):
            raise InvalidQueryParameterError("since", "must be earlier than until")
        if not 1 <= limit <= MAX_ROWS:
            raise InvalidQueryParameterError("limit", f"must be between 1 and {MAX_ROWS}")
        params = {
            "subject_keys": self.subject_keys(identifier, kind),
            "since": _as_param(start),
            "until": _as_param(end),
            "limit": limit,
        }
        return self.backend.run(name, params)

    def who_accessed(
        self,
        identifier: str,
        *,
        kind: SubjectKind | str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int = 10_000,
    ) -> QueryResult:
        """Every access to the subject's data: actor, role, purpose, legal basis, categories, when."""
        return self._run("who_accessed", identifier, kind, since, until, limit)

    def timeline(
        self,
        identifier: str,
        *,
        kind: SubjectKind | str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int = 10_000,
    ) -> QueryResult:
        """Every event for the subject, oldest first."""
        return self._run("timeline", identifier, kind, since, until, limit)
