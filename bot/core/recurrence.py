"""When something recurring happens next: daily, weekly on given days, monthly.

Pure arithmetic in local time (a recurring 09:00 stays 09:00 across DST changes);
results are aware datetimes in UTC.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAY_NAMES = {
    "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
    "一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6,
    "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6,
}


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


def parse_weekdays(text: str) -> tuple[int, ...] | None:
    """"mon,thu", "一,四", "1,4" → (0, 3); None when a part is not a weekday."""
    parts = [p for p in text.lower().replace("，", ",").replace("、", ",").split(",") if p]
    days = []
    for part in parts:
        if part not in WEEKDAY_NAMES:
            return None
        days.append(WEEKDAY_NAMES[part])
    return tuple(sorted(set(days))) or None


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


def parse_local(text: str, now: datetime, tz: ZoneInfo,
                day_of: datetime | None = None) -> datetime | None:
    """"2026-12-05 14:00", "12-05 14:00" (the next such date), or "16:00" (on the local day
    of ``day_of``) as an aware UTC datetime; None when it is none of these."""
    cleaned = " ".join(text.replace("：", ":").replace("/", "-").split())
    local_now = now.astimezone(tz)
    for fmt in ("%Y-%m-%d %H:%M", "%m-%d %H:%M", "%H:%M"):
        try:
            parsed = datetime.strptime(cleaned, fmt)
        except ValueError:
            continue
        if fmt == "%H:%M":
            if day_of is None:
                return None
            base = day_of.astimezone(tz)
            parsed = parsed.replace(year=base.year, month=base.month, day=base.day)
        elif fmt == "%m-%d %H:%M":
            try:
                parsed = parsed.replace(year=local_now.year)
                if parsed.replace(tzinfo=tz) < local_now:
                    parsed = parsed.replace(year=local_now.year + 1)
            except ValueError:  # 29 February
                return None
        return parsed.replace(tzinfo=tz).astimezone(UTC)
    return None
