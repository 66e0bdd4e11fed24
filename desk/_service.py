"""What the API and the web UI both do: ask the lineage queries, record the lookup, build reports.

Every answer about a subject is recorded first-hand as a meta-audit access event (actor = the
token's identity, purpose = the case's purpose) through the SDK; a lookup that Kafka does not
confirm is not answered (``desk.confirm_lookups_s``), so the audit log never misses who looked. The
event leaves before the query runs, so an attempt the query then refuses (say, an inverted period)
is recorded too.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pdtrail.config import Settings
from pdtrail.desk._answers import PAGED_VIEWS, CaseLineage, LockedBackend, Page, json_rows, plain, queries_part
from pdtrail.desk._auth import Permission, Principal
from pdtrail.desk._cases import CaseBook, SubjectCase, dpo_purpose
from pdtrail.desk._refs import RefKeys
from pdtrail.desk.exceptions import DeskError, forbidden, invalid
from pdtrail.errors import PdtrailError
from pdtrail.producers import AuditEmitter, Pseudonymiser
from pdtrail.queries import (
    InvalidQueryParameterError,
    LocalQueries,
    QueryBackend,
    RetentionRules,
    actor_activity,
    ensure_recorded,
    record_activity_lookup,
    record_lookup,
    reports,
)
from pdtrail.queries._labels import register_labels
from pdtrail.schemas import SubjectKind, guess_subject_kind, load_register


class Desk:
    """The DPO's desk over one query backend. Thread-safe; one per app. References are sealed under
    ``ref_keys`` (default: from ``desk.ref_keys_file``, or the local key file under ``home``)."""

    def __init__(
        self,
        settings: Settings,
        backend: QueryBackend,
        *,
        recorder: Callable[..., Any] | None = None,
        ref_keys: RefKeys | None = None,
    ) -> None:
        self.settings = settings
        self.backend = LockedBackend(backend)
        pseudonymiser = Pseudonymiser.from_settings(settings)
        self.lineage = CaseLineage(self.backend, pseudonymiser)
        keys = ref_keys or RefKeys.from_settings(settings)
        self.cases = CaseBook(keys, pseudonymiser, ttl_s=settings.desk.ref_ttl_s)
        self._record_lookup = recorder or record_lookup
        self._emitter: AuditEmitter | None = None
        self._emitter_lock = threading.Lock()

    # -- access and cases -------------------------------------------------------------------------

    @staticmethod
    def require(principal: Principal, permission: Permission) -> None:
        if not principal.may(permission):
            raise forbidden(principal.role, permission.value)

    def open_case(self, principal: Principal, identifier: str, kind: str | None, purpose: str | None) -> SubjectCase:
        self.require(principal, Permission.LINEAGE)
        if not identifier or not identifier.strip():
            raise invalid("identifier", "is required")
        resolved_purpose = dpo_purpose(purpose)
        raw = identifier.strip()
        try:
            self.lineage.subject_keys(raw, kind or None)  # validates, naming the field that is wrong
        except InvalidQueryParameterError as exc:
            raise invalid(exc.parameter, exc.reason) from None
        resolved = SubjectKind(kind) if kind else guess_subject_kind(raw)
        case = self.cases.open(principal.identity, raw, resolved, resolved_purpose)
        # Opening a case shows that the subject is known to the desk: a lookup like any other.
        with self.recorded(principal, case, "subject_lookup"):
            pass
        return case

    def case(self, principal: Principal, reference: str) -> SubjectCase:
        self.require(principal, Permission.LINEAGE)
        return self.cases.get(principal.identity, reference)

    # -- meta-audit -------------------------------------------------------------------------------

    def _emitter_for_lookups(self) -> AuditEmitter:
        with self._emitter_lock:
            if self._emitter is None:
                self._emitter = AuditEmitter(self.settings)
            return self._emitter

    @contextmanager
    def recorded(
        self, principal: Principal, case: SubjectCase, what: str, *, access_kind: str = "search"
    ) -> Iterator[None]:
        """Records the lookup around the query: the event is handed to Kafka first, the query runs while
        it travels, and the answer leaves only once the event is delivered or on disk in the SDK's spool
        (``desk.confirm_lookups_s``; see :func:`pdtrail.queries.ensure_recorded`)."""
        emitter = self._emitter_for_lookups()
        failed_before = emitter.stats.failed
        self._record_lookup(
            self.settings, principal.identity, case.purpose, case.subject, case.kind, what,
            source_system="pdtrail-desk", access_kind=access_kind, emitter=emitter, wait_s=None,
        )  # fmt: skip
        yield
        wait = self.settings.desk.confirm_lookups_s
        if wait:
            ensure_recorded(self.settings, emitter, wait, failed_before)

    def close(self) -> None:
        with self._emitter_lock:
            if self._emitter is not None:
                self._emitter.close(timeout=5.0)
                self._emitter = None

    # -- answers ----------------------------------------------------------------------------------

    def _ask(self, call: Callable[[], Any], *, renamed: Mapping[str, str] | None = None) -> Any:
        """``call()``, a refused parameter as a 422 naming the request's field (``renamed`` maps a query's
        parameter name to the request's where they differ)."""
        try:
            return call()
        except InvalidQueryParameterError as exc:
            raise invalid((renamed or {}).get(exc.parameter, exc.parameter), exc.reason) from None

    def page(
        self, principal: Principal, case: SubjectCase, view: str, since: dt.datetime | None,
        until: dt.datetime | None, limit: int, offset: int,
    ) -> Page:  # fmt: skip
        if view not in PAGED_VIEWS:
            raise DeskError(404, "not_found", f"no view named {view!r}", "view")
        limit, offset = self.check_page(limit, offset)
        ask = getattr(self.lineage, view)
        # One row more than asked tells whether there is a next page.
        with self.recorded(principal, case, view):
            result = self._ask(
                lambda: ask(case.identifier, kind=case.kind, since=since, until=until, limit=limit + 1, offset=offset)
            )
            rows = json_rows(result)
        return Page(rows[:limit], limit, offset, len(rows) > limit)

    def check_page(self, limit: int | None, offset: int | None) -> tuple[int, int]:
        largest = self.settings.desk.max_page_size
        limit = min(100, largest) if limit is None else limit
        offset = 0 if offset is None else offset
        if not 1 <= limit <= largest:
            raise invalid("limit", f"must be between 1 and {largest}")
        if not 0 <= offset <= 10_000_000:
            raise invalid("offset", "must be between 0 and 10000000")
        return limit, offset

    def state_at(
        self, principal: Principal, case: SubjectCase, view: str, at: dt.datetime | None
    ) -> list[dict[str, Any]]:
        """``consent_state`` or ``retention_status`` as it stood at ``at`` (default now)."""
        ask = getattr(self.lineage, view)
        with self.recorded(principal, case, view):
            rows = json_rows(self._ask(lambda: ask(case.identifier, kind=case.kind, at=at)))
        return rows

    def graph(
        self, principal: Principal, case: SubjectCase, since: dt.datetime | None, until: dt.datetime | None
    ) -> Any:
        with self.recorded(principal, case, "lineage_graph"):
            graph = self._ask(
                lambda: self.lineage.lineage_graph(case.identifier, kind=case.kind, since=since, until=until)
            )
        return graph

    def picture(self, graph: Any) -> tuple[bytes, str]:
        # Purposes, bases and categories by their labels in the register the desk checks against.
        labels = register_labels(load_register(self.settings.processing_register.path))
        image = reports.lineage_picture(graph, labels=labels)
        return image, ("image/png" if image[:8] == b"\x89PNG\r\n\x1a\n" else "image/svg+xml")

    def findings(
        self, principal: Principal, case: SubjectCase, since: dt.datetime | None, until: dt.datetime | None
    ) -> list[dict[str, Any]]:
        self.require(principal, Permission.FINDINGS)
        find = queries_part("person_findings")  # the linked person's, their rows read with their links
        self._ask(lambda: self.lineage.subject_keys(case.identifier, case.kind))  # a bad case refused first
        with self.recorded(principal, case, "findings"):
            found = self._ask(lambda: find(self.lineage, case.identifier, case.kind, since=since, until=until))
            rows = [f.as_dict() if hasattr(f, "as_dict") else plain(f) for f in found]
        return rows

    def activity(
        self, principal: Principal, actor_id: str, since: dt.datetime | None, until: dt.datetime | None,
        limit: int, offset: int,
    ) -> Page:  # fmt: skip
        """Every subject one employee or service touched (pseudonymous keys): for insider investigations.
        The lookup is recorded for every subject on the page (purpose ``dpo.investigation``) before the
        page leaves, under the same rule as a subject lookup."""
        self.require(principal, Permission.ACTIVITY)
        limit, offset = self.check_page(limit, offset)
        result = self._ask(lambda: actor_activity(self.backend, actor_id, since, until, limit=limit + 1, offset=offset))
        found = json_rows(result)
        rows = found[:limit]
        emitter = self._emitter_for_lookups()
        self._ask(
            lambda: record_activity_lookup(
                self.settings, principal.identity, actor_id, rows, source_system="pdtrail-desk", emitter=emitter,
                wait_s=self.settings.desk.confirm_lookups_s or None,
            ),
            renamed={"investigated": "actor_id"},  # the investigated actor is the request's actor_id
        )  # fmt: skip
        return Page(rows, limit, offset, len(found) > limit)

    def report(
        self, principal: Principal, case: SubjectCase, kind: str, since: dt.datetime | None,
        until: dt.datetime | None, reference: str = "", *, verify: bool = True,
    ) -> dict[str, Any]:  # fmt: skip
        """The access report (GDPR Art. 15) or the complaint response for the authority (``reference``:
        the case's number, the request's or the authority's), as JSON-able data. The complaint response
        always says how to verify the log; with ``verify`` and the store in this process it also holds the
        result of verifying the signed checkpoints of the period (as ``pdtrail report complaint`` does)."""
        self.require(principal, Permission.REPORTS)
        if kind not in ("access", "complaint"):
            raise invalid("kind", "must be access or complaint")
        if len(reference) > 100:
            raise invalid("case_reference", "at most 100 characters")  # the request's name for it
        register_path = self.settings.processing_register.path
        window = {"kind": case.kind, "since": since, "until": until}
        with self.recorded(principal, case, f"{kind}_report", access_kind="export"):
            if kind == "access":
                rules = RetentionRules.from_register(register_path)
                return self._ask(
                    lambda: reports.access_report(
                        self.lineage, case.identifier, **window, rules=rules, reference=reference
                    )
                )
            checked = self._integrity(case, since, until) if verify else None
            register = load_register(register_path)
            report: dict[str, Any] = self._ask(
                lambda: reports.complaint_report(
                    self.lineage, case.identifier, **window, integrity=checked, reference=reference, register=register
                )
            )
        return report

    def _integrity(self, case: SubjectCase, since: dt.datetime | None, until: dt.datetime | None) -> Any:
        """``pdtrail verify`` over the subject's period, when this process holds the store itself."""
        inner = self.backend.backend
        if not isinstance(inner, LocalQueries):
            return None  # the store's owner holds it: the report gives the commands instead
        times = self._ask(lambda: self.lineage.timeline(case.identifier, kind=case.kind, since=since, until=until))
        if not times.rows:
            return None
        start, end = since or times.rows[0][0], until or times.rows[-1][0] + dt.timedelta(seconds=1)
        try:
            with self.backend.lock:
                return reports.integrity_check(self.settings, inner.client, start, end)
        except PdtrailError:
            return None

    def pdf(self, report: Mapping[str, Any], lang: str) -> bytes:
        if lang not in ("en", "sv"):
            raise invalid("lang", "must be en or sv")
        data: bytes = reports.render_pdf(dict(report), lang=lang)
        return data
