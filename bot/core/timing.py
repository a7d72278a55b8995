"""Deadlines and quiet hours: pure arithmetic on aware datetimes."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from bot.core.i18n import t
from bot.core.workcal import WorkingTime
from config.settings import Settings


def in_quiet_hours(settings: Settings, moment: datetime) -> bool:
    quiet = settings.quiet_hours
    if not quiet.enabled:
        return False
    local = moment.astimezone(settings.tz).time()
    if quiet.start < quiet.end:  # e.g. 13:00–14:00
        return quiet.start <= local < quiet.end
    return local >= quiet.start or local < quiet.end  # across midnight, e.g. 22:00–07:00


def quiet_hours_end(settings: Settings, moment: datetime) -> datetime:
    """When the quiet window around ``moment`` ends (``moment`` itself if outside one)."""
    if not in_quiet_hours(settings, moment):
        return moment
    local = moment.astimezone(settings.tz)
    end = datetime.combine(local.date(), settings.quiet_hours.end, tzinfo=settings.tz)
    if end <= local:
        end += timedelta(days=1)
    return end.astimezone(moment.tzinfo)


# how long a rung has: calendar time (a timedelta) or working time ("2WD", a WorkingTime);
# turn it into a due time with Calendars.due(), the one place that knows the calendar
Within = timedelta | WorkingTime


def acknowledge_within(settings: Settings, level: str, category: str) -> Within:
    override = settings.deadlines.category.get(category)
    if override is not None and override.acknowledge is not None:
        return override.acknowledge
    return settings.deadlines.acknowledge[level]


def resolve_within(settings: Settings, level: str, category: str) -> Within:
    override = settings.deadlines.category.get(category)
    if override is not None and override.resolve is not None:
        return override.resolve
    return settings.deadlines.resolve[level]


def next_local(settings: Settings, moment: datetime, at: time) -> datetime:
    """The first local ``at`` (e.g. 09:00) strictly after ``moment``."""
    local = moment.astimezone(settings.tz)
    candidate = datetime.combine(local.date(), at, tzinfo=settings.tz)
    if candidate <= local:
        candidate += timedelta(days=1)
    return candidate.astimezone(moment.tzinfo)


def local_time(settings: Settings, lang: str, moment: datetime) -> str:
    local = moment.astimezone(settings.tz)
    if lang == "zh":
        return f"{local.month}月{local.day}日 {local:%H:%M}"
    return f"{local.day} {local:%b %H:%M}"


def how_soon(lang: str, before: timedelta) -> str:
    """A reminder's lead time as people say it: 明天 (a day before), 1小时后, 30分钟后."""
    seconds = int(before.total_seconds())
    if seconds % 86400 == 0:
        days = seconds // 86400
        return t(lang, "soon.tomorrow") if days == 1 else t(lang, "soon.days", n=days)
    if seconds % 3600 == 0:
        return t(lang, "soon.hours", n=seconds // 3600)
    return t(lang, "soon.minutes", n=max(1, seconds // 60))
