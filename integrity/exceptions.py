"""Errors of the integrity layer."""

from __future__ import annotations

from pdtrail.errors import PdtrailError


class IntegrityError(PdtrailError):
    """Root of the integrity errors."""


class SigningKeyError(IntegrityError):
    """No usable signing key, or a public key that cannot be read; ``source`` names where it looked."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


class ProofError(IntegrityError):
    """No proof can be made for an event (unknown, or not yet covered by a checkpoint)."""
