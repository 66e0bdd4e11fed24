"""The window an event's ``occurred_at`` must fall in, so that no event is stored where nobody looks.

An event dated centuries away would be stored in a monthly partition of its own, beyond any period a DPO
asks about. So an event is refused when it is older than the longest retention in the processing register
plus ``time_bounds.past_slack_days`` (nothing that old may still be processed, nor recorded now), or later
than this host's clock plus ``time_bounds.max_future_skew_s`` (clocks differ by seconds, not days).
:func:`occurred_at_problem` is the one check; the SDK runs it with the register check, and a consumer can
run it on what it reads (with the moment the event reached Kafka as ``now``). :class:`ClockWindow` gives
the same answer at this host's clock without computing the window for every event.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Callable
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


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class ClockWindow:
    """:func:`occurred_at_problem` at this host's clock, with the window computed about once a second
    instead of for every event (reading the clock as a datetime and the window's two sums cost more than
    the rest of the register check).

    The window computed at clock reading ``t0`` serves while the clock reads from ``t0`` to just under
    ``t0 + refresh``. In that time the true latest moment is never earlier than the one at ``t0`` (it
    only grows with the clock), and the true earliest is never later than the one at ``t0`` plus
    ``refresh``. So an ``occurred_at`` between those two is inside the true window, certainly; anything
    else (an event dated within ``refresh`` of the oldest accepted moment, or past the latest at ``t0``)
    takes the exact check at the clock's reading, and a clock that went back computes the window anew.
    ``clock`` gives nanoseconds since the epoch, UTC (``time.time_ns``); "now" is that reading to the
    microsecond, rounded down, as ``datetime.now()`` reads it."""

    __slots__ = ("_bounds", "_clock", "_refresh", "_refresh_ns", "_register", "_state")

    def __init__(
        self,
        register: ProcessingRegister,
        bounds: TimeBounds | None = None,
        *,
        refresh_s: float = 1.0,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._register = register
        self._bounds = bounds or configured_time_bounds()
        self._clock = clock
        # Whole microseconds, so that "under t0 + refresh" in nanoseconds stays within t0 + refresh in
        # datetime's microseconds.
        self._refresh = dt.timedelta(microseconds=max(1, round(refresh_s * 1e6)))
        self._refresh_ns = self._refresh // dt.timedelta(microseconds=1) * 1000
        # (from_ns, until_ns, certainly_not_early, certainly_not_late): one tuple, replaced whole, so a
        # thread never reads the bounds of one reading with the span of another.
        self._state: tuple[int, int, dt.datetime, dt.datetime] = (0, -1, _EPOCH, _EPOCH)

    @staticmethod
    def moment(clock_ns: int) -> dt.datetime:
        """The clock reading ``clock_ns`` as the datetime the window is computed from."""
        return _EPOCH + dt.timedelta(microseconds=clock_ns // 1000)

    def problem(self, occurred_at: dt.datetime) -> str | None:
        """What ``occurred_at_problem(occurred_at, register, bounds)`` answers at the clock's reading now."""
        t = self._clock()
        since, until, not_early, not_late = self._state
        if not since <= t < until:
            since, until, not_early, not_late = self._state = self._computed(t)
        if not_early <= occurred_at <= not_late:
            return None
        return occurred_at_problem(occurred_at, self._register, self._bounds, now=self.moment(t))

    def _computed(self, t: int) -> tuple[int, int, dt.datetime, dt.datetime]:
        earliest, latest = time_window(self._register, self._bounds, now=self.moment(t))
        return t, t + self._refresh_ns, earliest + self._refresh, latest
