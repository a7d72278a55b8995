"""Working-time arithmetic over the real 2025 and 2026 official calendars (shipped files),
working hours, local exceptions, and the Monday–Friday fallback for a year nobody knows."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.core.workcal import (
    EXCEPTION,
    FILE,
    PACKAGE,
    WEEKDAYS,
    CalendarFileError,
    WorkCalendar,
    WorkingHours,
    WorkingTime,
    YearFile,
    next_year_missing,
    parse_amount,
    shipped_years,
)
from storage.calendar import CalendarException, CalendarRepo
from storage.db import open_database
from tests.backend import database_in

TZ = ZoneInfo("Asia/Shanghai")
NATIONAL_2025 = "国庆节、中秋节"


def at(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=TZ)


def wt(text: str) -> WorkingTime:
    return WorkingTime.parse(text)


# (why, start, amount, due, holidays that deferred it)
CASES = [
    # 春节 2025: off 1/28–2/4, make-up working days Sun 1/26 and Sat 2/8
    ("2025 春节 crossed", at(2025, 1, 27, 10), "1WD", at(2025, 2, 5, 10), ("春节",)),
    ("2025 make-up Sunday before 春节 counts", at(2025, 1, 25, 15), "1WD",
     at(2025, 1, 26, 17, 30), ()),
    ("2025 make-up Saturday after 春节 counts", at(2025, 2, 7, 17), "1WH", at(2025, 2, 8, 9), ()),
    # 清明 2025: off Fri 4/4 – Sun 4/6
    ("2025 清明", at(2025, 4, 3, 14), "1WD", at(2025, 4, 7, 14), ("清明节",)),
    # 劳动节 2025: off 5/1–5/5, make-up Sun 4/27
    ("2025 劳动节", at(2025, 4, 30, 9), "2WD", at(2025, 5, 7, 9), ("劳动节",)),
    ("2025 劳动节 make-up Sunday", at(2025, 4, 25, 16), "4WH", at(2025, 4, 27, 11), ()),
    # 国庆 and 中秋 2025: off 10/1–10/8, make-up Sun 9/28 and Sat 10/11
    ("2025 国庆 from the Monday before", at(2025, 9, 29, 10), "2WD", at(2025, 10, 9, 10),
     (NATIONAL_2025,)),
    ("2025 国庆 make-up Sunday", at(2025, 9, 27, 10), "1WH", at(2025, 9, 28, 9, 30), ()),
    ("2025 国庆 make-up Saturday", at(2025, 10, 10, 17), "1WH", at(2025, 10, 11, 9), ()),
    ("created during 国庆", at(2025, 10, 3, 10), "1WD", at(2025, 10, 9, 17, 30),
     (NATIONAL_2025,)),
    # 元旦 2026 across the year boundary: off 1/1–1/3, make-up Sun 1/4
    ("2025 → 2026 over 元旦", at(2025, 12, 31, 10), "2WD", at(2026, 1, 5, 10), ("元旦",)),
    # 春节 2026: nine days off 2/15–2/23, make-up Saturdays 2/14 and 2/28
    ("2026 春节", at(2026, 2, 13, 10), "2WD", at(2026, 2, 24, 10), ("春节",)),
    ("2026 春节 make-up Saturday after", at(2026, 2, 27, 17), "1WH", at(2026, 2, 28, 9), ()),
    # 清明 2026: off Sat 4/4 – Mon 4/6
    ("2026 清明", at(2026, 4, 3, 10), "1WD", at(2026, 4, 7, 10), ("清明节",)),
    # 劳动节 2026: off 5/1–5/5, make-up Sat 5/9
    ("2026 劳动节", at(2026, 4, 30, 10), "2WD", at(2026, 5, 7, 10), ("劳动节",)),
    ("2026 劳动节 make-up Saturday", at(2026, 5, 8, 17), "1WH", at(2026, 5, 9, 9), ()),
    # 中秋 2026 off 9/25–9/27, 国庆 2026 off 10/1–10/7, make-up Sun 9/20 and Sat 10/10
    ("2026 中秋", at(2026, 9, 24, 10), "2WD", at(2026, 9, 29, 10), ("中秋节",)),
    ("2026 国庆", at(2026, 9, 30, 10), "1WD", at(2026, 10, 8, 10), ("国庆节",)),
    ("2026 国庆 make-up Saturday", at(2026, 10, 9, 17), "1WH", at(2026, 10, 10, 9), ()),
    # working hours on a plain week (2025-03-03 is a Monday)
    ("within the morning", at(2025, 3, 3, 9), "2WH", at(2025, 3, 3, 11), ()),
    ("over lunch", at(2025, 3, 3, 11), "4WH", at(2025, 3, 3, 16, 30), ()),
    ("created at lunch", at(2025, 3, 3, 12, 30), "1WH", at(2025, 3, 3, 14, 30), ()),
    ("created before work", at(2025, 3, 3, 7), "1WH", at(2025, 3, 3, 9, 30), ()),
    ("a whole day from the start of work ends that evening", at(2025, 3, 3, 8, 30), "1WD",
     at(2025, 3, 3, 17, 30), ()),
    ("created at 17:29", at(2025, 3, 3, 17, 29), "1WH", at(2025, 3, 4, 9, 29), ()),
    ("created at 17:29 on a Friday", at(2025, 3, 7, 17, 29), "1WD", at(2025, 3, 10, 17, 29), ()),
    ("created at 17:30", at(2025, 3, 3, 17, 30), "1WH", at(2025, 3, 4, 9, 30), ()),
    ("created at night", at(2025, 3, 3, 23), "2WD", at(2025, 3, 5, 17, 30), ()),
    ("created on a Saturday", at(2025, 3, 8, 10), "1WD", at(2025, 3, 10, 17, 30), ()),
    ("created on a Saturday, hours", at(2025, 3, 8, 10), "4WH", at(2025, 3, 10, 14), ()),
    ("created on a Sunday evening", at(2025, 3, 9, 20), "2WD", at(2025, 3, 11, 17, 30), ()),
    ("five working days are a week", at(2025, 3, 4, 10), "5WD", at(2025, 3, 11, 10), ()),
]


@pytest.mark.parametrize(("why", "start", "amount", "due", "deferred_by"), CASES,
                         ids=[case[0] for case in CASES])
def test_working_time_on_the_official_calendar(why: str, start: datetime, amount: str,
                                               due: datetime, deferred_by: tuple[str, ...]) -> None:
    calendar = WorkCalendar()
    result = calendar.due(start, wt(amount), TZ)
    assert result.at == due, why
    assert result.deferred_by == deferred_by, why
    assert result.deferred == bool(deferred_by)
    assert calendar.add_working(start, wt(amount), TZ) == due


def test_an_instant_in_utc_comes_back_in_utc_and_means_the_same() -> None:
    start = at(2025, 9, 29, 10).astimezone(ZoneInfo("UTC"))
    due = WorkCalendar().add_working(start, wt("2WD"), TZ)
    assert due.tzinfo == ZoneInfo("UTC")
    assert due == at(2025, 10, 9, 10)


def test_a_calendar_duration_is_plain_time_and_never_deferred() -> None:
    result = WorkCalendar().due(at(2025, 9, 30, 10), timedelta(days=2), TZ)
    assert result.at == at(2025, 10, 2, 10) and not result.deferred


def test_shipped_files_agree_with_chinese_calendar_on_every_day() -> None:
    """Two independent sources of the State Council's notices for 2025 and 2026."""
    with_files = WorkCalendar()
    package_only = WorkCalendar(years={})
    for year in (2025, 2026):
        assert with_files.source(year) == FILE and package_only.source(year) == PACKAGE
        day = date(year, 1, 1)
        while day.year == year:
            assert with_files.is_working_day(day) == package_only.is_working_day(day), day
            day += timedelta(days=1)


