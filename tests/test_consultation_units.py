"""Pure pieces of consultation: reading typed times, fitting poll options, decision lines."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.consult.consultation import shorten
from bot.consult.followups import parse_entries
from bot.core.errors import BadInput
from bot.core.timeparse import parse_day_end, parse_moment
from tests.harness import DAYTIME  # 2026-11-25 10:00 in Shanghai

TZ = ZoneInfo("Asia/Shanghai")


def local(moment):  # type: ignore[no-untyped-def]
    return moment.astimezone(TZ).strftime("%Y-%m-%d %H:%M")


def test_times_people_type() -> None:
    assert parse_moment("30m", DAYTIME, TZ) == DAYTIME + timedelta(minutes=30)
    assert parse_moment("2h", DAYTIME, TZ) == DAYTIME + timedelta(hours=2)
    assert parse_moment("1天", DAYTIME, TZ) == DAYTIME + timedelta(days=1)
    assert parse_moment("PT1H30M", DAYTIME, TZ) == DAYTIME + timedelta(minutes=90)
    assert local(parse_moment("18:00", DAYTIME, TZ)) == "2026-11-25 18:00"
    assert local(parse_moment("09:00", DAYTIME, TZ)) == "2026-11-26 09:00"  # already past today
    assert local(parse_moment("12-01 19:30", DAYTIME, TZ)) == "2026-12-01 19:30"
    assert local(parse_moment("2026-11-20 10:00", DAYTIME, TZ, past_ok=True)) == "2026-11-20 10:00"
    assert local(parse_moment("12月1日 19点", DAYTIME, TZ)) == "2026-12-01 19:00"
    assert local(parse_day_end("12-05", DAYTIME, TZ)) == "2026-12-05 18:00"
    for bad in ("明天吧", "25:00", "13-40 10:00", "", "P"):
        with pytest.raises(BadInput):
            parse_moment(bad, DAYTIME, TZ)


def test_poll_options_fit_telegrams_limit_in_utf16_units() -> None:
    assert shorten("短") == "短"
    cut = shorten("电" * 150)
    assert len(cut) == 100 and cut.endswith("…")
    emoji = shorten("🏠" * 60)  # two UTF-16 units each
    assert len(emoji.encode("utf-16-le")) // 2 <= 100 and emoji.endswith("…")


def test_decision_lines_keep_missing_fields_empty() -> None:
    entries = parse_entries(["1 | 换灯 | 阳光物业 | 12-05", "", "2｜挪垃圾点｜李楼长"])
    assert [(e.line, e.item, e.owner, e.due) for e in entries] == [
        (1, "1", "阳光物业", "12-05"), (3, "2", "李楼长", "")]
