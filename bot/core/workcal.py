"""China's working calendar: which days are working days, and deadlines counted in
working time (工作日, 工作时间) that skip nights, weekends and official holidays and
count the make-up working days (调休) the State Council sets each year.

Where a day's answer comes from, first match wins:

1. a local exception an admin added (a typhoon day off, a local holiday, a working day);
2. a year's calendar file: the one imported into the database, else the one shipped in
   ``bot/core/calendar_data/YEAR.json``. The format is the holiday-cn data set's
   (github.com/NateScarlet/holiday-cn)::

       {"year": 2026, "papers": ["https://www.gov.cn/..."],
        "days": [{"name": "国庆节", "date": "2026-10-01", "isOffDay": true}, ...]}

   Only the days that differ from Monday–Friday are listed: ``isOffDay: true`` is a
   holiday, ``false`` a make-up working day. A file with no days (holiday-cn publishes
   an empty one before the State Council's notice) counts as no file;
3. the ``chinese-calendar`` package, for the years it knows (it raises for others);
4. Monday to Friday, with a warning once per year: nobody knows that year yet.

Working-time amounts (settings such as ``resolve.grid = "2WD"``) are written ``<n>WD``
(working days) or ``<n>WH`` (working hours), ``n`` a positive whole number. A working
day is as long as the working hours of one day (08:30–12:00 and 13:30–17:30 by default:
7.5 hours), so from 10:00 on a Monday 2WD ends at 10:00 on Wednesday, and from a
Saturday it ends when Tuesday's work ends.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).with_name("calendar_data")
# where a day's answer came from
EXCEPTION, FILE, PACKAGE, WEEKDAYS = "exception", "file", "package", "weekdays"

_AMOUNT = re.compile(r"^\s*([1-9][0-9]{0,3})\s*W([DH])\s*$", re.IGNORECASE)

# chinese-calendar names its holidays in English; the data files and cards use Chinese
_PACKAGE_NAMES = {
    "New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节", "Dragon Boat Festival": "端午节", "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节", "Anti-Fascist 70th Day": "抗战胜利纪念日",
}


class CalendarFileError(ValueError):
    """A calendar file that cannot be used; the message says where and why."""


@dataclass(frozen=True, slots=True)
class WorkingTime:
    """An amount of working time: ``days`` working days or ``hours`` working hours."""

    days: int = 0
    hours: int = 0

    def __post_init__(self) -> None:
        if self.days < 0 or self.hours < 0 or (self.days == 0) == (self.hours == 0):
            raise ValueError("working time is a positive number of days or of hours")

    @classmethod
    def parse(cls, text: str) -> WorkingTime:
        match = _AMOUNT.match(text)
        if match is None:
            raise ValueError(f"{text!r} is not a working time such as 2WD or 4WH")
        n, unit = int(match.group(1)), match.group(2).upper()
        return cls(days=n) if unit == "D" else cls(hours=n)

    def __str__(self) -> str:
        return f"{self.days}WD" if self.days else f"{self.hours}WH"


def calendar_span(amount: WorkingTime | timedelta) -> timedelta:
    """A plain length for figures that compare times in SQL (which care visits count as
    overdue): a working day as a day, a working hour as an hour. Deadlines themselves are
    always counted on the calendar (Calendars.due)."""
    if isinstance(amount, timedelta):
        return amount
    return timedelta(days=amount.days) if amount.days else timedelta(hours=amount.hours)


def parse_amount(value: Any) -> Any:
    """A settings value: "2WD"/"4WH" become :class:`WorkingTime`; anything else is
    left to the calendar-duration parser (ISO-8601 or seconds)."""
    if isinstance(value, str) and value.strip().upper().endswith(("WD", "WH")):
        return WorkingTime.parse(value)  # or says what is wrong with it
    return value


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """The working periods of a working day, in local time, in order."""

    periods: tuple[tuple[time, time], ...] = ((time(8, 30), time(12, 0)),
                                               (time(13, 30), time(17, 30)))

    def __post_init__(self) -> None:
        if not self.periods:
            raise ValueError("working hours need at least one period")
        previous = time(0, 0)
        for index, (start, end) in enumerate(self.periods):
            if not start < end or (index and start < previous):
                raise ValueError("working periods must be in order and not overlap")
            previous = end

    @classmethod
    def parse(cls, text: str) -> WorkingHours:
        """"08:30-12:00, 13:30-17:30" (a dash or an en dash between the times)."""
        periods = []
        for part in text.replace("–", "-").split(","):
            try:
                start, end = (time.fromisoformat(p.strip()) for p in part.split("-"))
            except ValueError as exc:
                raise ValueError(f"{part.strip()!r} is not a period such as 08:30-12:00") from exc
            periods.append((start, end))
        return cls(tuple(periods))

    @property
    def day_length(self) -> timedelta:
        return sum((_span(s, e) for s, e in self.periods), timedelta(0))

    def __str__(self) -> str:
        return ", ".join(f"{s:%H:%M}-{e:%H:%M}" for s, e in self.periods)


def _span(start: time, end: time) -> timedelta:
    day = date(2000, 1, 1)
    return datetime.combine(day, end) - datetime.combine(day, start)


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    working: bool
    name: str | None  # the holiday or the exception's reason; None for a plain day
    source: str  # EXCEPTION, FILE, PACKAGE or WEEKDAYS


@dataclass(frozen=True, slots=True)
class YearFile:
    """One year's calendar in the holiday-cn format: day → (off?, name)."""

    year: int
    days: Mapping[date, tuple[bool, str]]
    papers: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str | bytes, where: str = "calendar file") -> YearFile:
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CalendarFileError(f"{where}: not JSON ({exc})") from exc
        if not isinstance(data, dict) or not isinstance(data.get("year"), int) \
                or not isinstance(data.get("days"), list):
            raise CalendarFileError(f'{where}: needs "year" (a number) and "days" (a list)')
        year, days = data["year"], {}
        for index, entry in enumerate(data["days"]):
            try:
                day = date.fromisoformat(entry["date"])
                name, off = entry["name"], entry["isOffDay"]
            except (TypeError, KeyError, ValueError) as exc:
                raise CalendarFileError(
                    f'{where}: day {index + 1} needs "name", "date" (YYYY-MM-DD) and'
                    f' "isOffDay" (true or false)') from exc
            if not isinstance(name, str) or not isinstance(off, bool):
                raise CalendarFileError(f"{where}: day {index + 1}: name must be text and"
                                        " isOffDay true or false")
            if day.year != year:
                raise CalendarFileError(f"{where}: {day} is not in {year}")
            if day in days:
                raise CalendarFileError(f"{where}: {day} is listed twice")
            days[day] = (off, name)
        papers = data.get("papers") or []
        return cls(year, days, tuple(str(p) for p in papers))

    def to_json(self) -> str:
        return json.dumps({
            "year": self.year, "papers": list(self.papers),
            "days": [{"name": name, "date": day.isoformat(), "isOffDay": off}
                     for day, (off, name) in sorted(self.days.items())],
        }, ensure_ascii=False, indent=2)