def test_the_package_answers_for_a_year_no_file_covers() -> None:
    calendar = WorkCalendar()  # no 2024 file is shipped
    assert calendar.source(2024) == PACKAGE
    national = calendar.day(date(2024, 10, 1))
    assert (national.working, national.name, national.source) == (False, "国庆节", PACKAGE)
    assert calendar.is_working_day(date(2024, 9, 29))  # a make-up Sunday in 2024


def test_a_year_nobody_knows_falls_back_to_weekdays_with_one_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    calendar = WorkCalendar()
    assert calendar.source(2027) == WEEKDAYS
    with caplog.at_level(logging.WARNING, logger="bot.core.workcal"):
        # Thu 31 Dec 2026 → Friday 1 Jan 2027 counts as a working day: nobody said otherwise
        due = calendar.due(at(2026, 12, 31, 10), wt("2WD"), TZ)
        calendar.due(at(2027, 3, 1, 10), wt("2WD"), TZ)
    assert due.at == at(2027, 1, 4, 10) and not due.deferred
    warnings = [r for r in caplog.records if "2027" in r.getMessage()]
    assert len(warnings) == 1
    assert calendar.day(date(2027, 1, 1)).source == WEEKDAYS


def test_an_imported_year_replaces_the_fallback() -> None:
    text = ('{"year": 2027, "papers": [], "days": ['
            '{"name": "元旦", "date": "2027-01-01", "isOffDay": true}]}')
    calendar = WorkCalendar(years={**shipped_years(), 2027: YearFile.parse(text)})
    assert calendar.source(2027) == FILE
    due = calendar.due(at(2026, 12, 31, 10), wt("2WD"), TZ)
    assert due.at == at(2027, 1, 5, 10) and due.deferred_by == ("元旦",)


