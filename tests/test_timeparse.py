"""The one time grammar: phrases people type, in Chinese and English, with the clock fixed.

Each table row is (phrase, what it must mean). "Now" is Tuesday 2026-12-01 18:30 in
Shanghai unless a row says otherwise (a Saturday, late December for the year's turn).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core.errors import BadInput
from bot.core.i18n import t
from bot.core.recurrence import Rule
from bot.core.timeparse import (
    Schedule,
    describe,
    leading_schedule,
    number,
    parse_day_end,
    parse_duration,
    parse_moment,
    parse_period,
    parse_rule,
)

TZ = ZoneInfo("Asia/Shanghai")
TUESDAY = datetime(2026, 12, 1, 18, 30, tzinfo=TZ)  # the default "now"
SATURDAY = datetime(2026, 12, 5, 10, 0, tzinfo=TZ)
LATE_DECEMBER = datetime(2026, 12, 28, 20, 0, tzinfo=TZ)  # a Monday
MORNING = datetime(2026, 12, 1, 7, 0, tzinfo=TZ)


def shown(moment: datetime) -> str:
    assert moment.tzinfo == UTC
    return moment.astimezone(TZ).strftime("%Y-%m-%d %H:%M")


MOMENTS = [
    # relative days and parts of the day
    ("明天上午8点", TUESDAY, "2026-12-02 08:00"),
    ("明天下午两点", TUESDAY, "2026-12-02 14:00"),
    ("明天下午3点", TUESDAY, "2026-12-02 15:00"),
    ("后天晚上8点半", TUESDAY, "2026-12-03 20:30"),
    ("明天十点", TUESDAY, "2026-12-02 10:00"),
    ("明天20:30", TUESDAY, "2026-12-02 20:30"),
    ("明天 20:30", TUESDAY, "2026-12-02 20:30"),
    ("明天8点15分", TUESDAY, "2026-12-02 08:15"),
    ("明天上午十点半", TUESDAY, "2026-12-02 10:30"),
    ("明天中午", TUESDAY, "2026-12-02 12:00"),
    ("明天中午1点", TUESDAY, "2026-12-02 13:00"),
    ("明天凌晨3点", TUESDAY, "2026-12-02 03:00"),
    ("明天下午", TUESDAY, "2026-12-02 15:00"),
    ("明天晚上", TUESDAY, "2026-12-02 19:00"),
    ("明天晚上12点", TUESDAY, "2026-12-03 00:00"),
    ("明天8点一刻", TUESDAY, "2026-12-02 08:15"),
    ("明天9点整", TUESDAY, "2026-12-02 09:00"),
    ("明天", TUESDAY, "2026-12-02 09:00"),
    ("后天", TUESDAY, "2026-12-03 09:00"),
    ("大后天下午4点", TUESDAY, "2026-12-04 16:00"),
    ("今天晚上8点", TUESDAY, "2026-12-01 20:00"),
    ("今天下午3点", MORNING, "2026-12-01 15:00"),
    ("今晚", TUESDAY, "2026-12-01 19:00"),
    ("今晚8点", TUESDAY, "2026-12-01 20:00"),
    ("今晚八点半", TUESDAY, "2026-12-01 20:30"),
    ("明早", TUESDAY, "2026-12-02 08:00"),
    ("明晚7点", TUESDAY, "2026-12-02 19:00"),
    ("明日10点", TUESDAY, "2026-12-02 10:00"),
    # a clock time alone: the next one
    ("8点", TUESDAY, "2026-12-01 20:00"),  # at 18:30 the next 8 o'clock is the evening's
    ("8点", MORNING, "2026-12-01 08:00"),
    ("两点", TUESDAY, "2026-12-02 14:00"),  # nobody meets at 2 a.m.
    ("下午两点", MORNING, "2026-12-01 14:00"),
    ("上午9点", TUESDAY, "2026-12-02 09:00"),
    ("19:00", TUESDAY, "2026-12-01 19:00"),
    ("18:00", TUESDAY, "2026-12-02 18:00"),
    ("２０：３０", TUESDAY, "2026-12-01 20:30"),
    ("20点", TUESDAY, "2026-12-01 20:00"),
    # weekdays
    ("周六上午9点", TUESDAY, "2026-12-05 09:00"),
    ("星期六下午3点", TUESDAY, "2026-12-05 15:00"),
    ("周二上午9点", TUESDAY, "2026-12-08 09:00"),  # today's is past: next week's
    ("周二晚上8点", TUESDAY, "2026-12-01 20:00"),
    ("下周一", TUESDAY, "2026-12-07 09:00"),
    ("下周五下午3点", TUESDAY, "2026-12-11 15:00"),
    ("下个星期三", TUESDAY, "2026-12-09 09:00"),
    ("本周五", TUESDAY, "2026-12-04 09:00"),
    ("这周日晚上7点", TUESDAY, "2026-12-06 19:00"),
    ("周日", SATURDAY, "2026-12-06 09:00"),
    ("下周一", SATURDAY, "2026-12-07 09:00"),
    ("礼拜天上午10点", TUESDAY, "2026-12-06 10:00"),
    # dates
    ("12月25日14:00", TUESDAY, "2026-12-25 14:00"),
    ("12月25日 14:00", TUESDAY, "2026-12-25 14:00"),
    ("12月25号下午2点", TUESDAY, "2026-12-25 14:00"),
    ("十二月二十五日", TUESDAY, "2026-12-25 09:00"),
    ("12-25 14:00", TUESDAY, "2026-12-25 14:00"),
    ("12/25 14:00", TUESDAY, "2026-12-25 14:00"),
    ("2027-01-05 09:00", TUESDAY, "2027-01-05 09:00"),
    ("2027年1月5日", TUESDAY, "2027-01-05 09:00"),
    ("2027年1月5日上午10点", TUESDAY, "2027-01-05 10:00"),
    ("1月5日", LATE_DECEMBER, "2027-01-05 09:00"),  # the next 5 January
    ("01-05 09:00", LATE_DECEMBER, "2027-01-05 09:00"),
    ("12月30日下午3点", LATE_DECEMBER, "2026-12-30 15:00"),
    ("5号下午3点", TUESDAY, "2026-12-05 15:00"),
    ("1号", LATE_DECEMBER, "2027-01-01 09:00"),
    ("12-01 19:00", TUESDAY, "2026-12-01 19:00"),
    ("2026-12-01 19:00", TUESDAY, "2026-12-01 19:00"),
    ("１２月２５日", TUESDAY, "2026-12-25 09:00"),
    # in a while
    ("30分钟后", TUESDAY, "2026-12-01 19:00"),
    ("2小时后", TUESDAY, "2026-12-01 20:30"),
    ("两个小时以后", TUESDAY, "2026-12-01 20:30"),
    ("3天后", TUESDAY, "2026-12-04 18:30"),
    ("半小时后", TUESDAY, "2026-12-01 19:00"),
    ("一个半小时后", TUESDAY, "2026-12-01 20:00"),
    ("十分钟之后", TUESDAY, "2026-12-01 18:40"),
    ("1周后", TUESDAY, "2026-12-08 18:30"),
    ("2h", TUESDAY, "2026-12-01 20:30"),
    ("30m", TUESDAY, "2026-12-01 19:00"),
    ("1d", TUESDAY, "2026-12-02 18:30"),
    ("1天", TUESDAY, "2026-12-02 18:30"),
    ("PT2H", TUESDAY, "2026-12-01 20:30"),
    ("PT1H30M", TUESDAY, "2026-12-01 20:00"),
    ("P1D", TUESDAY, "2026-12-02 18:30"),
    # English
    ("tomorrow 9am", TUESDAY, "2026-12-02 09:00"),
    ("tomorrow 9:30 pm", TUESDAY, "2026-12-02 21:30"),
    ("Tomorrow at 3pm", TUESDAY, "2026-12-02 15:00"),
    ("today 20:00", TUESDAY, "2026-12-01 20:00"),
    ("tonight", TUESDAY, "2026-12-01 19:00"),
    ("in 2 hours", TUESDAY, "2026-12-01 20:30"),
    ("in 30 minutes", TUESDAY, "2026-12-01 19:00"),
    ("in 3 days", TUESDAY, "2026-12-04 18:30"),
    ("mon 18:30", TUESDAY, "2026-12-07 18:30"),
    ("Friday 10am", TUESDAY, "2026-12-04 10:00"),
    ("next mon 9am", TUESDAY, "2026-12-07 09:00"),
    ("12am", TUESDAY, "2026-12-02 00:00"),
]


@pytest.mark.parametrize(("phrase", "now", "expected"), MOMENTS)
def test_moments(phrase: str, now: datetime, expected: str) -> None:
    assert shown(parse_moment(phrase, now.astimezone(UTC), TZ)) == expected


RULES = [
    ("每天9点", Rule("daily", time(9, 0))),
    ("每天早上8点", Rule("daily", time(8, 0))),
    ("每日晚上7点半", Rule("daily", time(19, 30))),
    ("每天", Rule("daily", time(9, 0))),
    ("每周三18:30", Rule("weekly", time(18, 30), weekdays=(2,))),
    ("每周一、四 9:00", Rule("weekly", time(9, 0), weekdays=(0, 3))),
    ("每周一三五", Rule("weekly", time(9, 0), weekdays=(0, 2, 4))),
    ("每周一三五下午3点", Rule("weekly", time(15, 0), weekdays=(0, 2, 4))),
    ("每星期六上午10点", Rule("weekly", time(10, 0), weekdays=(5,))),
    ("每周日", Rule("weekly", time(9, 0), weekdays=(6,))),
    ("每周", Rule("weekly", time(9, 0), weekdays=(1,))),  # today's weekday
    ("每月1号9点", Rule("monthly", time(9, 0), month_day=1)),
    ("每月15日", Rule("monthly", time(9, 0), month_day=15)),
    ("每个月二十号下午两点", Rule("monthly", time(14, 0), month_day=20)),
    ("daily 09:00", Rule("daily", time(9, 0))),
    ("weekly mon,thu 09:00", Rule("weekly", time(9, 0), weekdays=(0, 3))),
    ("weekly 1,4 09:00", Rule("weekly", time(9, 0), weekdays=(0, 3))),
    ("weekly 一,四 09:00", Rule("weekly", time(9, 0), weekdays=(0, 3))),
    ("monthly 1 09:00", Rule("monthly", time(9, 0), month_day=1)),
    ("every monday 9am", Rule("weekly", time(9, 0), weekdays=(0,))),
    ("every day 8:00", Rule("daily", time(8, 0))),
]


@pytest.mark.parametrize(("phrase", "expected"), RULES)
def test_rules(phrase: str, expected: Rule) -> None:
    assert parse_rule(phrase, TUESDAY, TZ) == expected


DURATIONS = [
    ("每周", timedelta(days=7)), ("每两周", timedelta(days=14)), ("每月", timedelta(days=30)),
    ("每天", timedelta(days=1)), ("每3天", timedelta(days=3)), ("7天", timedelta(days=7)),
    ("两周", timedelta(days=14)), ("3小时", timedelta(hours=3)),
    ("30分钟", timedelta(minutes=30)), ("半小时", timedelta(minutes=30)),
    ("P7D", timedelta(days=7)), ("p30d", timedelta(days=30)), ("PT2H", timedelta(hours=2)),
    ("P1W", timedelta(days=7)), ("2h", timedelta(hours=2)), ("7 days", timedelta(days=7)),
    ("2 weeks", timedelta(days=14)), ("weekly", timedelta(days=7)),
    ("fortnightly", timedelta(days=14)), ("3600", timedelta(hours=1)),
]


@pytest.mark.parametrize(("phrase", "expected"), DURATIONS)
def test_durations(phrase: str, expected: timedelta) -> None:
    assert parse_duration(phrase, TUESDAY, TZ) == expected


PERIODS = [
    ("本月", TUESDAY, "2026-12-01", "2027-01-01"), ("这个月", TUESDAY, "2026-12-01", "2027-01-01"),
    ("month", TUESDAY, "2026-12-01", "2027-01-01"), ("上月", TUESDAY, "2026-11-01", "2026-12-01"),
    ("上个月", TUESDAY, "2026-11-01", "2026-12-01"),
    ("last month", TUESDAY, "2026-11-01", "2026-12-01"),
    ("本周", TUESDAY, "2026-11-30", "2026-12-07"), ("上周", TUESDAY, "2026-11-23", "2026-11-30"),
    ("week", TUESDAY, "2026-11-25", "2026-12-02"),  # the last 7 days, today included
    ("2026年11月", TUESDAY, "2026-11-01", "2026-12-01"),
    ("11月", TUESDAY, "2026-11-01", "2026-12-01"),
    ("十一月", TUESDAY, "2026-11-01", "2026-12-01"),
    ("2026-11", TUESDAY, "2026-11-01", "2026-12-01"),
    ("2025-12", TUESDAY, "2025-12-01", "2026-01-01"),
    ("上月", datetime(2027, 1, 3, 9, 0, tzinfo=TZ), "2026-12-01", "2027-01-01"),
    ("12月", datetime(2027, 1, 3, 9, 0, tzinfo=TZ), "2026-12-01", "2027-01-01"),  # the last one
]


@pytest.mark.parametrize(("phrase", "now", "start", "end"), PERIODS)
def test_periods(phrase: str, now: datetime, start: str, end: str) -> None:
    first, after = parse_period(phrase, now, TZ)
    assert first.tzinfo == UTC
    assert first.astimezone(TZ).strftime("%Y-%m-%d %H:%M") == f"{start} 00:00"
    assert after.astimezone(TZ).strftime("%Y-%m-%d %H:%M") == f"{end} 00:00"


DAYS = [
    ("12月5日", "2026-12-05 18:00"), ("12-05", "2026-12-05 18:00"),
    ("2026-12-05", "2026-12-05 18:00"), ("明天", "2026-12-02 18:00"),
    ("下周五", "2026-12-11 18:00"), ("周五", "2026-12-04 18:00"),
    ("12-05 12:00", "2026-12-05 12:00"), ("1月10日", "2027-01-10 18:00"),
]


@pytest.mark.parametrize(("phrase", "expected"), DAYS)
def test_due_days_end_at_six(phrase: str, expected: str) -> None:
    assert shown(parse_day_end(phrase, TUESDAY, TZ)) == expected


REFUSED = [  # (phrase, reader, key, the part named)
    ("2月30日 10:00", parse_moment, "time.no_such_date", "2月30日"),
    ("13月1日", parse_moment, "time.no_such_date", "13月1日"),
    ("明天25点", parse_moment, "time.bad_clock", "25点"),
    ("25:00", parse_moment, "time.bad_clock", "25:00"),
    ("明天8:61", parse_moment, "time.bad_clock", "8:61"),
    ("上午15点", parse_moment, "time.bad_clock", "15点"),
    ("今天上午9点", parse_moment, "time.past", "今天上午9点"),
    ("2026-11-20 10:00", parse_moment, "time.past", "2026-11-20 10:00"),
    ("本周一", parse_moment, "time.past", "本周一"),
    ("明天吧", parse_moment, "time.leftover", "吧"),
    ("下个月吧", parse_moment, "time.not_understood", "下个月吧"),
    ("13-40 10:00", parse_moment, "time.no_such_date", "13-40"),
    ("", parse_moment, "time.not_understood", ""),
    ("P", parse_moment, "time.not_understood", "P"),
    ("soon", parse_moment, "time.not_understood", "soon"),
    ("今天", parse_day_end, "time.past", "今天"),
    ("每月32号", parse_rule, "time.no_such_date", "32号"),
    ("每天25点", parse_rule, "time.bad_clock", "25点"),
    ("每年", parse_rule, "time.not_understood", "每年"),
    ("0天", parse_duration, "time.not_understood", "0天"),
    ("常常", parse_duration, "time.not_understood", "常常"),
    ("去年", parse_period, "time.not_understood", "去年"),
    ("2026-13", parse_period, "time.not_understood", "2026-13"),
    ("2026-1", parse_period, "time.not_understood", "2026-1"),
    ("1999-01", parse_period, "time.not_understood", "1999-01"),
    ("yesterday", parse_period, "time.not_understood", "yesterday"),
]


@pytest.mark.parametrize(("phrase", "reader", "key", "part"), REFUSED)
def test_refusals_name_the_part(phrase: str, reader, key: str, part: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BadInput) as refused:
        reader(phrase, TUESDAY, TZ)
    assert refused.value.key == key and refused.value.params["part"] == part
    for lang in ("zh", "en"):  # the message renders in both languages
        assert part in t(lang, key, **refused.value.params)


@pytest.mark.parametrize("now", [TUESDAY, SATURDAY, LATE_DECEMBER, MORNING,
                                 datetime(2026, 12, 31, 23, 59, tzinfo=TZ)])
@pytest.mark.parametrize(("reader", "broken"), [
    (parse_moment, "明天吧"), (parse_day_end, "2月30日"), (parse_rule, "每年"),
    (parse_duration, "常常"), (parse_period, "去年")])
def test_the_examples_offered_work_now(now: datetime, reader, broken: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BadInput) as refused:
        reader(broken, now, TZ)
    for name in ("first", "second"):
        for lang in ("zh", "en"):
            example = refused.value.params[name][lang]
            reader(example, now, TZ)  # never an example that is refused, or already past


def test_past_says_when_that_was() -> None:
    with pytest.raises(BadInput) as refused:
        parse_moment("今天上午9点", TUESDAY, TZ)
    text = t("zh", "time.past", **refused.value.params)
    assert "12月1日（周二）09:00" in text and "已经过去" in text and "明天上午9点" in text
    assert "Tue 1 Dec 09:00" in t("en", "time.past", **refused.value.params)
    assert parse_moment("2026-11-20 10:00", TUESDAY, TZ, past_ok=True) < TUESDAY


def test_a_bare_time_lands_on_a_given_day() -> None:
    start = parse_moment("12-05 14:00", TUESDAY, TZ)
    assert shown(parse_moment("16:00", TUESDAY, TZ, day_of=start)) == "2026-12-05 16:00"
    assert shown(parse_moment("下午4点半", TUESDAY, TZ, day_of=start)) == "2026-12-05 16:30"
    assert shown(parse_moment("12-06 10:00", TUESDAY, TZ, day_of=start)) == "2026-12-06 10:00"


LEADING = [
    ("明天上午9点 停水通知", None, "2026-12-02 09:00", "停水通知"),
    ("明天上午9点停水", None, "2026-12-02 09:00", "停水"),
    ("每周三18:30 例会提醒", Rule("weekly", time(18, 30), weekdays=(2,)), "2026-12-02 18:30",
     "例会提醒"),
    ("每月1号9点 交物业费", Rule("monthly", time(9, 0), month_day=1), "2027-01-01 09:00",
     "交物业费"),
    ("daily 09:00 hello", Rule("daily", time(9, 0)), "2026-12-02 09:00", "hello"),
    ("weekly mon,thu 09:00 x", Rule("weekly", time(9, 0), weekdays=(0, 3)), "2026-12-03 09:00",
     "x"),
    ("19:00 text", None, "2026-12-01 19:00", "text"),
    ("2026-12-05 14:00 通知", None, "2026-12-05 14:00", "通知"),
    ("2小时后 通知", None, "2026-12-01 20:30", "通知"),
]


@pytest.mark.parametrize(("text", "rule", "first", "rest"), LEADING)
def test_a_time_at_the_start_of_a_message(text: str, rule: Rule | None, first: str,
                                          rest: str) -> None:
    read = leading_schedule(text, TUESDAY, TZ)
    assert read is not None
    schedule, after = read
    assert schedule.rule == rule and schedule.first is not None
    assert shown(schedule.first) == first and after == rest


def test_what_is_not_a_time_at_the_start() -> None:
    for text in ("3号楼停水", "大家好", "2hello", "周末愉快"[1:]):
        assert leading_schedule(text, TUESDAY, TZ) is None, text
    assert leading_schedule("现在 大家好", TUESDAY, TZ) == (Schedule(None, None), "大家好")
    assert leading_schedule("now hi", TUESDAY, TZ) == (Schedule(None, None), "hi")
    assert leading_schedule("明天 停水", TUESDAY, TZ, day_alone=False) is None  # no hour given
    assert leading_schedule("明天下午 停水", TUESDAY, TZ, day_alone=False) is not None
    with pytest.raises(BadInput) as refused:
        leading_schedule("今天上午9点 通知", TUESDAY, TZ)
    assert refused.value.key == "time.past"


def test_describe_shows_the_weekday_and_a_year_not_this_one() -> None:
    moment = datetime(2026, 12, 2, 14, 0, tzinfo=TZ)
    assert describe(moment, TUESDAY, TZ, "zh") == "12月2日（周三）14:00"
    assert describe(moment, TUESDAY, TZ, "en") == "Wed 2 Dec 14:00"
    next_year = datetime(2027, 1, 5, 9, 0, tzinfo=TZ)
    assert describe(next_year, TUESDAY, TZ, "zh") == "2027年1月5日（周二）09:00"
    assert describe(next_year, TUESDAY, TZ, "en") == "Tue 5 Jan 2027 09:00"


def test_chinese_numerals() -> None:
    numerals = ("一", "两", "十", "十二", "十五", "二十", "二十三", "零五", "12")
    assert [number(n) for n in numerals] == [1, 2, 10, 12, 15, 20, 23, 5, 12]
    with pytest.raises(BadInput):
        parse_moment("明天十十点", TUESDAY, TZ)


def test_wall_clock_kept_across_daylight_saving() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    now = datetime(2026, 3, 28, 12, 0, tzinfo=berlin)  # summer time starts on the 29th
    moment = parse_moment("明天上午9点", now, berlin)
    assert moment.astimezone(berlin).hour == 9 and moment.hour == 7


def test_what_the_old_parsers_read_still_reads() -> None:
    """bot/recurrence.parse_local and parse_weekdays are gone; their cases, through here."""
    now = datetime(2026, 11, 25, 10, 0, tzinfo=TZ)
    assert shown(parse_moment("2026-12-05 14:00", now, TZ)) == "2026-12-05 14:00"
    assert shown(parse_moment("12-05 14：00", now, TZ)) == "2026-12-05 14:00"
    assert shown(parse_moment("01-05 09:00", now, TZ)) == "2027-01-05 09:00"
    assert shown(parse_moment("16:00", now, TZ)) == "2026-11-25 16:00"  # now: the next 16:00
    assert shown(parse_moment("明天下午", now, TZ)) == "2026-11-26 15:00"  # now read
    with pytest.raises(BadInput):
        parse_moment("2026-13-01 10:00", now, TZ)
    weekly = {"mon,thu": (0, 3), "一，四": (0, 3), "7,1": (0, 6)}
    for days, expected in weekly.items():
        assert parse_rule(f"weekly {days} 09:00", now, TZ).weekdays == expected
    with pytest.raises(BadInput):
        parse_rule("weekly mon,funday 09:00", now, TZ)


pytestmark = pytest.mark.no_storage
