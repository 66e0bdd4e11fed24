"""Pseudonymisation: the raw identifier becomes an HMAC-SHA256 key inside the SDK and goes no further."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from pdtrail.schemas import PseudonymousSubject, SubjectIdentifier, SubjectKind, normalise_identifier


class Pseudonymiser:
    """Keys subjects with HMAC-SHA256 over ``"<kind>:<normalised identifier>"``.

    The kind is part of the message so that a customer id that happens to equal an e-mail address or a
    personnummer never collides with it. ``secrets`` maps key version to secret; ``current_version``
    keys new events, and lookups try every version so rotation never hides older events.
    """

    def __init__(self, secrets: Mapping[int, bytes], current_version: int) -> None:
        if current_version not in secrets:
            raise ValueError(f"no secret for the current key version {current_version}")
        self._secrets = dict(secrets)
        self.current_version = current_version

    @classmethod
    def from_settings(cls, settings: object) -> Pseudonymiser:
        pseudonym = settings.pseudonym  # type: ignore[attr-defined]
        return cls(pseudonym.secrets(), pseudonym.key_version)

    def _key(self, version: int, kind: SubjectKind, normalised: str) -> str:
        message = f"{kind.value}:{normalised}".encode()
        return hmac.new(self._secrets[version], message, hashlib.sha256).hexdigest()

    def pseudonymise(self, subject: SubjectIdentifier) -> PseudonymousSubject:
        """The subject as the log will know it, under the current key version."""
        key = self._key(self.current_version, subject.kind, subject.value.get_secret_value())
        # Built from a hex digest and a checked version: valid by construction, so skip re-validation.
        return PseudonymousSubject.model_construct(key=key, key_version=self.current_version, kind=subject.kind)

    def lookup_keys(self, kind: SubjectKind, raw: str) -> list[str]:
        """Every key this identifier may have been stored under, one per known key version.

        Raises ValueError (without repeating the identifier) when it does not validate for ``kind``.
        """
        normalised = normalise_identifier(kind, raw)
        return [self._key(version, kind, normalised) for version in sorted(self._secrets)]