def test_an_imported_year_wins_over_the_shipped_one() -> None:
    # an office learns 2025-10-09 is off too (a made-up correction)
    shipped = shipped_years()[2025]
    corrected = YearFile(2025, {**shipped.days, date(2025, 10, 9): (True, "国庆节、中秋节")})
    calendar = WorkCalendar(years={**shipped_years(), 2025: corrected})
    assert calendar.add_working(at(2025, 9, 29, 10), wt("2WD"), TZ) == at(2025, 10, 10, 10)


def test_local_exceptions_come_before_every_source() -> None:
    calendar = WorkCalendar(exceptions={
        date(2025, 3, 3): (True, "台风停工"),  # a Monday off
        date(2025, 3, 15): (False, "社区集中办公"),  # a Saturday worked
        date(2025, 10, 8): (False, "值班"),  # a holiday worked
    })
    typhoon = calendar.day(date(2025, 3, 3))
    assert (typhoon.working, typhoon.name, typhoon.source) == (False, "台风停工", EXCEPTION)
    due = calendar.due(at(2025, 2, 28, 10), wt("1WD"), TZ)
    assert due.at == at(2025, 3, 4, 10) and due.deferred_by == ("台风停工",)
    assert calendar.add_working(at(2025, 3, 14, 17), wt("1WH"), TZ) == at(2025, 3, 15, 9)
    assert calendar.add_working(at(2025, 10, 3, 10), wt("1WD"), TZ) == at(2025, 10, 8, 17, 30)


def test_custom_working_hours() -> None:
    hours = WorkingHours.parse("09:00-12:00, 14:00–18:00")
    assert hours.periods == ((time(9), time(12)), (time(14), time(18)))
    assert hours.day_length == timedelta(hours=7)
    calendar = WorkCalendar(hours=hours)
    assert calendar.add_working(at(2025, 3, 3, 11), wt("2WH"), TZ) == at(2025, 3, 3, 15)
    assert calendar.add_working(at(2025, 3, 3, 9), wt("1WD"), TZ) == at(2025, 3, 3, 18)
    assert str(hours) == "09:00-12:00, 14:00-18:00"


@pytest.mark.parametrize("text", ["", "9-12", "12:00-09:00", "08:00-12:00, 11:00-14:00",
                                  "08:00-12:00,", "8点-12点"])
def test_bad_working_hours_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        WorkingHours.parse(text)


@pytest.mark.parametrize(("text", "days", "hours"), [
    ("2WD", 2, 0), ("4WH", 0, 4), ("1wd", 1, 0), (" 3 WH ", 0, 3), ("10WD", 10, 0),
])
def test_working_time_format(text: str, days: int, hours: int) -> None:
    amount = WorkingTime.parse(text)
    assert (amount.days, amount.hours) == (days, hours)
    assert parse_amount(text) == amount
    assert str(amount) == text.strip().upper().replace(" ", "")


@pytest.mark.parametrize("text", ["0WD", "2.5WD", "2WX", "WD", "2D", "-1WH", "PT2H", "2 WD 3"])
def test_what_is_not_working_time(text: str) -> None:
    with pytest.raises(ValueError):
        WorkingTime.parse(text)


