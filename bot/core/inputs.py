"""What people type and what buttons carry, read in one place each, with bounds.

Everything here is untrusted: a command's arguments, the answer to a question, and a
button's callback data (any client can forge it). A reader returns the value or None
(the caller says which usage hint to give); none of them raises anything but BadInput,
so no input reaches a handler as a traceback. The bounds are where Python or SQLite
would otherwise fail: ``"²".isdigit()`` is true yet ``int("²")`` fails, SQLite stores no
integer above 2**63-1, ``datetime`` ends in the year 9999 and a date in the year 1 falls
off its start when moved to UTC.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time, timedelta, tzinfo

from pydantic import TypeAdapter, ValidationError

from bot.core.errors import BadInput
from config.settings import MAX_DURATION, Duration

MAX_ID = 2**63 - 1  # SQLite's INTEGER
MAX_DIGITS = 19  # len(str(MAX_ID)): longer can only be out of range
FIRST_YEAR, LAST_YEAR = 2000, 2100  # dates people may name: a history and a plan
_DURATION: TypeAdapter[timedelta] = TypeAdapter(Duration)
# format characters and fillers that draw nothing: zero-width space and joiners, word
# joiner, BOM, direction marks and overrides, soft hyphen, Hangul fillers, braille blank
_FILLERS = "\u115f\u1160\u3164\uffa0\u2800"


def _invisible(char: str) -> bool:
    return char.isspace() or char in _FILLERS or unicodedata.category(char) in ("Cf", "Cc")


def visible(text: str | None) -> str:
    """``text`` without the blank and invisible characters at its ends ("" if only those)."""
    text = text or ""
    start, end = 0, len(text)
    while start < end and _invisible(text[start]):
        start += 1
    while end > start and _invisible(text[end - 1]):
        end -= 1
    return text[start:end]


def one_line(text: str | None) -> str:
    """Visible text on one line, runs of blanks made one space."""
    return " ".join(visible(text).split())


def whole_number(text: str | None, low: int = 0, high: int = MAX_ID) -> int | None:
    """A whole number written in decimal digits (full-width ones too), within [low, high]."""
    raw = visible(text)
    if not raw or len(raw) > MAX_DIGITS or not raw.isdecimal():  # isdigit() takes "²"
        return None
    value = int(raw)
    return value if low <= value <= high else None


def record_number(text: str | None) -> int | None:
    """The number of a report, an entry, a meeting: "12" or "#12", at least 1."""
    raw = visible(text)
    return whole_number(raw[1:] if raw.startswith(("#", "＃")) else raw, 1)


def person_id(text: str | None) -> int | None:
    """A person's id as typed: a Telegram user id, or the negative id of a resident
    registered without Telegram."""
    raw = visible(text)
    if raw.startswith("-"):
        value = whole_number(raw[1:], 1)
        return -value if value is not None else None
    return whole_number(raw, 1)


_BUTTON_NUMBER = re.compile(r"[0-9]{1,18}")


def button_number(value: str | None) -> int:
    """A number in callback data: only ASCII digits, as our buttons write them."""
    if value is None or not _BUTTON_NUMBER.fullmatch(value):
        raise BadInput("error.stale_button")
    return int(value)


def tagged_number(value: str | None, tag: str, *, signed: bool = False) -> int:
    """A form button's value: its one-letter tag, then a number ("m12", "c-1001234")."""
    if value is None or not value.startswith(tag):
        raise BadInput("error.stale_button")
    digits = value[len(tag):]
    negative = signed and digits.startswith("-")
    number = button_number(digits[1:] if negative else digits)
    return -number if negative else number


def button_date(value: str | None) -> date:
    """A date in callback data (YYYY-MM-DD); read after the presser's rights are checked."""
    match = re.fullmatch(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", value or "")
    day = calendar_date(*map(int, match.groups())) if match else None
    if day is None:
        raise BadInput("error.stale_button")
    return day


def calendar_date(year: int, month: int, day: int) -> date | None:
    """A real day between FIRST_YEAR and LAST_YEAR; None for 2月30日 or the year 1."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def in_range(moment: datetime) -> bool:
    """A moment between FIRST_YEAR and LAST_YEAR (as parsed by strptime or a library)."""
    return FIRST_YEAR <= moment.year <= LAST_YEAR


def local_moment(day: date, at: time, tz: tzinfo) -> datetime:
    """``day`` at ``at`` in ``tz``: the day comes from calendar_date, so this cannot overflow."""
    return datetime.combine(day, at, tzinfo=tz)


def duration(text: str | None) -> timedelta | None:
    """A positive duration: ISO 8601 ("P7D", "PT2H") or seconds, at most MAX_DURATION."""
    raw = visible(text).upper()
    if not raw:
        return None
    try:
        value = _DURATION.validate_python(raw)
    except ValidationError:
        return None
    return value if value > timedelta(0) else None


def bounded(amount: timedelta) -> timedelta | None:
    """A duration built from typed numbers ("30天"): None when beyond MAX_DURATION."""
    return amount if abs(amount) <= MAX_DURATION else None
