"""Working-day deadlines end to end: a 2WD deadline set before 国庆 falls due on the
right working day, the card says the holiday deferred it, and the community secretary
is told once when next year's calendar is missing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.clock import ShiftedClock
from sandbox.fakegram import FakeTelegram
from tests.harness import BotHarness
from tests.orgs import harmony, harmony_leaders, resident

GRID, BUILDING, COMPOUND, COMMUNITY, RESIDENT = 1001, 1002, 1003, 1004, 3001
ORG = harmony() + harmony_leaders(GRID, BUILDING, COMPOUND, COMMUNITY) + resident(
    RESIDENT, "b3-u1", "1-502")
# Tuesday 29 September 2026, 10:00 in Shanghai: two working days before 国庆 (1–7 October)
BEFORE_NATIONAL_DAY = datetime(2026, 9, 29, 2, 0, tzinfo=UTC)
NAMES = {GRID: "王", BUILDING: "李", COMPOUND: "赵", COMMUNITY: "孙", RESIDENT: "张阿姨"}


async def _started(tg: FakeTelegram, harness: BotHarness) -> BotHarness:
    await harness.start()
    for uid, name in NAMES.items():
        tg.add_user(uid, name)
    await harness.import_org(ORG)
    for uid in NAMES:
        tg.user_sends(uid, uid, "/start")
    for uid in NAMES:
        await tg.wait_for(lambda m, uid=uid: m["chat"]["id"] == uid)
    return harness


@pytest.fixture
async def workdays(tg: FakeTelegram, tmp_path: Path) -> AsyncIterator[BotHarness]:
    harness = BotHarness(tg, tmp_path, ShiftedClock(BEFORE_NATIONAL_DAY),
                         deadlines={"acknowledge": {"grid": "2WD"},
                                    "resolve": {"grid": "2WD"}})
    try:
        yield await _started(tg, harness)
    finally:
        await harness.stop()


async def _rung(harness: BotHarness, number: int) -> str:
    report = await harness.linli.report_repo.get(number)
    node = await harness.linli.org_repo.node(report.rung_node_id)
    return node.key


async def test_2wd_before_national_day_falls_due_after_the_holiday(
        tg: FakeTelegram, workdays: BotHarness) -> None:
    tg.user_sends(RESIDENT, RESIDENT, "/report 楼道灯坏了，晚上看不见")
    prompt = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #1" in m["text"])
    # Tue 6h + Wed 7.5h, 1–7 October off, then 1.5h on Thursday the 8th: 10:00
    assert "受理截止：10月8日 10:00（遇国庆假期顺延至 10月8日）" in prompt["text"], prompt["text"]
    assert "办结截止：10月8日 10:00（遇国庆假期顺延至 10月8日）" in prompt["text"]
    armed = await workdays.linli.scheduler.deadlines.armed_for("report", 1)
    assert {(d.kind, d.deferred_by) for d in armed} == {("acknowledge", "国庆节"),
                                                        ("resolve", "国庆节")}

    # Monday to Friday alone would have ended on 1 October: nothing happens then
    workdays.clock.advance(datetime(2026, 10, 1, 2, 1, tzinfo=UTC) - workdays.clock.now())
    await workdays.linli.scheduler.sweep()
    assert await _rung(workdays, 1) == "b3-u1"
    # nor during the holiday, nor a minute before 10:00 on the 8th
    workdays.clock.advance(datetime(2026, 10, 8, 1, 59, tzinfo=UTC) - workdays.clock.now())
    await workdays.linli.scheduler.sweep()
    assert await _rung(workdays, 1) == "b3-u1"
    # (filed a few seconds after 10:00 of the clock that runs on: due as many after 10:00)
    workdays.clock.advance(timedelta(minutes=2))
    await workdays.linli.scheduler.sweep()
    assert await _rung(workdays, 1) == "b3"
    moved = await tg.wait_for(lambda m: m["chat"]["id"] == BUILDING and "诉求 #1" in m["text"])
    # the building's deadlines are calendar time: nothing deferred on its card
    assert "受理截止" in moved["text"] and "顺延" not in moved["text"]


async def test_english_card_says_the_holiday_moved_it(
        tg: FakeTelegram, workdays: BotHarness) -> None:
    tg.user_sends(GRID, GRID, "/lang en")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "English" in m["text"])
    tg.user_sends(RESIDENT, RESIDENT, "/report 楼道灯坏了")
    prompt = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "#1" in m["text"]
                               and bool(m.get("reply_markup")))
    assert "moved to 8 Oct by the National Day holiday" in prompt["text"], prompt["text"]


@pytest.fixture
async def december(tg: FakeTelegram, tmp_path: Path) -> AsyncIterator[BotHarness]:
    # 30 November 2026, 10:00 in Shanghai; nobody publishes 2027 in this release
    harness = BotHarness(tg, tmp_path, ShiftedClock(datetime(2026, 11, 30, 2, 0, tzinfo=UTC)))
    try:
        yield await _started(tg, harness)
    finally:
        await harness.stop()


def _told(tg: FakeTelegram, user_id: int) -> list[str]:
    return [m["text"] for m in tg.sent(user_id) if "2027年的法定节假日" in (m.get("text") or "")]


async def test_secretary_told_once_from_1_december(tg: FakeTelegram, december: BotHarness) -> None:
    linli = december.linli
    await linli.scheduler.sweep()
    await december.settle()
    assert _told(tg, COMMUNITY) == []  # 30 November: not yet
    december.clock.advance(timedelta(days=1))  # 1 December, 10:00: the 09:00 check is due
    assert await linli.scheduler.sweep() >= 1
    told = await tg.wait_for(lambda m: m["chat"]["id"] == COMMUNITY
                             and "2027年的法定节假日" in (m.get("text") or ""))
    assert told["text"].startswith("孙书记您好")
    for _ in range(3):  # the following days, and a restart: never again
        december.clock.advance(timedelta(days=1))
        await linli.scheduler.sweep()
    await december.restart()
    await december.linli.scheduler.sweep()
    await december.settle()
    assert len(_told(tg, COMMUNITY)) == 1
    assert _told(tg, GRID) == [] and _told(tg, RESIDENT) == []
