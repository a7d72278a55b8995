"""Cards that say why, and who (issue 14, item 4): a report that reaches a new handler by
escalation or reopening shows who sent it and why, with its new deadline; /status names
where each step moved it; /queue never marks 超期 beside a deadline still ahead; leaders
prompted earlier hear in one line that the report (or a follow-up) is closed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sandbox.fakegram import FakeTelegram
from tests import test_consultation_e2e as consult
from tests.harness import BotHarness
from tests.test_reports_e2e import (
    BUILDING,
    COMMUNITY,
    COMPOUND,
    GRID,
    RESIDENT,
    _button,
    _prompt,
    _settle,
    _world,
)


async def _press_with_note(tg: FakeTelegram, leader: int, number: int, label: str,
                           asks: str, note: str) -> None:
    prompt = _prompt(tg, leader, number)
    prompt = tg.message(leader, prompt["message_id"])  # as it stands now (edits included)
    tg.press_button(leader, leader, prompt["message_id"], _button(prompt, label))
    await tg.wait_for(lambda m: m["chat"]["id"] == leader and asks in m["text"])
    tg.user_sends(leader, leader, note)


async def test_an_escalated_report_says_who_sent_it_and_why(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    tg.user_sends(RESIDENT, RESIDENT, "/report 楼道里堆满了纸箱和旧家具")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #1" in m["text"])
    await _press_with_note(tg, GRID, 1, "上报", "上报诉求 #1 的原因", "需要楼栋长出面协调")
    card = await tg.wait_for(lambda m: m["chat"]["id"] == BUILDING and "诉求 #1" in m["text"]
                             and m.get("reply_markup"))
    assert "由王邻长（3号楼1单元）上报：需要楼栋长出面协调" in card["text"]
    assert "受理截止" in card["text"] and "办结截止" in card["text"]
    # the building leader lets it lie: the deadline moves it up, and the card says so
    linli.clock.advance(timedelta(hours=4, seconds=1))
    assert await linli.linli.scheduler.sweep() == 1
    card = await tg.wait_for(lambda m: m["chat"]["id"] == COMPOUND and "诉求 #1" in m["text"])
    assert "超时未受理，由 3号楼 上报" in card["text"] and "受理截止" in card["text"]

    tg.user_sends(RESIDENT, RESIDENT, "/status 1")
    history = await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "处理记录" in m["text"])
    lines = history["text"].split("处理记录")[1]
    assert "提交 → 3号楼1单元" in lines
    assert "王邻长 上报 → 3号楼：需要楼栋长出面协调" in lines
    assert "系统 上报 → 阳光小区：超时未受理" in lines

    # resolved at the compound and rated: those prompted before hear it is closed
    prompt = _prompt(tg, COMPOUND, 1)
    tg.press_button(COMPOUND, COMPOUND, prompt["message_id"], _button(prompt, "受理"))
    await tg.wait_for_call("editMessageText", lambda p: p["chat_id"] == COMPOUND
                           and "处理中" in p["text"])
    await _press_with_note(tg, COMPOUND, 1, "办结", "办结说明", "纸箱已清走")
    rate = await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "纸箱已清走" in m["text"])
    tg.press_button(RESIDENT, RESIDENT, rate["message_id"], _button(rate, "满意"))
    for leader in (GRID, BUILDING, COMPOUND):
        closed = await tg.wait_for(lambda m, leader=leader: m["chat"]["id"] == leader
                                   and "诉求 #1 已结束" in m["text"])
        assert "满意" in closed["text"]
    await _settle(linli)
    assert sum("诉求 #1 已结束" in (m.get("text") or "") for m in tg.sent(GRID)) == 1


async def test_a_reopened_report_shows_the_residents_words(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    tg.user_sends(RESIDENT, RESIDENT, "/report 3号楼1单元楼道里有很大的异味")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #1" in m["text"])
    await _press_with_note(tg, GRID, 1, "办结", "办结说明", "已请保洁清扫")
    rate = await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "已请保洁清扫" in m["text"])
    tg.press_button(RESIDENT, RESIDENT, rate["message_id"], _button(rate, "不满意"))
    await tg.wait_for_call("editMessageText", lambda p: p["chat_id"] == RESIDENT
                           and "哪里不满意" in p["text"])
    again = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #1" in m["text"]
                              and "重新处理中" in m["text"] and m.get("reply_markup"))
    assert "居民不满意，要求重新处理" in again["text"] and "办结截止" in again["text"]
    tg.user_sends(RESIDENT, RESIDENT, "二楼还是很臭")
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "已把您的意见转告" in m["text"])
    told = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "原因：二楼还是很臭"
                             in m["text"])
    assert "诉求 #1" in told["text"]
    await tg.wait_for_call("editMessageText", lambda p: p["chat_id"] == GRID
                           and "居民不满意：二楼还是很臭" in p["text"])
    tg.user_sends(GRID, GRID, "/status 1")
    history = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "处理记录" in m["text"])
    assert "说明不满意的原因：二楼还是很臭" in history["text"]


async def test_queue_marks_overdue_only_beside_a_passed_deadline(
        tg: FakeTelegram, tmp_path: Path) -> None:
    harness = BotHarness(tg, tmp_path, quiet_hours={"start": "00:00", "end": "00:00"})
    await harness.start()
    try:
        await _world(tg, harness)
        tg.user_sends(RESIDENT, RESIDENT, "/report 小区门口有人乱扔垃圾")
        await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #1" in m["text"])
        for hours in (2, 4, 8, 24):  # up to the community, then its acknowledge deadline
            harness.clock.advance(timedelta(hours=hours, seconds=1))
            await harness.linli.scheduler.sweep()
        report = await harness.linli.report_repo.get(1)
        assert report is not None and report.overdue  # flagged at the top
        tg.user_sends(COMMUNITY, COMMUNITY, "/queue")
        listing = await tg.wait_for(lambda m: m["chat"]["id"] == COMMUNITY
                                    and "待我处理" in m["text"])
        # its resolve deadline is still ahead: no 超期 beside it
        assert "#1 " in listing["text"] and "超期" not in listing["text"]
        harness.clock.advance(timedelta(days=5))  # now the resolve deadline has passed too
        tg.user_sends(COMMUNITY, COMMUNITY, "/queue")
        await tg.wait_for(lambda m: m["chat"]["id"] == COMMUNITY and "待我处理" in m["text"]
                          and "#1 ⚠️超期" in m["text"])
    finally:
        await harness.stop()


async def test_those_prompted_for_a_follow_up_hear_it_is_done(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await consult.world(tg, linli)
    await consult.schedule_meeting(tg, linli)
    linli.clock.advance(timedelta(hours=34))
    await linli.linli.scheduler.sweep()
    tg.user_sends(consult.COMPOUND, consult.COMPOUND, "/decide 1\n1 | 换灯 | 阳光物业 | 11-27")
    await consult.said(tg, consult.PROPERTY, "决定 #1：换灯")
    linli.clock.advance(timedelta(days=1))  # missed: handed to 赵片长
    await linli.linli.scheduler.sweep()
    await consult.said(tg, consult.COMPOUND, "转由您督办")
    await consult.press_done(tg, linli, consult.COMPOUND, 1, "灯已全部换好")
    closed = await consult.said(tg, consult.PROPERTY, "决定 #1 已由")
    assert "标记完成（灯已全部换好）" in closed["text"]
    await consult.settle(linli)
    assert not any("决定 #1 已由" in t for t in consult.texts(tg, consult.COMPOUND))
