"""Times people type: "2026-12-01 19:00", "12-01 19:00", "19:00", "2h", "30m", "PT2H"."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.core.errors import BadInput

_RELATIVE = re.compile(r"^(\d{1,4})\s*(m|min|h|d|分钟|小时|天)$", re.IGNORECASE)
_ISO = re.compile(r"^P(?:(\d{1,3})D)?(?:T(?:(\d{1,4})H)?(?:(\d{1,5})M)?)?$", re.IGNORECASE)
_ABSOLUTE = re.compile(
    r"^(?:(?:(\d{4})[-/.年])?(\d{1,2})[-/.月](\d{1,2})日?\s*)?(\d{1,2})[:：点](\d{2})?分?$"
)
_UNITS = {"m": "minutes", "min": "minutes", "分钟": "minutes", "h": "hours", "小时": "hours",
          "d": "days", "天": "days"}


def parse_when(text: str, now: datetime, tz: ZoneInfo) -> datetime:
    """An aware instant after ``now``; BadInput("consult.bad_time") if unreadable."""
    raw = " ".join(text.strip().split())
    relative = _RELATIVE.match(raw)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2).lower()
        return now + timedelta(**{_UNITS[unit]: amount})
    iso = _ISO.match(raw)
    if iso and any(iso.groups()):
        days, hours, minutes = (int(g or 0) for g in iso.groups())
        return now + timedelta(days=days, hours=hours, minutes=minutes)
    absolute = _ABSOLUTE.match(raw)
    if absolute is None:
        raise BadInput("consult.bad_time", text=text)
    year, month, day, hour, minute = absolute.groups()
    local_now = now.astimezone(tz)
    try:
        at = time(int(hour), int(minute or 0))
        if month is None:
            moment = datetime.combine(local_now.date(), at, tzinfo=tz)
            if moment <= local_now:
                moment += timedelta(days=1)  # "19:00" after 19:00 means tomorrow
        else:
            day_ = date(int(year) if year else local_now.year, int(month), int(day))
            moment = datetime.combine(day_, at, tzinfo=tz)
    except ValueError:
        raise BadInput("consult.bad_time", text=text) from None
    return moment.astimezone(now.tzinfo)


def parse_day_end(text: str, now: datetime, tz: ZoneInfo) -> datetime:
    """A due date: "2026-12-05" or "12-05" means the end of that day (18:00 local)."""
    raw = text.strip()
    match = re.match(r"^(?:(\d{4})[-/.年])?(\d{1,2})[-/.月](\d{1,2})日?$", raw)
    if match is None:
        return parse_when(raw, now, tz)
    year, month, day = match.groups()
    local_now = now.astimezone(tz)
    try:
        day_ = date(int(year) if year else local_now.year, int(month), int(day))
    except ValueError:
        raise BadInput("consult.bad_time", text=text) from None
    return datetime.combine(day_, time(18, 0), tzinfo=tz).astimezone(now.tzinfo)
