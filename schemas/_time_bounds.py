"""The window an event's ``occurred_at`` must fall in, so that no event is stored where nobody looks.

An event dated centuries away would be stored in a monthly partition of its own, beyond any period a DPO
asks about. So an event is refused when it is older than the longest retention in the processing register
plus ``time_bounds.past_slack_days`` (nothing that old may still be processed, nor recorded now), or later
than this host's clock plus ``time_bounds.max_future_skew_s`` (clocks differ by seconds, not days).
:func:`occurred_at_problem` is the one check; the SDK runs it with the register check, and a consumer can
run it on what it reads (with the moment the event reached Kafka as ``now``).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pdtrail.schemas._register import ProcessingRegister


@dataclass(frozen=True)
class TimeBounds:
    """``max_future_skew_s`` and ``past_slack_days`` of the ``time_bounds`` settings."""

    max_future_skew_s: float = 300.0
    past_slack_days: int = 365

    # As spans, made once: the window is computed for every emitted event.
    @functools.cached_property
    def future_skew(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.max_future_skew_s)

    @functools.cached_property
    def past_slack(self) -> dt.timedelta:
        return dt.timedelta(days=self.past_slack_days)

    @classmethod
    def from_settings(cls, section: Any) -> TimeBounds:
        return cls(max_future_skew_s=section.max_future_skew_s, past_slack_days=section.past_slack_days)


@functools.cache
def configured_time_bounds() -> TimeBounds:
    """The ``time_bounds`` of this process's configuration (read once); the defaults if it cannot be read."""
    from pdtrail.config import load_settings
    from pdtrail.errors import ConfigError

    try:
        return TimeBounds.from_settings(load_settings().time_bounds)
    except ConfigError:
        return TimeBounds()


def time_window(
    register: ProcessingRegister, bounds: TimeBounds | None = None, *, now: dt.datetime | None = None
) -> tuple[dt.datetime, dt.datetime]:
    """The earliest and the latest ``occurred_at`` accepted at ``now`` (default: this host's clock)."""
    bounds = bounds or configured_time_bounds()
    now = now or dt.datetime.now(dt.UTC)
    return now - register.longest_retention - bounds.past_slack, now + bounds.future_skew


def occurred_at_problem(
    occurred_at: dt.datetime,
    register: ProcessingRegister,
    bounds: TimeBounds | None = None,
    *,
    now: dt.datetime | None = None,
) -> str | None:
    """Why ``occurred_at`` lies outside the window (a reason without the value), or None when it is inside."""
    bounds = bounds or configured_time_bounds()
    earliest, latest = time_window(register, bounds, now=now)
    if occurred_at > latest:
        return (
            f"is more than {bounds.max_future_skew_s:g} s in the future "
            "(time_bounds.max_future_skew_s); check the clock of the service"
        )
    if occurred_at < earliest:
        return (
            f"is older than the longest retention in the processing register {register.version} "
            f"plus {bounds.past_slack_days} days (time_bounds.past_slack_days)"
        )
    return None
