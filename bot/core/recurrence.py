"""When something recurring happens next: daily, weekly on given days, monthly.

Pure arithmetic in local time (a recurring 09:00 stays 09:00 across DST changes);
results are aware datetimes in UTC.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class Rule:
    repeat: str  # once, daily, weekly, monthly
    at: time
    weekdays: tuple[int, ...] = ()  # weekly; Monday = 0
    month_day: int | None = None  # monthly; the month's last day when it is shorter


def _day_in_month(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def add_months(day: date, months: int, wanted_day: int | None = None) -> date:
    index = day.month - 1 + months
    return _day_in_month(day.year + index // 12, index % 12 + 1, wanted_day or day.day)


def next_after(rule: Rule, after: datetime, tz: ZoneInfo) -> datetime | None:
    """The first occurrence strictly after ``after`` (None for a one-off rule)."""
    local = after.astimezone(tz)
    day = local.date()
    for _ in range(400):  # at most a year and a bit of days to look at
        if _matches(rule, day):
            candidate = datetime.combine(day, rule.at, tzinfo=tz)
            if candidate > local:
                return candidate.astimezone(UTC)
        day += timedelta(days=1)
    return None


def _matches(rule: Rule, day: date) -> bool:
    if rule.repeat == "daily":
        return True
    if rule.repeat == "weekly":
        return day.weekday() in rule.weekdays
    if rule.repeat == "monthly" and rule.month_day is not None:
        return day == _day_in_month(day.year, day.month, rule.month_day)
    return False


def shift(starts: datetime, ends: datetime, recurrence: str,
          tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The next occurrence of an event (weekly, monthly): same local wall-clock time, same
    length; a monthly event on the 31st falls on the last day of shorter months."""
    start, end = starts.astimezone(tz), ends.astimezone(tz)
    if recurrence == "weekly":
        day = start.date() + timedelta(days=7)
    elif recurrence == "monthly":
        day = add_months(start.date(), 1)
    else:
        raise ValueError(f"not a recurrence: {recurrence!r}")
    new_start = datetime.combine(day, start.timetz().replace(tzinfo=None), tzinfo=tz)
    return new_start.astimezone(UTC), (new_start + (end - start)).astimezone(UTC)
