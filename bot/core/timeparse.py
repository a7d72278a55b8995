"""The one grammar for times people type, Chinese first, English and ISO too.

    moments    明天下午两点 · 周六上午9点 · 下周一 · 12月25日14:00 · 2小时后 · 今晚8点
               tomorrow 9am · mon 18:30 · 2026-12-01 19:00 · 19:00 · 2h · PT2H
    rules      每天9点 · 每周一、四 9:00 · 每月1号9点 · daily 09:00 · weekly mon,thu 09:00
    durations  每周 · 每两周 · 7天 · 3小时 · P7D · 7 days
    periods    本月 · 上月 · 本周 · 上周 · 2026年11月 · 11月 · 2026-11 · month · week
    days       12月5日 · 明天 · 下周五 (a due date: the end of that day, 18:00)

Defaults, so that people need not say everything: a day without a time is 09:00 (a due
day 18:00); a part of the day without a time takes its usual hour (早上 8, 上午 9, 中午 12,
下午 15, 傍晚 18, 晚上 19); a bare 「8点」 is the next 8 o'clock, morning or evening; a date
without a year is the next such date; a weekday alone is the next such day, 下周X the one
in next week (weeks start on Monday); 「每月」 as a duration is 30 days.

Pure: the clock comes in as ``now``. Results are aware UTC datetimes, recurrence
``Rule``s, ``timedelta``s and (start, end) periods. What cannot be read raises
``BadInput`` naming the part not understood, with two examples that work at ``now``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.core.errors import BadInput
from bot.core.i18n import ByLanguage
from bot.core.inputs import calendar_date, whole_number
from bot.core.recurrence import Rule, add_months, next_after
from config.settings import MAX_DURATION

DEFAULT_AT, DAY_END = time(9, 0), time(18, 0)
_FULLWIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
           "七": 7, "八": 8, "九": 9}
N = r"(?:\d{1,4}|[零〇一二两三四五六七八九十]{1,3})"
WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6,
            "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_DAYS = {"今天": 0, "今日": 0, "today": 0, "明天": 1, "明日": 1, "tomorrow": 1, "后天": 2,
         "大后天": 3}
_DAY_PARTS = {"今晚": (0, "晚上"), "今夜": (0, "晚上"), "tonight": (0, "晚上"), "今早": (0, "早上"),
              "明早": (1, "早上"), "明晚": (1, "晚上")}
# part of the day: (hours added to a 12-hour clock below ``below``, below, its usual hour)
_PARTS = {"凌晨": (0, 0, 5), "早上": (0, 0, 8), "早晨": (0, 0, 8), "清晨": (0, 0, 7),
          "上午": (0, 0, 9), "am": (0, 0, 9), "中午": (12, 6, 12), "下午": (12, 12, 15),
          "午后": (12, 12, 15), "pm": (12, 12, 15), "傍晚": (12, 12, 18), "晚上": (12, 12, 19),
          "晚": (12, 12, 19), "夜里": (12, 12, 21), "夜间": (12, 12, 21)}
_UNITS = {"分钟": 60, "分": 60, "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
          "小时": 3600, "钟头": 3600, "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600,
          "hours": 3600, "天": 86400, "d": 86400, "day": 86400, "days": 86400,
          "周": 604800, "星期": 604800, "礼拜": 604800, "w": 604800, "week": 604800,
          "weeks": 604800, "月": 2592000, "month": 2592000, "months": 2592000}
_EVERY = {"daily": "天", "weekly": "周", "fortnightly": "两周", "monthly": "月"}
_NOW_WORDS = ("now", "现在", "立即", "马上")

_WS = re.compile(r"\s*")
_DAY_NAME = r"(?:[一二三四五六日天]|mon|tue|wed|thu|fri|sat|sun)[a-z]*"
_UNIT = (r"(?P<unit>分钟|分|小时|钟头|天|周|星期|礼拜|个?月"
         r"|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|[mhdw])")
_AMOUNT = re.compile(rf"(?P<n>{N}|半)\s*个?\s*(?P<half>半)?\s*{_UNIT}(?![a-z])")
_AFTER = re.compile(r"\s*(?:以后|之后|后)")
_IN = re.compile(r"in\s+(?=\d)")
_ISO = re.compile(r"p(?:(\d{1,3})w)?(?:(\d{1,4})d)?"
                  r"(?:t(?:(\d{1,4})h)?(?:(\d{1,5})m)?(?:(\d{1,6})s)?)?(?![a-z\d])")
_WEEKDAY = re.compile(r"(?P<which>下下|下个?|本|这个?|上个?|next\s+|this\s+)?"
                      r"(?:(?:周|星期|礼拜)(?P<zh>[一二三四五六日天1-7])"
                      r"|(?P<en>mon|tue|wed|thu|fri|sat|sun)[a-z]*)")
_DATE = re.compile(
    rf"(?:(?P<y>\d{{4}})年)?(?P<m>{N})月(?P<d>{N})[日号]?"
    r"|(?:(?P<y2>\d{4})[-/.])?(?P<m2>\d{1,2})[-/.](?P<d2>\d{1,2})(?![\d-])"
    rf"|(?P<d3>{N})[号日](?=$|\s|[上下中晚早凌傍午夜\d零一二两三四五六七八九十])")  # not 3号楼
_CLOCK = re.compile(
    rf"(?:at\s+)?(?:(?P<h>\d{{1,2}}):(?P<mi>\d{{2}})"
    rf"|(?P<h2>{N})\s*[点时](?:(?P<half>半)|(?P<q>[一三])刻|(?P<mi2>{N})分?|整)?"
    r"|(?P<h3>\d{1,2})(?=\s*[ap]m))(?:\s*(?P<ap>[ap]m))?(?![\d:])")
_DAY_LIST = re.compile(rf"(?:周|星期|礼拜)?(?P<days>{_DAY_NAME}(?:\s*[、,和及]?\s*{_DAY_NAME})*"
                       r"|[1-7](?:[、,][1-7])*(?=\s|$))")
_RULE = re.compile(r"(?P<daily>每天|每日|天天|daily|every\s*day)"
                   r"|(?P<weekly>每周|每星期|每礼拜|weekly|every(?=\s))|(?P<monthly>每个?月|monthly)")
_MONTH_DAY = re.compile(rf"\s*(?P<d>{N})(?:[号日]|(?=\s))")
_PERIOD = re.compile(
    r"(?P<word>本月|这个?月|this month|month|上个?月|last month|本周|这个?星期|这周|this week"
    r"|上周|上个?星期|last week|week|最?近7天)"
    rf"|(?:(?P<y>\d{{4}})年)?(?P<m>{N})月份?|(?P<y2>\d{{4}})-(?P<m2>\d{{2}})")
_EN_DAYS = "Mon Tue Wed Thu Fri Sat Sun".split()
_EN_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def number(text: str) -> int:
    """"15", "十五", "二十", "两" → the number; nonsense such as 「十十」 → 999 (refused
    later as no such day or hour)."""
    if text.isdigit():  # "²" is a digit to isdigit() only: nonsense, like a 30-digit number
        value = whole_number(text)
        return 999 if value is None or value > 10**9 else value
    tens, ten, ones = text.partition("十")
    try:
        if ten:
            return (_DIGITS[tens] if tens else 1) * 10 + (_DIGITS[ones] if ones else 0)
        return int("".join(str(_DIGITS[c]) for c in text))
    except KeyError:
        return 999


def _clean(text: str) -> str:
    return " ".join(text.translate(_FULLWIDTH).lower().split())


# -- refusals --------------------------------------------------------------------------

def _examples(kind: str, now: datetime, tz: ZoneInfo) -> dict[str, ByLanguage]:
    later = now.astimezone(tz).date() + timedelta(days=2)
    month = add_months(now.astimezone(tz).date(), -1)
    zh, en = {
        "moment": (("明天上午9点", f"{later.month}月{later.day}日 14:00"),
                   ("tomorrow 9am", f"{later:%m-%d} 14:00")),
        "rule": (("每周三18:30", "每月1号9点"), ("weekly wed 18:30", "monthly 1 09:00")),
        "duration": (("每周", "3天"), ("7 days", "P7D")),
        "period": (("上月", f"{month.year}年{month.month}月"), ("month", f"{month:%Y-%m}")),
        "day": (("明天", f"{later.month}月{later.day}日"), ("tomorrow", f"{later:%m-%d}")),
    }[kind]
    return {"first": ByLanguage(zh=zh[0], en=en[0]), "second": ByLanguage(zh=zh[1], en=en[1])}


def _refuse(key: str, part: str, kind: str, now: datetime, tz: ZoneInfo,
            **more: object) -> BadInput:
    return BadInput(f"time.{key}", part=part.strip(), **_examples(kind, now, tz), **more)


def _whole(text: str, end: int, raw: str, kind: str, now: datetime, tz: ZoneInfo) -> None:
    """Refuse unless all of ``text`` was read."""
    if end == 0:
        raise _refuse("not_understood", raw, kind, now, tz)
    if end < len(text):
        raise _refuse("leftover", text[end:], kind, now, tz, text=raw.strip())


# -- moments ---------------------------------------------------------------------------

@dataclass(slots=True)
class _Read:
    end: int = 0  # how much of the text was read
    day: date | None = None
    bare_weekday: bool = False  # 「周六」: next week's when this week's is already past
    part: str | None = None
    at: time | None = None
    hour12: int | None = None  # 「8点」 with no part of the day: morning or evening
    next_day: bool = False  # 晚上12点


def _skip(text: str, pos: int) -> int:
    return _WS.match(text, pos).end()  # type: ignore[union-attr]


def _read_day(text: str, pos: int, today: date, r: _Read, now: datetime, tz: ZoneInfo) -> int:
    for word in sorted(_DAY_PARTS | _DAYS, key=len, reverse=True):
        if text.startswith(word, pos):
            shift, r.part = _DAY_PARTS[word] if word in _DAY_PARTS else (_DAYS[word], None)
            r.day = today + timedelta(days=shift)
            return pos + len(word)
    if m := _WEEKDAY.match(text, pos):
        zh = m["zh"] or ""
        wanted = int(zh) - 1 if zh.isdigit() else WEEKDAYS[zh or m["en"]]
        which = (m["which"] or "").strip()
        weeks = {"下": 1, "下个": 1, "next": 1, "下下": 2, "上": -1, "上个": -1}.get(which, 0)
        if which:
            r.day = today + timedelta(days=wanted - today.weekday() + 7 * weeks)
        else:
            r.day, r.bare_weekday = today + timedelta(days=(wanted - today.weekday()) % 7), True
        return m.end()
    if m := _DATE.match(text, pos):
        y, mo, d = m["y"] or m["y2"], m["m"] or m["m2"], m["d"] or m["d2"] or m["d3"]
        try:
            if mo is None:  # 「25号」: this month's, else next month's
                r.day = _day(today.year, today.month, number(d))
                if r.day < today:
                    r.day = add_months(r.day, 1, number(d))
            else:
                r.day = _day(int(y) if y else today.year, number(mo), number(d))
                if not y and r.day < today:
                    r.day = r.day.replace(year=today.year + 1)
        except (ValueError, KeyError):
            raise _refuse("no_such_date", m[0], "moment", now, tz) from None
        return m.end()
    return pos


def _read_clock(text: str, pos: int, r: _Read, now: datetime, tz: ZoneInfo) -> int:
    """[part of the day] [clock time]; returns where reading stopped."""
    for word in sorted(_PARTS, key=len, reverse=True):
        after = text[pos + len(word):pos + len(word) + 1]
        if text.startswith(word, pos) and not (word.isascii() and after.isalpha()):
            r.part, pos = word, pos + len(word)
            break
    m = _CLOCK.match(text, _skip(text, pos))
    if m is None:
        return pos
    hour = number(m["h"] or m["h2"] or m["h3"])
    quarter = 15 if m["q"] == "一" else 45
    minute = 30 if m["half"] else quarter if m["q"] else number(m["mi"] or m["mi2"] or "0")
    part = m["ap"] or r.part
    if hour > 23 or minute > 59 or (part and _PARTS[part][0] == 0 and hour > 12):
        raise _refuse("bad_clock", m[0], "moment", now, tz)
    if part:
        added, below, _ = _PARTS[part]
        r.next_day = added == 12 and below == 12 and hour == 12 and part != "pm"
        hour = 0 if (part == "am" and hour == 12) or r.next_day else (
            hour + added if hour < below else hour)
    elif m["h2"] and 1 <= hour <= 5:
        hour += 12  # 「两点开会」 is in the afternoon; 凌晨3点 says otherwise
    elif m["h2"] and 6 <= hour <= 11:
        r.hour12 = hour
    r.at, r.part = time(hour, minute), part
    return m.end()


def _day(year: int, month: int, day: int) -> date:
    """A day people may name (bot/core/inputs.py): not 2月30日, nor the year 1 or 9999."""
    found = calendar_date(year, month, day)
    if found is None:
        raise ValueError("no such day")
    return found


def _read_amount(text: str, pos: int) -> tuple[timedelta, int, str] | None:
    """An amount of time; None when there is none, or more than MAX_DURATION."""
    if m := _ISO.match(text, pos):
        if any(m.groups()):
            w, d, h, mi, s = (int(g or 0) for g in m.groups())
            seconds = (((w * 7 + d) * 24 + h) * 60 + mi) * 60 + s
            if seconds > MAX_DURATION.total_seconds():
                return None
            return timedelta(seconds=seconds), m.end(), ""
    if m := _AMOUNT.match(text, pos):
        n = 0.5 if m["n"] == "半" else number(m["n"]) + (0.5 if m["half"] else 0)
        unit = m["unit"].removeprefix("个")
        if n * _UNITS[unit] > MAX_DURATION.total_seconds():
            return None
        return timedelta(seconds=n * _UNITS[unit]), m.end(), unit
    return None


def _read_moment(text: str, now: datetime, tz: ZoneInfo, default: time,
                 base: date | None = None) -> tuple[_Read, datetime]:
    """Read a moment at the start of ``text``: ``r.end`` is 0 when there is none."""
    local, r = now.astimezone(tz), _Read()
    start = m.end() if (m := _IN.match(text)) else 0
    if amount := _read_amount(text, start):
        delta, end, unit = amount
        after = _AFTER.match(text, end)
        if after or not unit.startswith(("月", "month")):  # 「12月」 is a month, not 12 of them
            r.end = after.end() if after else end
            return r, (now + delta).astimezone(UTC)
    pos = _read_day(text, start, local.date(), r, now, tz)
    end = _read_clock(text, _skip(text, pos), r, now, tz)
    r.end = end if r.at or r.part else pos
    if r.end == 0:
        return r, now
    at = r.at or (time(_PARTS[r.part][2]) if r.part else default)
    moment = datetime.combine(r.day or base or local.date(), at, tzinfo=tz)
    moment += timedelta(days=1 if r.next_day else 0)
    if base is None and r.hour12 and not r.day and moment <= local < moment + timedelta(hours=12):
        moment += timedelta(hours=12)  # 「8点」 said at 18:30 is 20:00
    elif base is None and (r.bare_weekday or not r.day) and moment <= local:
        moment += timedelta(days=7 if r.bare_weekday else 1)
    return r, moment.astimezone(UTC)


def _future(text: str, r: _Read, moment: datetime, now: datetime, tz: ZoneInfo,
            past_ok: bool) -> datetime:
    if moment <= now and not past_ok:
        when = ByLanguage(zh=describe(moment, now, tz, "zh"), en=describe(moment, now, tz, "en"))
        raise _refuse("past", text[:r.end], "moment", now, tz, when=when)
    return moment


def parse_moment(text: str, now: datetime, tz: ZoneInfo, *, past_ok: bool = False,
                 day_of: datetime | None = None) -> datetime:
    """A moment after ``now`` (aware, UTC). With ``day_of``, a time without a day is on
    that local day (an event's end, after its start)."""
    cleaned = _clean(text)
    base = day_of.astimezone(tz).date() if day_of else None
    r, moment = _read_moment(cleaned, now, tz, DEFAULT_AT, base)
    _whole(cleaned, r.end, text, "moment", now, tz)
    return _future(cleaned, r, moment, now, tz, past_ok)


def parse_day_end(text: str, now: datetime, tz: ZoneInfo, *, past_ok: bool = False) -> datetime:
    """A due date: a day alone means its end (18:00 local); with a time, that time."""
    cleaned = _clean(text)
    r, moment = _read_moment(cleaned, now, tz, DAY_END)
    _whole(cleaned, r.end, text, "day", now, tz)
    return _future(cleaned, r, moment, now, tz, past_ok)


# -- rules, schedules, durations, periods ------------------------------------------------

def _read_rule(text: str, now: datetime, tz: ZoneInfo) -> tuple[Rule, int] | None:
    m = _RULE.match(text)
    if m is None:
        return None
    last, today = m.end(), now.astimezone(tz).date()
    days, month_day = (today.weekday(),), today.day  # 「每周」 alone: on today's weekday
    if m["weekly"] and (d := _DAY_LIST.match(text, _skip(text, last))):
        found = re.findall(r"[a-z]+|[一二三四五六日天1-7]", d["days"])
        days = tuple(sorted({int(w) - 1 if w.isdigit() else WEEKDAYS[w[:3]] for w in found}))
        last = d.end()
    elif m["weekly"] and m[0] == "every":
        return None
    if m["monthly"] and (d := _MONTH_DAY.match(text, last)):
        if not 1 <= number(d["d"]) <= 31:
            raise _refuse("no_such_date", d[0], "rule", now, tz)
        month_day, last = number(d["d"]), d.end()
    r = _Read()
    end = _read_clock(text, _skip(text, last), r, now, tz)
    last = end if r.at or r.part else last
    at = r.at or (time(_PARTS[r.part][2]) if r.part else DEFAULT_AT)
    if m["daily"]:
        return Rule("daily", at), last
    if m["weekly"]:
        return Rule("weekly", at, weekdays=days), last
    return Rule("monthly", at, month_day=month_day), last


def parse_rule(text: str, now: datetime, tz: ZoneInfo) -> Rule:
    """每天9点 · 每周一、四 9:00 · 每月1号9点 · daily 09:00 · weekly mon,thu 09:00."""
    cleaned = _clean(text)
    read = _read_rule(cleaned, now, tz)
    _whole(cleaned, read[1] if read else 0, text, "rule", now, tz)
    return read[0]  # type: ignore[index]


@dataclass(frozen=True, slots=True)
class Schedule:
    rule: Rule | None  # recurring, else once
    first: datetime | None  # the first time (UTC); None: now


def leading_schedule(text: str, now: datetime, tz: ZoneInfo, *,
                     day_alone: bool = True) -> tuple[Schedule, str] | None:
    """A time at the start of ``text`` (now, once, or recurring) and the rest; None when
    ``text`` does not start with a time (nor with a day alone, unless ``day_alone``)."""
    stripped = text.lstrip()
    words = stripped.split(maxsplit=1)
    if words and words[0].lower() in _NOW_WORDS:
        return Schedule(None, None), words[1] if len(words) > 1 else ""
    cleaned = stripped.translate(_FULLWIDTH).lower()  # same length: positions stay
    if read := _read_rule(cleaned, now, tz):
        rule, end = read
        schedule = Schedule(rule, next_after(rule, now, tz))
    else:
        r, moment = _read_moment(cleaned, now, tz, DEFAULT_AT)
        end, schedule = r.end, Schedule(None, moment)
        if not day_alone and r.day and not (r.at or r.part):
            return None
    if not end or (end < len(cleaned) and cleaned[end].isascii() and cleaned[end].isalnum()):
        return None
    if schedule.rule is None:
        _future(cleaned, r, moment, now, tz, False)
    return schedule, stripped[end:].strip()


def parse_duration(text: str, now: datetime, tz: ZoneInfo) -> timedelta:
    """每周 · 每两周 · 每月 (30 days) · 7天 · 两周 · 3小时 · P7D · PT2H · 2h · 7 days · 3600 (s)."""
    cleaned = _clean(text)
    if cleaned.isdigit():
        seconds = whole_number(cleaned, 1, int(MAX_DURATION.total_seconds()))
        if seconds is None:
            raise _refuse("not_understood", text, "duration", now, tz)
        return timedelta(seconds=seconds)
    cleaned = _EVERY.get(cleaned, cleaned).removeprefix("每").removeprefix("every ")
    if cleaned in ("天", "日", "周", "星期", "月", "个月", "day", "week", "month"):
        cleaned = "1" + cleaned
    read = _read_amount(cleaned, 0)
    _whole(cleaned, read[1] if read else 0, text, "duration", now, tz)
    if read[0] <= timedelta(0):  # type: ignore[index]
        raise _refuse("not_understood", text, "duration", now, tz)
    return read[0]  # type: ignore[index]


def parse_period(text: str, now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The (start, end) of 本月 · 上月 · 本周 · 上周 · 2026年11月 · 11月 · 2026-11 · month ·
    week (the last 7 days, today included) as UTC instants, end exclusive."""
    cleaned, today = _clean(text), now.astimezone(tz).date()
    m = _PERIOD.fullmatch(cleaned)
    if m is None:
        raise _refuse("not_understood", text, "period", now, tz)
    word = m["word"] or ""
    back = 1 if word.startswith(("上", "last")) else 0
    if word == "week" or "7天" in word:
        first, after = today - timedelta(days=6), today + timedelta(days=1)
    elif "周" in word or "星期" in word or word.endswith("week"):
        first = today - timedelta(days=today.weekday() + 7 * back)
        after = first + timedelta(days=7)
    elif word:
        first = add_months(today.replace(day=1), -back)
        after = add_months(first, 1)
    else:
        y, mo = m["y"] or m["y2"], number(m["m"] or m["m2"])
        if not 1 <= mo <= 12 or (y and int(y) < 2000):
            raise _refuse("not_understood", text, "period", now, tz)
        try:  # a month people may name, and the one after it too (not December 2100)
            first = _day(int(y) if y else today.year, mo, 1)
            if not y and first > today:
                first = first.replace(year=today.year - 1)  # 「11月」 in March: last November
            after = _day(first.year + first.month // 12, first.month % 12 + 1, 1)
        except ValueError:
            raise _refuse("not_understood", text, "period", now, tz) from None
    start, end = (datetime.combine(d, time(), tzinfo=tz).astimezone(UTC) for d in (first, after))
    return start, end


# -- echo ------------------------------------------------------------------------------

def describe(moment: datetime, now: datetime, tz: ZoneInfo, lang: str) -> str:
    """「12月2日（周三）14:00」 / "Wed 2 Dec 14:00"; the year only when not this year."""
    local, this_year = moment.astimezone(tz), now.astimezone(tz).year
    if lang == "zh":
        year = f"{local.year}年" if local.year != this_year else ""
        weekday = "一二三四五六日"[local.weekday()]
        return f"{year}{local.month}月{local.day}日（周{weekday}）{local:%H:%M}"
    year = f" {local.year}" if local.year != this_year else ""
    day = f"{_EN_DAYS[local.weekday()]} {local.day} {_EN_MONTHS[local.month - 1]}"
    return f"{day}{year} {local:%H:%M}"