def shipped_years() -> dict[int, YearFile]:
    """The calendar files shipped with this release (empty ones left out)."""
    found = {}
    for path in sorted(DATA_DIR.glob("*.json")):
        year = YearFile.parse(path.read_bytes(), path.name)
        if year.days:
            found[year.year] = year
    return found


def _package_day(day: date) -> tuple[bool, str | None] | None:
    """(working?, holiday name) from chinese-calendar; None for a year it does not know."""
    try:
        import chinese_calendar
    except ImportError:  # an install without it falls through to Monday–Friday
        return None
    try:
        working = chinese_calendar.is_workday(day)
        _, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return None
    name = getattr(name, "value", name)
    return working, (_PACKAGE_NAMES.get(name, name) if name else None)


@dataclass(frozen=True, slots=True)
class Due:
    """A deadline in working time, and the holidays that pushed it later (if any)."""

    at: datetime
    deferred_by: tuple[str, ...] = ()  # holiday names, in the order they were met

    @property
    def deferred(self) -> bool:
        return bool(self.deferred_by)


@dataclass
class WorkCalendar:
    """Working days and working time; built from the sources above, pure otherwise."""

    years: Mapping[int, YearFile] = field(default_factory=shipped_years)
    exceptions: Mapping[date, tuple[bool, str]] = field(default_factory=dict)  # day → (off?, why)
    hours: WorkingHours = field(default_factory=WorkingHours)
    use_package: bool = True
    _warned: set[int] = field(default_factory=set, repr=False)

    # -- days -----------------------------------------------------------------------

    def day(self, day: date) -> Day:
        if day in self.exceptions:
            off, reason = self.exceptions[day]
            return Day(day, not off, reason, EXCEPTION)
        year = self.years.get(day.year)
        if year is not None:
            off, name = year.days.get(day, (day.weekday() >= 5, None))  # type: ignore[arg-type]
            return Day(day, not off, name, FILE)
        if self.use_package:
            known = _package_day(day)
            if known is not None:
                return Day(day, known[0], known[1], PACKAGE)
        if day.year not in self._warned:
            self._warned.add(day.year)
            log.warning("no official calendar for %d: counting Monday to Friday as working"
                        " days (linli calendar import FILE adds it)", day.year)
        return Day(day, day.weekday() < 5, None, WEEKDAYS)

    def is_working_day(self, day: date) -> bool:
        return self.day(day).working

    def source(self, year: int) -> str:
        """Where the year's official days come from: FILE, PACKAGE or WEEKDAYS (nobody
        knows the year). Local exceptions come on top of any of them."""
        if year in self.years:
            return FILE
        if self.use_package and _package_day(date(year, 6, 1)) is not None:
            return PACKAGE
        return WEEKDAYS

    def year_days(self, year: int) -> list[Day]:
        """Every day of ``year`` that is not a plain weekday or weekend, in order."""
        found, day = [], date(year, 1, 1)
        while day.year == year:
            info = self.day(day)
            if info.name is not None or info.working != (day.weekday() < 5):
                found.append(info)
            day += timedelta(days=1)
        return found

    # -- working time ---------------------------------------------------------------

    def _periods(self, start_day: date, tz: ZoneInfo,
                 plain: bool = False) -> Iterator[tuple[datetime, datetime]]:
        """Working periods from ``start_day`` on, as aware instants. ``plain``: Monday to
        Friday with no holidays (what a deadline would be without the calendar)."""
        day, idle = start_day, 0
        while True:
            working = day.weekday() < 5 if plain else self.is_working_day(day)
            if working:
                idle = 0
                for start, end in self.hours.periods:
                    yield (datetime.combine(day, start, tzinfo=tz),
                           datetime.combine(day, end, tzinfo=tz))
            else:
                idle += 1
                if idle > 60:  # exceptions could mark every day off; never loop forever
                    raise ValueError(f"no working day in the 60 days after {day}")
            day += timedelta(days=1)

    def _add(self, start: datetime, amount: timedelta, tz: ZoneInfo, plain: bool) -> datetime:
        local = start.astimezone(tz)
        left = amount
        for begin, end in self._periods(local.date(), tz, plain):
            if end <= local:
                continue
            begin = max(begin, local)
            if begin + left <= end:
                return (begin + left).astimezone(start.tzinfo)
            left -= end - begin
        raise AssertionError("unreachable")  # _periods never ends

    def _amount(self, amount: WorkingTime) -> timedelta:
        return (self.hours.day_length * amount.days if amount.days
                else timedelta(hours=amount.hours))

    def due(self, start: datetime, amount: WorkingTime | timedelta, tz: ZoneInfo) -> Due:
        """``amount`` of working time after ``start``; a plain timedelta is calendar time
        (start + amount, never deferred)."""
        if start.tzinfo is None:
            raise ValueError("working time needs an aware datetime")
        if isinstance(amount, timedelta):
            return Due(start + amount)
        span = self._amount(amount)
        at = self._add(start, span, tz, plain=False)
        if at <= self._add(start, span, tz, plain=True):
            return Due(at)  # no later than Monday–Friday would make it: nothing deferred
        return Due(at, self._holidays_between(start.astimezone(tz).date(),
                                              at.astimezone(tz).date()))

    def add_working(self, start: datetime, amount: WorkingTime | timedelta,
                    tz: ZoneInfo) -> datetime:
        return self.due(start, amount, tz).at

    def _holidays_between(self, first: date, last: date) -> tuple[str, ...]:
        names: list[str] = []
        day = first
        while day < last:
            info = self.day(day)
            if not info.working and info.name and info.name not in names:
                names.append(info.name)
            day += timedelta(days=1)
        return tuple(names)


def next_year_missing(calendar: WorkCalendar, today: date) -> int | None:
    """From 1 December, next year if no source knows it yet (else None)."""
    if today.month == 12 and calendar.source(today.year + 1) == WEEKDAYS:
        return today.year + 1
    return None
