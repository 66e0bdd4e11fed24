"""Plain-language labels, the register's contacts and automated decisions, and retention dates by
the calendar (no services)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pdtrail.queries import QueryResult, RetentionRules
from pdtrail.queries._labels import LEGAL_BASES, RIGHTS, register_labels, say
from pdtrail.queries._retention import due_at, retention_rows
from pdtrail.schemas import DEFAULT_REGISTER, LegalBasis, RetentionPeriod, load_register
from pdtrail.schemas.exceptions import RegisterError

REGISTER = load_register()
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def test_every_code_of_the_shipped_register_has_its_own_words_in_both_languages() -> None:
    labels = register_labels(REGISTER)
    for kind, entries in (("purposes", REGISTER.purposes), ("categories", REGISTER.category_entries),
                          ("recipients", REGISTER.recipients), ("sources", REGISTER.sources)):  # fmt: skip
        for code, entry in entries.items():
            assert entry.label_en and entry.label_sv, f"{kind}.{code} has no label"
            assert labels[kind][code] == {"en": entry.label_en, "sv": entry.label_sv}
            assert (entry.label_en != code and entry.label_sv != entry.label_en) or kind == "recipients"
    assert set(labels["legal_bases"]) == {b.value for b in LegalBasis}
    assert set(RIGHTS) == {"access", "rectification", "erasure", "restriction", "objection", "portability"}


def test_say_gives_the_label_joins_lists_and_keeps_an_unknown_code() -> None:
    labels = register_labels(REGISTER)
    assert say(labels, "purposes", "booking.handling", "sv") == "Hantera dina bokningar och betalningar"
    assert say(labels, "categories", ["name", "age"], "en") == "Name, Age"
    assert say(labels, "legal_bases", "legitimate_interests", "en") == LEGAL_BASES["legitimate_interests"]["en"]
    assert say(None, "legal_bases", "consent", "sv") == "Ditt samtycke (art. 6.1 a)"  # fixed by the GDPR
    assert say(labels, "purposes", "not.in.register", "en") == "not.in.register"


def test_the_register_names_the_controller_the_dpo_and_the_automated_credit_decision() -> None:
    assert "@" in REGISTER.controller.email and REGISTER.controller.address
    assert "@" in REGISTER.dpo.email and REGISTER.dpo.name
    checks = REGISTER.purposes["pre_contract.checks"]
    assert "approved or refused" in checks.automated_decision and "godkänd eller nekad" in checks.automated_decision_sv
    assert not REGISTER.purposes["booking.handling"].automated_decision


@pytest.mark.parametrize(
    ("old", "new", "where", "words"),
    [
        ('email = "integritet@exempelhemservice.se"\n', "", "controller.email", "Field required"),
        ('email = "dataskyddsombud@exempelhemservice.se"', 'email = "dataskyddsombud"', "dpo.email", "pattern"),
        ('phone = "+46 90 123 45 09"', 'phone = "call us"', "dpo.phone", "pattern"),
        ("[dpo]", "[data_protection_officer]", "dpo", "Field required"),
        ('label_sv = "Marknadsföring"\n', "", "purposes.marketing", "label_en and label_sv go together"),
        ('automated_decision_sv = "Kreditprövningens', 'x = "', "purposes.pre_contract", "Extra inputs"),
    ],
)
def test_a_register_without_contacts_or_with_half_a_label_is_refused_naming_where(
    tmp_path: Path, old: str, new: str, where: str, words: str
) -> None:
    text = DEFAULT_REGISTER.read_text()
    assert old in text
    broken = tmp_path / "register.toml"
    broken.write_text(text.replace(old, new, 1))
    with pytest.raises(RegisterError) as info:
        load_register(broken)
    assert info.value.where.startswith(where) and words in str(info.value)


def test_an_automated_decision_in_one_language_only_is_refused(tmp_path: Path) -> None:
    text = DEFAULT_REGISTER.read_text()
    start = text.index("automated_decision_sv = ")
    broken = tmp_path / "register.toml"
    broken.write_text(text[:start] + text[text.index("\n", start) + 1 :])
    with pytest.raises(RegisterError) as info:
        load_register(broken)
    assert "automated_decision and automated_decision_sv go together" in str(info.value)


def test_a_category_may_still_be_a_bare_description(tmp_path: Path) -> None:
    text = DEFAULT_REGISTER.read_text()
    start = text.index("gender = {")
    plain = tmp_path / "register.toml"
    plain.write_text(text[:start] + 'gender = "Gender"' + text[text.index("\n", start) :])
    register = load_register(plain)
    assert register.categories["gender"] == "Gender"
    assert say(register_labels(register), "categories", "gender", "sv") == "gender"  # no label: the code itself


@pytest.mark.parametrize(
    ("written", "last", "due"),
    [
        ("3 years", dt.datetime(2024, 2, 29, 18, 5, tzinfo=dt.UTC), dt.datetime(2027, 2, 28, 18, 5, tzinfo=dt.UTC)),
        ("1 year", dt.datetime(2025, 6, 15, tzinfo=dt.UTC), dt.datetime(2026, 6, 15, tzinfo=dt.UTC)),
        ("13 months", dt.datetime(2025, 1, 31, tzinfo=dt.UTC), dt.datetime(2026, 2, 28, tzinfo=dt.UTC)),
        ("7 years", dt.datetime(2019, 12, 31, 23, 59, tzinfo=dt.UTC), dt.datetime(2026, 12, 31, 23, 59, tzinfo=dt.UTC)),
        ("45 days", dt.datetime(2026, 1, 20, tzinfo=dt.UTC), dt.datetime(2026, 3, 6, tzinfo=dt.UTC)),
    ],
)  # fmt: skip
def test_due_at_is_calendar_arithmetic_not_an_average_year(written: str, last: dt.datetime, due: dt.datetime) -> None:
    period = RetentionPeriod.parse(written)
    assert due_at(last, period) == due
    if period.months:  # the old way, 365.25 / 12 days a month, lands off the date and off the hour
        assert last + period.approximate() != due


def test_retention_from_the_register_is_due_on_the_calendar_date_and_marked_overdue_after_it() -> None:
    last = dt.datetime(2023, 3, 1, 9, 0, tzinfo=dt.UTC)
    used = QueryResult(
        ["purpose", "category", "first_processed", "last_processed", "last_ended", "ended_by", "events"], [],
        [("booking.handling", "name", last, last, _EPOCH, "", 1)],
    )  # fmt: skip
    rules = RetentionRules.from_register()
    due = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)  # "3 years" after
    before = retention_rows(used, rules, due - dt.timedelta(seconds=1)).as_dicts()[0]
    assert before["due_at"] == due and before["status"] == "retained" and before["retention"] == "3 years"
    after = retention_rows(used, rules, due).as_dicts()[0]
    assert after["status"] == "overdue"
