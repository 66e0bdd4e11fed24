"""Per-subject lineage: the DPO's questions, asked with the raw identifier they were given."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from pdtrail.producers import Pseudonymiser
from pdtrail.queries._event_types import end_types, event_type, record_types, source_types
from pdtrail.queries._graph import LineageGraph, build_graph
from pdtrail.queries._retention import RetentionRules, retention_rows
from pdtrail.queries._runner import QueryBackend, QueryResult
from pdtrail.queries.exceptions import InvalidQueryParameterError
from pdtrail.schemas import SubjectKind, guess_subject_kind

# Written like a personnummer: guessed as one, so a wrong check digit is an error, not a customer id.
_LIKE_PERSONNUMMER = re.compile(r"^\s*(?:\d{2})?\d{6}[-+]?\d{4}\s*$")
# Without a period, the whole log: the store keeps any year an event carries (DateTime64 is 64-bit
# microseconds, measured: year 1 and 9000 come back as written), so the defaults are the first and last
# moment a datetime can hold; anything narrower (this was 1970-2200) hides rows from the DPO.
EARLIEST = dt.datetime.min.replace(tzinfo=dt.UTC)
LATEST = dt.datetime.max.replace(tzinfo=dt.UTC)
MAX_ROWS = 100_000
MAX_OFFSET = 10_000_000


def query_moment(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)  # a bare date or time from a DPO means UTC
    # isoformat, not strftime: strftime writes year 1 as "1", which ClickHouse does not read as a year.
    return moment.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _window(since: dt.datetime | None, until: dt.datetime | None, limit: int, offset: int) -> dict[str, Any]:
    """The parameters every query shares, checked: period, page size and page start."""
    start, end = since or EARLIEST, until or LATEST
    if query_moment(start) >= query_moment(end):
        raise InvalidQueryParameterError("since", "must be earlier than until")
    if not 1 <= limit <= MAX_ROWS:
        raise InvalidQueryParameterError("limit", f"must be between 1 and {MAX_ROWS}")
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidQueryParameterError("offset", f"must be between 0 and {MAX_OFFSET}")
    return {"since": query_moment(start), "until": query_moment(end), "limit": limit, "offset": offset}


class SubjectLineage:
    """Answers per-subject questions. The identifier is pseudonymised here, under every key version,
    and only the keys reach the store. ``since`` is inclusive, ``until`` exclusive; ``limit`` and
    ``offset`` page through long answers. An unknown subject gives an empty answer, not an error;
    an unusable parameter raises :class:`InvalidQueryParameterError` naming it."""

    def __init__(self, backend: QueryBackend, pseudonymiser: Pseudonymiser) -> None:
        self.backend = backend
        self.pseudonymiser = pseudonymiser

    def subject_keys(self, identifier: str, kind: SubjectKind | str | None = None) -> list[str]:
        try:
            resolved = SubjectKind(kind) if kind else guess_subject_kind(identifier)
            if kind is None and resolved != SubjectKind.PERSONNUMMER and _LIKE_PERSONNUMMER.match(identifier):
                resolved = SubjectKind.PERSONNUMMER  # so that its check below names what is wrong
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
        offset: int = 0,
        extra: Mapping[str, Any] | None = None,
    ) -> QueryResult:
        params = _window(since, until, limit, offset)
        params["subject_keys"] = self.subject_keys(identifier, kind)
        return self.backend.run(name, {**params, **(extra or {})})

    def who_accessed(
        self, identifier: str, *, kind: SubjectKind | str | None = None, since: dt.datetime | None = None,
        until: dt.datetime | None = None, limit: int = 10_000, offset: int = 0,
    ) -> QueryResult:  # fmt: skip
        """Every access to the subject's data, newest first: actor, role, purpose, legal basis, categories, when."""
        return self._run("who_accessed", identifier, kind, since, until, limit, offset)

    def timeline(
        self, identifier: str, *, kind: SubjectKind | str | None = None, since: dt.datetime | None = None,
        until: dt.datetime | None = None, limit: int = 10_000, offset: int = 0,
    ) -> QueryResult:  # fmt: skip
        """Every event for the subject, oldest first."""
        return self._run("timeline", identifier, kind, since, until, limit, offset)

    def shared_with(
        self, identifier: str, *, kind: SubjectKind | str | None = None, since: dt.datetime | None = None,
        until: dt.datetime | None = None, limit: int = 10_000, offset: int = 0,
    ) -> QueryResult:  # fmt: skip
        """Every disclosure, newest first: recipient, its role and country, categories, legal basis, when."""
        return self._run("shared_with", identifier, kind, since, until, limit, offset)

    def sources(
        self, identifier: str, *, kind: SubjectKind | str | None = None, since: dt.datetime | None = None,
        until: dt.datetime | None = None, limit: int = 10_000, offset: int = 0,
    ) -> QueryResult:  # fmt: skip
        """Where the data came from, oldest first: the subject, a lead, a register, a bureau; with dates."""
        extra = {"event_types": source_types()}
        return self._run("sources", identifier, kind, since, until, limit, offset, extra)

    def credit_checks(
        self, identifier: str, *, kind: SubjectKind | str | None = None, since: dt.datetime | None = None,
        until: dt.datetime | None = None, limit: int = 10_000, offset: int = 0,
    ) -> QueryResult:  # fmt: skip
        """Credit checks, newest first: bureau, its reference, the decision, the legal basis."""
        return self._run("credit_checks", identifier, kind, since, until, limit, offset)

    def purposes(
        self, identifier: str, *, kind: SubjectKind | str | None = None, since: dt.datetime | None = None,
        until: dt.datetime | None = None, limit: int = 10_000, offset: int = 0,
    ) -> QueryResult:  # fmt: skip
        """Each purpose the data was processed for: legal bases, categories, first and last time."""
        return self._run("purposes", identifier, kind, since, until, limit, offset)

    def consent_state(
        self, identifier: str, *, kind: SubjectKind | str | None = None, at: dt.datetime | None = None,
        limit: int = 10_000, offset: int = 0,
    ) -> QueryResult:  # fmt: skip
        """Consent per purpose as it stood just before ``at`` (default: now): given or withdrawn, since when.
        A purpose never consented to has no row."""
        extra = {
            "given_type": event_type("pdtrail.ConsentGiven"),
            "withdrawn_type": event_type("pdtrail.ConsentWithdrawn"),
        }
        moment = at or dt.datetime.now(dt.UTC)
        return self._run("consent_state", identifier, kind, None, moment, limit, offset, extra)

    def retention_status(
        self, identifier: str, *, kind: SubjectKind | str | None = None, at: dt.datetime | None = None,
        rules: RetentionRules | None = None, limit: int = 10_000, offset: int = 0,
    ) -> QueryResult:  # fmt: skip
        """Per purpose and category: last processed, the register's retention period, when it is due,
        and whether the data is retained, overdue, erased or of unknown retention (no register)."""
        moment = at or dt.datetime.now(dt.UTC)
        extra = {"end_types": end_types(), "record_types": record_types()}
        used = self._run("category_use", identifier, kind, None, moment, limit, offset, extra)
        return retention_rows(used, rules if rules is not None else RetentionRules.from_register(), moment)

    def lineage_graph(
        self, identifier: str, *, kind: SubjectKind | str | None = None, since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> LineageGraph:  # fmt: skip
        """Sources → purposes → recipients of the subject's data, with categories and counts on the edges."""
        return build_graph(self._run("lineage_edges", identifier, kind, since, until, MAX_ROWS))


def actor_activity(
    backend: QueryBackend, actor_id: str, since: dt.datetime | None = None, until: dt.datetime | None = None,
    *, limit: int = 10_000, offset: int = 0,
) -> QueryResult:  # fmt: skip
    """Every subject (by pseudonymous key) one employee or service touched in a period, latest first:
    for insider investigations. Reads the whole period (the log is ordered by subject, not actor)."""
    actor_id = actor_id.strip()
    if not 1 <= len(actor_id) <= 200:
        raise InvalidQueryParameterError("actor_id", "must be 1 to 200 characters")
    return backend.run("actor_activity", {**_window(since, until, limit, offset), "actor_id": actor_id})
