"""Pseudonymisation: the raw identifier becomes an HMAC-SHA256 key inside the SDK and goes no further."""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Mapping

from pdtrail.schemas import ProcessingEvent, PseudonymousSubject, SubjectIdentifier, SubjectKind, normalise_identifier


class Pseudonymiser:
    """Keys subjects with HMAC-SHA256 over ``"<kind>:<normalised identifier>"``.

    The kind is part of the message so that a customer id that happens to equal an e-mail address or a
    personnummer never collides with it. ``secrets`` maps key version to secret; ``current_version``
    keys new events, and lookups try every version so rotation never hides older events.

    A subject is usually emitted many times in a row, so the last ``cache_size`` pseudonyms are kept
    (an LRU keyed by kind, normalised identifier and key version; 0 turns it off). It is bounded, lives as
    long as this object, and a rotation (a new key version) never hits an entry of the old one: the
    version is part of the key, and the secrets of a version never change within one Pseudonymiser.
    It holds up to ``cache_size`` normalised identifiers in memory — the process has them anyway, in the
    events it builds.
    """

    def __init__(self, secrets: Mapping[int, bytes], current_version: int, *, cache_size: int = 4096) -> None:
        if current_version not in secrets:
            raise ValueError(f"no secret for the current key version {current_version}")
        self._secrets = dict(secrets)
        self.current_version = current_version
        self.cache_size = cache_size
        self._cached = functools.lru_cache(maxsize=cache_size)(self._subject) if cache_size else self._subject

    @classmethod
    def from_settings(cls, settings: object) -> Pseudonymiser:
        pseudonym = settings.pseudonym  # type: ignore[attr-defined]
        cache_size = getattr(getattr(settings, "emitter", None), "pseudonym_cache_size", 4096)
        return cls(pseudonym.secrets(), pseudonym.key_version, cache_size=cache_size)

    def _key(self, version: int, kind: SubjectKind, normalised: str) -> str:
        message = f"{kind.value}:{normalised}".encode()
        return hmac.new(self._secrets[version], message, hashlib.sha256).hexdigest()

    def pseudonymise(self, subject: SubjectIdentifier, *, version: int | None = None) -> PseudonymousSubject:
        """The subject as the log will know it, under the current key version (or ``version``)."""
        chosen = self.current_version if version is None else version
        if chosen not in self._secrets:
            raise ValueError(f"no secret for key version {chosen}")
        return self._cached(subject.kind, subject.value.get_secret_value(), chosen)

    def pseudonymise_event(self, event: ProcessingEvent) -> ProcessingEvent:
        """``event`` with its subject (and a link event's other identifier) keyed under the current version."""
        update: dict[str, PseudonymousSubject] = {}
        if isinstance(event.subject, SubjectIdentifier):
            update["subject"] = self.pseudonymise(event.subject)
        linked = getattr(event, "linked", None)
        if isinstance(linked, SubjectIdentifier):
            update["linked"] = self.pseudonymise(linked)
        return event.model_copy(update=update) if update else event

    def every_version(self, subject: SubjectIdentifier) -> list[PseudonymousSubject]:
        """The subject under every key version known here, oldest first (what a link is written under)."""
        return [self._cached(subject.kind, subject.value.get_secret_value(), v) for v in sorted(self._secrets)]

    def _subject(self, kind: SubjectKind, normalised: str, version: int) -> PseudonymousSubject:
        key = self._key(version, kind, normalised)
        # Built from a hex digest and a checked version: valid by construction, so skip re-validation.
        # Frozen, so one instance can stand for the subject in every event that names them.
        return PseudonymousSubject.model_construct(key=key, key_version=version, kind=kind)

    def lookup_keys(self, kind: SubjectKind, raw: str) -> list[str]:
        """Every key this identifier may have been stored under, one per known key version.

        Raises ValueError (without repeating the identifier) when it does not validate for ``kind``.
        """
        normalised = normalise_identifier(kind, raw)
        return [self._key(version, kind, normalised) for version in sorted(self._secrets)]
