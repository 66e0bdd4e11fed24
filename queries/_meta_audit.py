"""Meta-audit: a DPO's lookup in the audit log is itself processing of the subject's data, and is
recorded as an access event through the same SDK → Kafka → ClickHouse path as any other. So "who
looked at this subject's audit trail" is answered by ``who_accessed``, like everything else."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from pdtrail.config import Settings
from pdtrail.producers import AuditEmitter, InvalidEventError
from pdtrail.queries.exceptions import InvalidQueryParameterError, LookupNotRecordedError
from pdtrail.schemas import (
    Actor,
    PersonalDataAccessed,
    PseudonymousSubject,
    SubjectIdentifier,
    SubjectKind,
    guess_subject_kind,
    load_register,
)

logger = logging.getLogger("pdtrail.queries")

COMPLAINT_HANDLING = "dpo.complaint_handling"
ACCESS_REQUEST = "dpo.access_request"
DPO_PURPOSES = (COMPLAINT_HANDLING, ACCESS_REQUEST)
INVESTIGATION = "dpo.investigation"  # actor activity: what one employee or service did
DPO_ROLE = "dpo"


def _emit(emitter: AuditEmitter, event: PersonalDataAccessed) -> UUID:
    try:
        return emitter.emit(event)
    except InvalidEventError as exc:  # the register (as configured) does not cover the DPO's lookups
        raise LookupNotRecordedError(f"the lookup was not recorded: {exc}") from None


def _declared(settings: Settings, purpose: str, categories: Sequence[str]) -> tuple[str, ...]:
    entry = load_register(settings.processing_register.path).purposes.get(purpose)
    allowed = set(entry.categories) if entry else {"audit_log"}
    return tuple(c for c in dict.fromkeys(["audit_log", *categories]) if c in allowed) or ("audit_log",)


def record_lookup(
    settings: Settings,
    actor_id: str,
    purpose: str,
    identifier: str | PseudonymousSubject,
    kind: SubjectKind | str | None = None,
    what: str = "timeline",
    *,
    categories: Sequence[str] = ("audit_log",),
    source_system: str = "pdtrail-cli",
    access_kind: str = "search",
    emitter: AuditEmitter | None = None,
    wait_s: float | None = 10.0,
) -> UUID:
    """Record that ``actor_id`` (the DPO) looked up the subject's ``what`` for ``purpose``
    (``dpo.complaint_handling`` or ``dpo.access_request``), legal basis legal obligation. The subject is
    the raw ``identifier`` (pseudonymised by the SDK) or, for a caller that holds keys only, its key.

    ``categories`` are what the lookup returned, as far as the processing register declares them for
    the purpose: the log holds category names, not the data, so the shipped register declares
    ``audit_log`` alone and that is what is recorded (an event outside the register would be refused).
    ``access_kind`` is ``search`` for a query and ``export`` for a report.

    With its own emitter (``emitter=None``) it waits for delivery; with a shared one it waits
    ``wait_s`` seconds (None: not at all; the emitter's delivery reports then count any failure).
    Raises :class:`LookupNotRecordedError` when delivery is not confirmed in time, and
    :class:`InvalidQueryParameterError` for an unusable actor, purpose or identifier.
    Returns the event id.
    """
    if purpose not in DPO_PURPOSES:
        raise InvalidQueryParameterError("purpose", f"must be one of {', '.join(DPO_PURPOSES)}")
    subject: SubjectIdentifier | PseudonymousSubject
    try:
        if isinstance(identifier, PseudonymousSubject):  # the desk holds a case by its keys
            subject = identifier
        else:
            resolved = SubjectKind(kind) if kind else guess_subject_kind(identifier)
            subject = SubjectIdentifier(kind=resolved, value=identifier)
    except (InvalidEventError, ValueError) as exc:
        raise InvalidQueryParameterError("identifier", getattr(exc, "reason", "not a valid identifier")) from None
    try:
        actor = Actor(type="employee", id=actor_id, role=DPO_ROLE)
    except InvalidEventError as exc:
        raise InvalidQueryParameterError("actor_id", exc.reason) from None
    try:
        event = PersonalDataAccessed(
            subject=subject,
            actor=actor,
            purpose=purpose,
            legal_basis="legal_obligation",
            data_categories=_declared(settings, purpose, categories),
            source_system=source_system,
            access_kind=access_kind,
            resource=f"audit_log/{what}",
        )
    except InvalidEventError as exc:
        raise InvalidQueryParameterError(exc.field, exc.reason) from None
    (event_id,) = _deliver(settings, [event], emitter, wait_s)
    logger.info("lookup %s recorded as event %s", what, event_id)
    return event_id


def record_activity_lookup(
    settings: Settings,
    actor_id: str,
    investigated: str,
    subjects: Sequence[Mapping[str, Any]],
    *,
    source_system: str = "pdtrail-cli",
    emitter: AuditEmitter | None = None,
    wait_s: float | None = 10.0,
) -> list[UUID]:
    """Record an actor-activity lookup: one access event (purpose ``dpo.investigation``) for every subject
    in the answer, ``subjects`` being its rows (``subject``, ``subject_kind``, ``key_version``).

    The answer names no identifier, but it shows each subject's pseudonymous key and what was done to
    their data, which is processing of it; so each of them finds the lookup in ``who_accessed`` like
    any other. The events carry the keys as they are (the SDK re-keys only raw identifiers). An empty
    answer showed nobody's data and records nothing. Raises as :func:`record_lookup` does."""
    try:
        actor = Actor(type="employee", id=actor_id, role=DPO_ROLE)
    except InvalidEventError as exc:
        raise InvalidQueryParameterError("actor_id", exc.reason) from None
    try:
        events = [
            PersonalDataAccessed(
                subject=PseudonymousSubject(
                    key=str(row["subject"]), key_version=int(row["key_version"]), kind=row["subject_kind"]
                ),
                actor=actor,
                purpose=INVESTIGATION,
                legal_basis="legal_obligation",
                data_categories=_declared(settings, INVESTIGATION, ()),
                source_system=source_system,
                access_kind="search",
                resource=f"audit_log/actor_activity/{investigated}",
            )
            for row in subjects
        ]
    except InvalidEventError as exc:  # the investigated actor's id goes into ``resource``
        raise InvalidQueryParameterError("investigated" if exc.field == "resource" else exc.field, exc.reason) from None
    ids = _deliver(settings, events, emitter, wait_s) if events else []
    logger.info("actor activity lookup recorded for %d subjects", len(ids))
    return ids


def _deliver(
    settings: Settings, events: Sequence[PersonalDataAccessed], emitter: AuditEmitter | None, wait_s: float | None
) -> list[UUID]:
    # With a shared emitter the caller may confirm later (the desk runs its query meanwhile); with none,
    # a short-lived one is made and confirmed here.
    if emitter is not None:
        failed_before = emitter.stats.failed
        ids = [_emit(emitter, event) for event in events]
        if wait_s is not None:
            ensure_recorded(settings, emitter, wait_s, failed_before)
        return ids
    own = AuditEmitter(settings)
    try:
        ids = [_emit(own, event) for event in events]
        ensure_recorded(settings, own, wait_s or 10.0, 0)
    finally:
        own.close(timeout=0)  # already persisted: do not wait a second time on a broker that is down
    return ids


def ensure_recorded(settings: Settings, emitter: AuditEmitter, wait_s: float, failed_before: int) -> None:
    """The one rule for every lookup, CLI or desk: it is answered only once its event is delivered to Kafka
    or on disk in the SDK's spool (from where it goes to Kafka, in order, when the broker is back)."""
    not_durable = emitter.persist(wait_s)
    if not_durable or emitter.stats.failed > failed_before:
        raise LookupNotRecordedError(
            f"the lookup was not recorded in the audit log: Kafka at {settings.kafka.bootstrap_servers} did not "
            f"confirm it within {wait_s:g}s and the SDK has no spool to keep it (is the broker running? "
            "`pdtrail broker status`), so it is not answered: the audit log must show every lookup"
        )
    if emitter.stats.spooled:
        logger.warning(
            "the lookup is kept in the SDK's spool (Kafka at %s did not confirm it within %gs); "
            "it reaches the audit log when the broker is back",
            settings.kafka.bootstrap_servers,
            wait_s,
        )
