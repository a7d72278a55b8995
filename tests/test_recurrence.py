"""Recurring schedules in local time: daily, weekly on given days, monthly (short months)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core.recurrence import Rule, add_months, next_after, shift

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")


def local(tz: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=tz)  # type: ignore[misc]


def test_daily_is_today_if_still_ahead_else_tomorrow() -> None:
    rule = Rule("daily", time(9, 0))
    assert next_after(rule, local(SHANGHAI, 2026, 11, 25, 8, 0), SHANGHAI) == local(
        SHANGHAI, 2026, 11, 25, 9, 0)
    assert next_after(rule, local(SHANGHAI, 2026, 11, 25, 9, 0), SHANGHAI) == local(
        SHANGHAI, 2026, 11, 26, 9, 0)


def test_weekly_on_given_days() -> None:
    rule = Rule("weekly", time(18, 30), weekdays=(0, 3))  # Monday and Thursday
    wednesday = local(SHANGHAI, 2026, 11, 25, 12, 0)
    thursday = next_after(rule, wednesday, SHANGHAI)
    assert thursday == local(SHANGHAI, 2026, 11, 26, 18, 30)
    assert thursday is not None and thursday.tzinfo == UTC
    assert next_after(rule, thursday, SHANGHAI) == local(SHANGHAI, 2026, 11, 30, 18, 30)


def test_monthly_falls_back_to_the_last_day_of_short_months() -> None:
    rule = Rule("monthly", time(9, 0), month_day=31)
    assert next_after(rule, local(SHANGHAI, 2027, 1, 31, 10, 0), SHANGHAI) == local(
        SHANGHAI, 2027, 2, 28, 9, 0)
    assert add_months(datetime(2027, 1, 31).date(), 1) == datetime(2027, 2, 28).date()
    assert add_months(datetime(2026, 12, 15).date(), 1) == datetime(2027, 1, 15).date()


def test_wall_clock_time_kept_across_daylight_saving() -> None:
    rule = Rule("daily", time(9, 0))
    before = next_after(rule, local(BERLIN, 2026, 3, 28, 10, 0), BERLIN)  # DST starts 29 March
    assert before is not None and before.astimezone(BERLIN).hour == 9
    assert before.hour == 7  # 09:00 CEST is 07:00 UTC


def test_next_occurrence_of_weekly_and_monthly_events() -> None:
    starts, ends = local(SHANGHAI, 2027, 1, 31, 14, 0), local(SHANGHAI, 2027, 1, 31, 16, 30)
    weekly = shift(starts, ends, "weekly", SHANGHAI)
    assert weekly == (local(SHANGHAI, 2027, 2, 7, 14, 0), local(SHANGHAI, 2027, 2, 7, 16, 30))
    monthly = shift(starts, ends, "monthly", SHANGHAI)
    assert monthly[0] == local(SHANGHAI, 2027, 2, 28, 14, 0)
    assert monthly[1] - monthly[0] == timedelta(hours=2, minutes=30)
    # across the change to summer time the event stays at 14:00 local
    spring = shift(local(BERLIN, 2026, 3, 26, 14, 0), local(BERLIN, 2026, 3, 26, 15, 0),
                   "weekly", BERLIN)
    assert spring[0].astimezone(BERLIN).hour == 14 and spring[0].hour == 12


pytestmark = pytest.mark.no_storage