def test_other_settings_values_pass_through_to_the_duration_parser() -> None:
    assert parse_amount("PT2H") == "PT2H"
    assert parse_amount(3600) == 3600


@pytest.mark.parametrize(("text", "complaint"), [
    ("not json", "not JSON"),
    ('{"days": []}', '"year"'),
    ('{"year": 2027, "days": [{"date": "2027-01-01", "isOffDay": true}]}', "day 1"),
    ('{"year": 2027, "days": [{"name": "元旦", "date": "2027-13-01", "isOffDay": true}]}',
     "day 1"),
    ('{"year": 2027, "days": [{"name": "元旦", "date": "2026-01-01", "isOffDay": true}]}',
     "not in 2027"),
    ('{"year": 2027, "days": [{"name": "元旦", "date": "2027-01-01", "isOffDay": "yes"}]}',
     "isOffDay"),
    ('{"year": 2027, "days": [{"name": "元旦", "date": "2027-01-01", "isOffDay": true},'
     ' {"name": "元旦", "date": "2027-01-01", "isOffDay": true}]}', "twice"),
])
def test_a_bad_calendar_file_says_why(text: str, complaint: str) -> None:
    with pytest.raises(CalendarFileError, match=complaint):
        YearFile.parse(text, "2027.json")


def test_a_year_file_round_trips() -> None:
    shipped = shipped_years()[2026]
    again = YearFile.parse(shipped.to_json())
    assert again == shipped
    assert len(shipped.days) == 39 and shipped.papers


def test_an_empty_file_is_no_calendar() -> None:
    """holiday-cn publishes an empty file for a year before the State Council does."""
    empty = YearFile.parse('{"year": 2027, "papers": [], "days": []}')
    assert not empty.days
    assert 2027 not in shipped_years()


def test_year_days_lists_the_holidays_and_make_up_days() -> None:
    days = WorkCalendar().year_days(2026)
    assert [d.day for d in days if d.working][:3] == [date(2026, 1, 4), date(2026, 2, 14),
                                                      date(2026, 2, 28)]
    assert sum(1 for d in days if d.name == "春节" and not d.working) == 9
    assert WorkCalendar().year_days(2027) == []


@pytest.mark.parametrize(("today", "missing"), [
    (date(2026, 11, 30), None), (date(2026, 12, 1), 2027), (date(2026, 12, 31), 2027),
    (date(2025, 12, 1), None),  # 2026 is shipped
    (date(2027, 1, 2), None),  # too early to expect 2028
])
def test_next_year_missing_from_1_december(today: date, missing: int | None) -> None:
    assert next_year_missing(WorkCalendar(), today) == missing


def test_a_calendar_with_no_working_day_refuses_instead_of_looping() -> None:
    everything_off = {date(2025, 3, 1) + timedelta(days=i): (True, "停工") for i in range(90)}
    with pytest.raises(ValueError, match="no working day"):
        WorkCalendar(exceptions=everything_off).add_working(at(2025, 3, 1), wt("1WH"), TZ)


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError):
        WorkCalendar().due(datetime(2025, 3, 3, 10), wt("1WH"), TZ)


async def test_the_calendar_kept_in_the_database(tmp_path: Path) -> None:
    db = await open_database(database_in(tmp_path / "cal"))
    try:
        repo, now = CalendarRepo(db), at(2026, 12, 1, 9)
        before = await repo.version()
        async with db.write() as tx:
            await repo.import_year(tx, 2027, '{"year": 2027, "days": []}', now)
            await repo.import_year(tx, 2027, '{"year": 2027, "papers": [], "days": []}', now)
            await repo.add_exception(tx, date(2027, 7, 1), True, "台风停工", 1004, now)
            await repo.add_exception(tx, date(2027, 7, 1), False, "抢险值班", 1004, now)
        assert await repo.years() == {2027: '{"year": 2027, "papers": [], "days": []}'}
        assert await repo.exceptions() == [CalendarException(date(2027, 7, 1), False, "抢险值班")]
        assert await repo.version() > before  # another process sees the change
        async with db.write() as tx:
            first = await repo.warn_once(tx, 2027, now)
            second = await repo.warn_once(tx, 2027, now + timedelta(days=1))
        assert (first, second) == (True, False)
    finally:
        await db.close()
