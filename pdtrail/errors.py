"""The one exception root of pdtrail.

Every error pdtrail raises on purpose derives from :class:`PdtrailError`, so a service can catch the
whole family with one ``except``. Sub-packages define their own errors in their ``exceptions`` module;
each carries structured fields (``field``, ``reason``, ``topic``, ``partition``, ``offset``) rather than
meaning hidden in the message text. :class:`RetryableError` marks failures worth trying again.
"""

from __future__ import annotations

import logging

# librdkafka's own log lines (retries while a broker starts, reconnects) go here, apart from pdtrail's;
# the CLI shows them with --verbose only.
LIBRDKAFKA_LOGGER = logging.getLogger("pdtrail.librdkafka")


class PdtrailError(Exception):
    """Root of every error pdtrail raises on purpose."""


class RetryableError(PdtrailError):
    """A transient failure: the same call may succeed later (broker or store unreachable)."""


class ConfigError(PdtrailError):
    """The configuration is missing a value or has one that cannot work.

    ``setting`` names the setting (as its environment variable) and ``reason`` says what is wrong.
    """

    def __init__(self, setting: str, reason: str) -> None:
        self.setting = setting
        self.reason = reason
        super().__init__(f"{setting}: {reason}")
