"""Per-subject lineage: the DPO's questions, asked with the raw identifier they were given."""

from __future__ import annotations

import contextvars
import datetime as dt
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pdtrail.producers import Pseudonymiser
from pdtrail.queries._event_types import end_types, event_type, record_types, source_types
from pdtrail.queries._graph import LineageGraph, build_graph
from pdtrail.queries._links import LINK_TYPES, LinkedSet, LinkRow, close_links, key_text, rows_of
from pdtrail.queries._retention import RetentionRules, retention_rows
from pdtrail.queries._runner import LINK_COLUMNS, WITH_LINKS, QueryBackend, QueryResult, linked_pages
from pdtrail.queries.exceptions import InvalidQueryParameterError, QueryError
from pdtrail.schemas import SubjectKind, guess_subject_kind

# Written like a personnummer: guessed as one, so a wrong check digit is an error, not a customer id.
_LIKE_PERSONNUMMER = re.compile(r"^\s*(?:\d{2})?\d{6}[-+]?\d{4}\s*$")
# Without a period a query reads the whole log. The engine's DateTime64 saturates at 0000-01-01 and at
# 9999-12-31 23:59:59.999999 whatever occurred_at a producer sent; as text those bounds do not parse
# (0000) or cannot be passed (an exclusive end past the last microsecond), as seconds since the epoch
# they do: from the first moment the engine holds to just past the last one, so no stored row is outside.
FIRST_MOMENT = "-62167219200.000000"
LAST_MOMENT = "253402300800.000000"
MAX_ROWS = 100_000
MAX_OFFSET = 10_000_000
MAX_LINK_ROWS = 10_000  # link events read per round of the closure; a full page counts as the bound reached
LINKED_HINTS = 4096  # searched keys remembered as linked to others (SubjectLineage._linked_lately)
# The linked sets of the answer being built (SubjectLineage.one_answer), per thread and task: a report asks
# about a dozen queries of one subject, and each needed the same closure (one to three reads of the links).
_ANSWER_LINKS: contextvars.ContextVar[dict[Any, LinkedSet] | None] = contextvars.ContextVar(
    "pdtrail_answer_links", default=None
)


def _as_param(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)  # a bare date or time from a DPO means UTC
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def lineage_end(until: dt.datetime | None) -> str:
    """The period's end as the queries take it (the log's end when None)."""
    return _as_param(until) if until is not None else LAST_MOMENT


def _window(since: dt.datetime | None, until: dt.datetime | None, limit: int, offset: int) -> dict[str, Any]:
    """The parameters every query shares, checked: period, page size and page start."""
    if since is not None and until is not None and _as_param(since) >= _as_param(until):
        raise InvalidQueryParameterError("since", "must be earlier than until")
    start = _as_param(since) if since is not None else FIRST_MOMENT
    end = _as_param(until) if until is not None else LAST_MOMENT
    if not 1 <= limit <= MAX_ROWS:
        raise InvalidQueryParameterError("limit", f"must be between 1 and {MAX_ROWS}")
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidQueryParameterError("offset", f"must be between 0 and {MAX_OFFSET}")
    return {"since": start, "until": end, "limit": limit, "offset": offset}


