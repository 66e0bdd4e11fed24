"""The emitter's cached time window answers exactly what occurred_at_problem answers at the same clock
reading: over generated clock readings (forwards, within and across the refresh, and backwards) and
moments generated at and around both ends of the true window, of the cached one and of its margin."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pdtrail.schemas import TimeBounds, _time_bounds, load_register, occurred_at_problem, time_window
from pdtrail.schemas._time_bounds import ClockWindow

REGISTER = load_register()
US = dt.timedelta(microseconds=1)
SECOND_NS = 1_000_000_000
T0 = 1_780_000_000 * SECOND_NS + 123_456_789  # mid-2026, not on a microsecond

_steps = st.one_of(
    st.sampled_from([0, 1, 999, 1000, SECOND_NS - 1001, SECOND_NS - 1000, SECOND_NS - 1, SECOND_NS, -1, -1000]),
    st.integers(-3 * SECOND_NS, 3 * SECOND_NS),
)
_nudges = st.sampled_from([-2 * US, -US, dt.timedelta(0), US, 2 * US])
_ends = st.sampled_from(["earliest", "latest", "cached earliest", "cached latest", "margin", "inside"])


class _Clock:
    def __init__(self, reading: int) -> None:
        self.reading = reading

    def __call__(self) -> int:
        return self.reading


def _moment(end: str, nudge: dt.timedelta, now: dt.datetime, cached: dt.datetime, bounds: TimeBounds) -> dt.datetime:
    earliest, latest = time_window(REGISTER, bounds, now=now)
    cached_earliest, cached_latest = time_window(REGISTER, bounds, now=cached)
    base = {
        "earliest": earliest,
        "latest": latest,
        "cached earliest": cached_earliest,
        "cached latest": cached_latest,
        "margin": cached_earliest + dt.timedelta(seconds=1),
        "inside": now,
    }[end]
    return base + nudge


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(_steps, _ends, _nudges), min_size=1, max_size=40),
    st.sampled_from([0.0, 0.5, 300.0]),
    st.sampled_from([0, 365]),
)
def test_the_cached_window_answers_exactly_as_the_window_at_that_reading(
    steps: list[tuple[int, str, dt.timedelta]], skew: float, slack: int
) -> None:
    bounds = TimeBounds(max_future_skew_s=skew, past_slack_days=slack)
    clock = _Clock(T0)
    window = ClockWindow(REGISTER, bounds, refresh_s=1.0, clock=clock)
    window.problem(dt.datetime.now(dt.UTC))  # the window is computed at T0
    cached = ClockWindow.moment(T0)
    for step, end, nudge in steps:
        clock.reading += step
        now = ClockWindow.moment(clock.reading)
        if not window._state[0] <= clock.reading < window._state[1]:
            cached = now  # the window is computed anew at this reading
        moment = _moment(end, nudge, now, cached, bounds)
        assert window.problem(moment) == occurred_at_problem(moment, REGISTER, bounds, now=now), (end, nudge)


def test_a_window_without_its_margin_would_be_caught() -> None:
    """The check above holds the fast path to the exact rule: one that took the earliest moment at the
    reading it was computed at as certain for the whole second accepts an event the rule refuses."""
    bounds = TimeBounds()
    clock = _Clock(T0)
    window = ClockWindow(REGISTER, bounds, clock=clock)
    window.problem(dt.datetime.now(dt.UTC))
    cached_earliest, _ = time_window(REGISTER, bounds, now=ClockWindow.moment(T0))
    clock.reading += SECOND_NS // 2
    moment = cached_earliest + dt.timedelta(milliseconds=100)  # inside at T0, too old half a second later
    assert occurred_at_problem(moment, REGISTER, bounds, now=ClockWindow.moment(clock.reading)) is not None
    assert window.problem(moment) is not None


def test_a_clock_that_went_back_computes_the_window_anew() -> None:
    bounds = TimeBounds(max_future_skew_s=0.0)
    clock = _Clock(T0)
    window = ClockWindow(REGISTER, bounds, clock=clock)
    at_t0 = ClockWindow.moment(T0)
    assert window.problem(at_t0) is None
    clock.reading -= 10 * SECOND_NS  # the host's clock was set back
    assert window.problem(at_t0) is not None  # ten seconds in the future now
    assert window._state[0] == clock.reading


def test_within_the_second_the_window_is_not_computed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock(T0)
    window = ClockWindow(REGISTER, TimeBounds(), clock=clock)
    calls = []
    real = _time_bounds.time_window

    def counted(*args: object, **kwargs: object) -> tuple[dt.datetime, dt.datetime]:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_time_bounds, "time_window", counted)
    for offset in range(0, SECOND_NS, SECOND_NS // 100):
        clock.reading = T0 + offset
        assert window.problem(ClockWindow.moment(T0) - dt.timedelta(days=30)) is None
    assert len(calls) == 1
    clock.reading = T0 + SECOND_NS
    window.problem(ClockWindow.moment(T0))
    assert len(calls) == 2


def test_the_reading_is_what_datetime_now_reads() -> None:
    before = dt.datetime.now(dt.UTC)
    reading = ClockWindow.moment(time.time_ns())
    after = dt.datetime.now(dt.UTC)
    assert before <= reading <= after
