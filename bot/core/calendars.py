"""The working calendar in use: the shipped year files, the years and local exceptions
kept in the database (``linli calendar import/add``) and the settings' working hours.
Deadlines in working time are computed here; how a deferral reads is written here."""

from __future__ import annotations

import time as monotonic
from datetime import date, datetime, time, timedelta

from bot.core.clock import Clock
from bot.core.i18n import pick_language, t
from bot.core.notifier import Notifier, Outgoing
from bot.core.scheduler import Scheduler
from bot.core.timing import next_local
from bot.core.workcal import (
    Due,
    WorkCalendar,
    WorkingTime,
    YearFile,
    next_year_missing,
    shipped_years,
)
from config.settings import Settings
from storage.calendar import CalendarRepo
from storage.db import Database, Tx
from storage.deadlines import Deadline
from storage.org import OrgRepo
from storage.users import UserRepo

RECHECK_SECONDS = 1.0  # how soon `linli calendar ...` in another process shows

# official holiday names as the data files write them → catalog keys (workcal.holiday.*)
HOLIDAY_KEYS = {"元旦": "new_year", "春节": "spring", "清明节": "qingming", "劳动节": "labour",
                "端午节": "dragon_boat", "中秋节": "mid_autumn", "国庆节": "national"}


def build_calendar(settings: Settings, imported: dict[int, str],
                   exceptions: dict[date, tuple[bool, str]]) -> WorkCalendar:
    years = shipped_years()
    for year, text in imported.items():
        parsed = YearFile.parse(text, f"stored calendar {year}")
        if parsed.days:  # an empty file (not yet published) does not hide the shipped one
            years[year] = parsed
    return WorkCalendar(years=years, exceptions=exceptions,
                        hours=settings.calendar.working_hours)


class Calendars:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings, self.db, self.repo = settings, db, CalendarRepo(db)
        self._calendar: WorkCalendar | None = None
        self._version = -1
        self._checked_at = 0.0

    async def current(self) -> WorkCalendar:
        """The calendar, reloaded when the database's calendar changed."""
        now = monotonic.monotonic()
        if self._calendar is not None and now - self._checked_at < RECHECK_SECONDS:
            return self._calendar
        version = await self.repo.version()
        self._checked_at = now
        if self._calendar is None or version != self._version:
            exceptions = {e.day: (e.off, e.reason) for e in await self.repo.exceptions()}
            self._calendar = build_calendar(self.settings, await self.repo.years(), exceptions)
            self._version = version
        return self._calendar

    async def due(self, start: datetime, amount: timedelta | WorkingTime) -> Due:
        """``amount`` after ``start``: calendar time as is, working time on the calendar."""
        if isinstance(amount, timedelta):
            return Due(start + amount)
        return (await self.current()).due(start, amount, self.settings.tz)

    async def import_file(self, text: str | bytes, where: str, now: datetime) -> YearFile:
        """Store a year's file (it then wins over a shipped one); CalendarFileError if bad."""
        parsed = YearFile.parse(text, where)
        async with self.db.write() as tx:
            await self.repo.import_year(tx, parsed.year, parsed.to_json(), now)
        self._calendar = None
        return parsed

    async def add_exception(self, day: date, off: bool, reason: str, added_by: int | None,
                            now: datetime) -> None:
        async with self.db.write() as tx:
            await self.repo.add_exception(tx, day, off, reason, added_by, now)
        self._calendar = None


def holiday_names(lang: str, names: tuple[str, ...]) -> tuple[str, bool]:
    """The holidays as people say them (国庆、中秋 / National Day and Mid-Autumn), and
    whether all are official holidays (else a local reason such as 台风停工)."""
    parts = [part for name in names for part in name.split("、")]
    official = all(part in HOLIDAY_KEYS for part in parts)
    shown = [t(lang, f"workcal.holiday.{HOLIDAY_KEYS[p]}") if p in HOLIDAY_KEYS else p
             for p in parts]
    return t(lang, "workcal.and").join(shown), official


def local_date(lang: str, day: date) -> str:
    return f"{day.month}月{day.day}日" if lang == "zh" else f"{day.day} {day:%b}"


def deferral(lang: str, due: Due, settings: Settings) -> str:
    """「遇国庆假期顺延至 10月9日」, or "" when no holiday moved the deadline."""
    if not due.deferred:
        return ""
    names, official = holiday_names(lang, due.deferred_by)
    key = "workcal.deferred_holiday" if official else "workcal.deferred_other"
    return t(lang, key, holiday=names, date=local_date(lang, due.at.astimezone(settings.tz)))


CHECK_SUBJECT = "calendar"
CHECK_AT = time(9, 0)


class CalendarWatch:
    """From 1 December, next year's missing calendar is told to the community secretary
    (the top node's leaders; the admins if it has none) by private message, once a year.
    A daily check through the one deadline mechanism."""

    def __init__(self, settings: Settings, clock: Clock, calendars: Calendars, org: OrgRepo,
                 users: UserRepo, notifier: Notifier, scheduler: Scheduler) -> None:
        self.settings, self.clock, self.calendars, self.org = settings, clock, calendars, org
        self.users, self.notifier, self.scheduler = users, notifier, scheduler
        scheduler.on(CHECK_SUBJECT, self.check)

    async def ensure_armed(self) -> None:
        await self.scheduler.keep_armed(CHECK_SUBJECT, "check", self.clock.now())

    async def check(self, tx: Tx, _deadline: Deadline | None = None) -> int:
        now = self.clock.now()
        missing = next_year_missing(await self.calendars.current(),
                                    now.astimezone(self.settings.tz).date())
        told = 0
        if missing is not None and await self.calendars.repo.warn_once(tx, missing, now):
            for user_id in await self._secretaries():
                await self._tell(tx, user_id, missing)
                told += 1
        await self.scheduler.arm(tx, CHECK_SUBJECT, 0, "check",
                                 next_local(self.settings, now, CHECK_AT))
        return told

    async def _secretaries(self) -> list[int]:
        leaders = [ld.user_id for top in await self.org.children(None)
                   for ld in await self.org.leaders_of(top.id)]
        return sorted(set(leaders)) or list(self.settings.admin_ids)

    async def _tell(self, tx: Tx, user_id: int, year: int) -> None:
        user = await self.users.get(user_id)
        lang = pick_language(user.language if user else None,
                             user.language_code if user else None, self.settings.language)
        names = await self.org.leaders_named(user_id)
        name = names[0] if names else (user.display_name if user else "")
        await self.notifier.enqueue(tx, Outgoing(
            user_id, t(lang, "workcal.next_year_missing", name=name, year=year),
            dedup_key=f"calendar:missing:{year}:{user_id}"))
