"""Events dated where nobody looks: the SDK refuses an occurred_at outside its window (in either register
mode), and the DPO's questions without a period read the whole log, so a row stored at any date shows."""

from __future__ import annotations

import datetime as dt
import random
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pdtrail.config import Settings
from pdtrail.consumers import COLUMNS
from pdtrail.consumers._rows import event_row
from pdtrail.producers import AuditEmitter, Pseudonymiser
from pdtrail.queries import LocalQueries, SubjectLineage, actor_activity, findings
from pdtrail.schemas import (
    InvalidEventError,
    PersonalDataAccessed,
    SchemaCatalog,
    TimeBounds,
    load_register,
    occurred_at_problem,
    time_window,
)
from pdtrail.schemas._time_bounds import configured_time_bounds
from pdtrail.simulate import generate_personnummer
from pdtrail.store import connect
from tests.unit._factories import event_data

REGISTER = load_register()
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
_any_moment = st.datetimes(
    min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=st.just(dt.UTC)
)


def test_the_window_is_the_longest_retention_plus_slack_and_a_small_skew() -> None:
    earliest, latest = time_window(REGISTER, TimeBounds(), now=NOW)
    assert REGISTER.longest_retention == dt.timedelta(days=7 * 365.25)  # bookkeeping, 7 years
    assert earliest == NOW - dt.timedelta(days=7 * 365.25 + 365)
    assert latest == NOW + dt.timedelta(seconds=300)


@settings(max_examples=500, deadline=None)
@given(_any_moment, st.floats(0, 86_400), st.integers(0, 3650))
def test_a_moment_is_refused_exactly_outside_the_window(moment: dt.datetime, skew: float, slack: int) -> None:
    bounds = TimeBounds(max_future_skew_s=skew, past_slack_days=slack)
    earliest, latest = time_window(REGISTER, bounds, now=NOW)
    reason = occurred_at_problem(moment, REGISTER, bounds, now=NOW)
    assert (reason is None) == (earliest <= moment <= latest)
    if reason is not None:
        assert moment.isoformat()[:10] not in reason and f"{moment:%Y-%m}" not in reason  # never the value


def test_the_bounds_come_from_the_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PDTRAIL_TIME_BOUNDS__MAX_FUTURE_SKEW_S", "5")
    monkeypatch.setenv("PDTRAIL_TIME_BOUNDS__PAST_SLACK_DAYS", "0")
    configured_time_bounds.cache_clear()
    try:
        assert configured_time_bounds() == TimeBounds(max_future_skew_s=5, past_slack_days=0)
        soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)
        assert occurred_at_problem(soon, REGISTER) is not None  # 60 s ahead: beyond the configured 5 s
        monkeypatch.delenv("PDTRAIL_TIME_BOUNDS__MAX_FUTURE_SKEW_S")
        monkeypatch.delenv("PDTRAIL_TIME_BOUNDS__PAST_SLACK_DAYS")
        configured_time_bounds.cache_clear()
        assert occurred_at_problem(soon, REGISTER) is None  # the default skew is 300 s
    finally:
        configured_time_bounds.cache_clear()


@pytest.mark.parametrize("mode", ["enforce", "record"])
def test_the_sdk_refuses_an_event_outside_the_window_in_either_mode(pipeline: Settings, mode: str) -> None:
    settings_ = pipeline.model_copy(
        update={"processing_register": pipeline.processing_register.model_copy(update={"mode": mode})}
    )
    now = dt.datetime.now(dt.UTC)
    far = [
        dt.datetime(1, 1, 2, tzinfo=dt.UTC),
        dt.datetime(1500, 6, 1, tzinfo=dt.UTC),
        now - dt.timedelta(days=9 * 366),
        now + dt.timedelta(minutes=10),
        dt.datetime(2500, 1, 1, tzinfo=dt.UTC),
        dt.datetime(9999, 12, 31, tzinfo=dt.UTC),
    ]
    with AuditEmitter(settings_) as emitter:
        for moment in far:
            with pytest.raises(InvalidEventError) as info:
                emitter.emit(PersonalDataAccessed(**event_data(PersonalDataAccessed, occurred_at=moment)))
            assert info.value.field == "occurred_at"
        for moment in (now - dt.timedelta(days=7 * 365), now, now + dt.timedelta(seconds=60)):
            emitter.emit(PersonalDataAccessed(**event_data(PersonalDataAccessed, occurred_at=moment)))
        assert emitter.flush(30) == 0
    assert emitter.stats.emitted == 3 and emitter.stats.delivered == 3


def _stored_at(moments: list[dt.datetime], pnr: str, settings_: Settings) -> None:
    """Rows written straight into the store, as an older version of pdtrail (or a producer that went
    around the SDK and a consumer that did not check) may have left them."""
    pseudonymiser = Pseudonymiser.from_settings(settings_)
    rows = []
    for offset, moment in enumerate(moments):
        event = PersonalDataAccessed(
            **event_data(PersonalDataAccessed, pnr, purpose="never_registered", occurred_at=moment)
        )
        event = event.model_copy(update={"subject": pseudonymiser.pseudonymise(event.subject)})  # type: ignore[arg-type]
        schema = SchemaCatalog.default().current(event.avro_name)
        rows.append(event_row(event, schema, settings_.kafka.topic, 0, offset, dt.datetime.now(dt.UTC)))
    connect(settings_).insert("events", rows, column_names=list(COLUMNS))


def test_the_dpos_questions_without_a_period_read_the_whole_log(pipeline: Settings) -> None:
    pnr = generate_personnummer(random.Random(uuid.uuid4().int))
    moments = [
        dt.datetime(1, 1, 2, tzinfo=dt.UTC),
        dt.datetime(1500, 6, 1, tzinfo=dt.UTC),
        dt.datetime(1969, 12, 31, 23, 59, tzinfo=dt.UTC),  # the old default started in 1970
        dt.datetime(2250, 1, 1, tzinfo=dt.UTC),  # ... and ended in 2200
        dt.datetime(9999, 12, 31, 23, 59, tzinfo=dt.UTC),
    ]
    _stored_at(moments, pnr, pipeline)
    backend = LocalQueries(connect(pipeline))
    lineage = SubjectLineage(backend, Pseudonymiser.from_settings(pipeline))
    assert sorted(r["occurred_at"] for r in lineage.who_accessed(pnr).as_dicts()) == moments
    assert len(lineage.timeline(pnr).rows) == len(moments)
    found = findings(backend, lineage.subject_keys(pnr), register=REGISTER, kinds=["purpose_not_registered"])
    assert sorted(f.occurred_at for f in found) == moments
    activity = actor_activity(backend, "emp-1042")
    [touched] = [r for r in activity.as_dicts() if r["subject"] in lineage.subject_keys(pnr)]
    assert (touched["first_at"], touched["last_at"], touched["events"]) == (moments[0], moments[-1], len(moments))
    # A period still narrows: only the row of 1969 lies in the 1960s.
    sixties = lineage.who_accessed(pnr, since=dt.datetime(1960, 1, 1), until=dt.datetime(1970, 1, 1))
    assert [r["occurred_at"] for r in sixties.as_dicts()] == [moments[2]]