class SubjectLineage:
    """Answers per-subject questions. The identifier is pseudonymised here, under every key version,
    and only the keys reach the store. ``since`` is inclusive, ``until`` exclusive; ``limit`` and
    ``offset`` page through long answers. An unknown subject gives an empty answer, not an error;
    an unusable parameter raises :class:`InvalidQueryParameterError` naming it."""

    def __init__(self, backend: QueryBackend, pseudonymiser: Pseudonymiser) -> None:
        self.backend = backend
        self.pseudonymiser = pseudonymiser
        # Searched keys lately found linked to other keys: their pages take the links-first path, where a
        # page with links would be read for nothing (a hint only; either path gives the same answer).
        self._linked_lately: dict[tuple[str, ...], None] = {}
        self._hint_lock = threading.Lock()

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

    def linked_set(
        self, identifier: str, kind: SubjectKind | str | None = None, until: dt.datetime | None = None
    ) -> LinkedSet:
        """The subject's keys and every key linked to them as the links stood just before ``until``
        (default: now and later, every link), each with how it was found; bounded, and says so."""
        end = _as_param(until) if until is not None else LAST_MOMENT
        keys = self.subject_keys(identifier, kind)
        return self._remembered(keys, end) or self._close(keys, end)

    def _remembered(self, keys: list[str], end: str) -> LinkedSet | None:
        memo = _ANSWER_LINKS.get()
        return memo.get((tuple(keys), end)) if memo is not None else None

    def _close(self, keys: list[str], end: str, first: list[LinkRow] | None = None) -> LinkedSet:
        """The closure of ``keys`` over the links before ``end``; ``first``: the links of ``keys``
        themselves, when already read (by a page from the log's start), so only new keys are asked about."""

        def fetch(asked: list[str]) -> list[Any]:
            if first is not None and asked == keys:
                return first
            params = {"subject_keys": asked, "link_types": LINK_TYPES, "since": FIRST_MOMENT, "until": end,
                      "limit": MAX_LINK_ROWS, "offset": 0}  # fmt: skip
            return rows_of(self.backend.run("subject_links", params))

        linked = close_links(keys, fetch, page=MAX_LINK_ROWS)
        with self._hint_lock:
            if linked.keys != keys:
                self._linked_lately[tuple(keys)] = None
                while len(self._linked_lately) > LINKED_HINTS:
                    del self._linked_lately[next(iter(self._linked_lately))]  # the oldest first
            else:
                self._linked_lately.pop(tuple(keys), None)
        memo = _ANSWER_LINKS.get()
        if memo is not None:
            memo[(tuple(keys), end)] = linked
        return linked

    def known_links(self, keys: list[str], end: str) -> LinkedSet | None:
        """The linked set of ``keys`` at ``end`` (a query parameter, :func:`lineage_end`) if this answer
        (:meth:`one_answer`) read it already, else None."""
        return self._remembered(keys, end)

    def close_links(self, keys: list[str], end: str, first: list[LinkRow] | None = None) -> LinkedSet:
        """The linked set of ``keys`` at ``end``; ``first``: the links of ``keys`` themselves, if read."""
        return self._close(keys, end, first)

    def lately_linked(self, keys: list[str]) -> bool:
        """Whether ``keys`` were lately found linked to other keys (their links are best read first)."""
        return self._linked(keys)

    def _linked(self, keys: list[str]) -> bool:
        with self._hint_lock:
            return tuple(keys) in self._linked_lately

    @contextmanager
    def one_answer(self) -> Iterator[None]:
        """Within the block, a subject's linked set is read once per (keys, until) and reused: one answer
        (a report, the desk's findings) sees one set of links, however many queries it asks. Nested
        blocks share the outer one's sets; outside any block every query reads the links afresh."""
        if _ANSWER_LINKS.get() is not None:
            yield
            return
        token = _ANSWER_LINKS.set({})
        try:
            yield
        finally:
            _ANSWER_LINKS.reset(token)

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
        keys = self.subject_keys(identifier, kind)
        linked = self._remembered(keys, params["until"])
        if linked is None and name in linked_pages() and since is None and offset == 0 and not self._linked(keys):
            # One statement for the usual question (the whole log up to until, first page): the page of
            # the searched keys with their links; complete, it holds every link the walk starts from.
            both = self.backend.run(f"{name}{WITH_LINKS}", {**params, "subject_keys": keys, "via_keys": [],
                                    "via_labels": [], "link_types": LINK_TYPES, **(extra or {})})  # fmt: skip
            page, links = split_links(name, both)
            if len(both.rows) < limit and len(links) < MAX_LINK_ROWS:
                linked = self._close(keys, params["until"], first=links)
                if linked.keys == keys:  # linked to no other key: the page is the answer
                    return page
        linked = linked or self._close(keys, params["until"])
        params["subject_keys"] = linked.keys
        params |= linked.params()
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


def split_links(name: str, both: QueryResult) -> tuple[QueryResult, list[LinkRow]]:
    """A ``<name>@links`` answer as the query's own page and the link events among its rows (oldest first)."""
    width = len(both.columns) - len(LINK_COLUMNS)
    if tuple(both.columns[width:]) != LINK_COLUMNS:
        if not both.rows:  # the embedded store names no columns of an empty answer, nor does it of the page's own
            return both, []
        raise QueryError(f"{name}{WITH_LINKS} answered columns {both.columns[width:]}, not {LINK_COLUMNS}")
    at, event_id = both.columns.index("occurred_at"), both.columns.index("event_id")
    links, rows = [], []
    for row in both.rows:
        key, subject_kind, event_type, linked_key, linked_kind = row[width:]
        if event_type in LINK_TYPES:
            links.append(
                LinkRow(key_text(key), subject_kind, linked_key, linked_kind, event_type, row[at], str(row[event_id]))
            )
        if event_type in LINK_TYPES and not linked_pages()[name]:
            continue  # widened to the links: not a row of the query's own answer
        rows.append(row[:width])
    links.sort(key=lambda r: (r.occurred_at, r.event_id))
    return QueryResult(both.columns[:width], both.types[:width], rows), links


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
