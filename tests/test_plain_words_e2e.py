"""Messages that never mislead (issue 14, item 8): a changed or cancelled event reaches
everyone who answered with what changed, reminders say 明天 / 1小时后, a topic poll's
result names the topics that make the agenda, and a too-long input names its limit.
(A withdrawn help offer and a broadcast to a chat that removed the bot: in
test_volunteers_e2e and test_broadcasts_e2e.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sandbox.fakegram import FakeTelegram
from tests import test_consultation_e2e as consult
from tests import test_events_e2e as ev
from tests import test_families_e2e as fam
from tests.harness import BotHarness

CHIEF, R1, R2, R3, R4, CHATS = ev.CHIEF, ev.R1, ev.R2, ev.R3, ev.R4, ev.CHATS


async def _publish_in_two_days(tg: FakeTelegram) -> dict[str, Any]:
    """重阳节包饺子 on 11-27 12:00–13:30 (now is 11-25 10:00), capacity 1, once."""
    ev._SEEN["chief"] = tg.sent(CHIEF)[-1]["message_id"]
    await ev._step(tg, "/event", "第 1 步")
    await ev._step(tg, "重阳节包饺子", "第 2 步")
    await ev._step(tg, "一起包饺子", "第 3 步")
    await ev._step(tg, "2026-11-27 12:00", "第 4 步")
    await ev._step(tg, "13:30", "第 5 步")
    scope = await ev._step(tg, "3号楼一楼活动室", "第 6 步")
    tg.press_button(CHIEF, CHIEF, scope["message_id"], ev._button(scope, "阳光小区"))
    await ev._wait_new(tg, "第 7 步")
    recurrence = await ev._step(tg, "1", "第 8 步")
    tg.press_button(CHIEF, CHIEF, recurrence["message_id"], ev._button(recurrence, "只办一次"))
    confirm = await ev._wait_new(tg, "请确认活动信息")
    tg.press_button(CHIEF, CHIEF, confirm["message_id"], ev._button(confirm, "确认发布"))
    return await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF and "已发到" in m["text"])


def _texts(tg: FakeTelegram, uid: int, needle: str) -> list[str]:
    return [m.get("text") or "" for m in tg.sent(uid) if needle in (m.get("text") or "")]


async def test_event_change_and_cancellation_reach_everyone_who_answered(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await ev._world(tg, linli)
    card = await _publish_in_two_days(tg)
    post = await tg.wait_for(lambda m: m["chat"]["id"] == CHATS[0] and "社区活动 #1" in m["text"])
    for uid, code in ((R1, "g"), (R4, "g"), (R2, "m"), (R3, "n")):  # R4: the waiting list
        await ev._answer(tg, tg.press_button(uid, CHATS[0], post["message_id"], f"ev:r:1:{code}"))
    assert await linli.linli.events.repo.people(1, "waiting") == [R4]

    # the reminders say when, in words: a day before 明天, an hour before 1小时后
    linli.clock.advance(timedelta(days=1, hours=2, seconds=1))  # 11-26 12:00
    await linli.linli.scheduler.sweep()
    day_before = await tg.wait_for(lambda m: m["chat"]["id"] == R1 and "活动提醒" in m["text"])
    assert "明天开始" in day_before["text"]
    linli.clock.advance(timedelta(hours=23))  # 11-27 11:00
    await linli.linli.scheduler.sweep()
    await tg.wait_for(lambda m: len(_texts(tg, R1, "活动提醒")) == 2)
    assert "1小时后开始" in _texts(tg, R1, "活动提醒")[-1]
    assert not _texts(tg, R2, "活动提醒") and not _texts(tg, R3, "活动提醒")

    # a new place: everyone who answered hears what changed, old → new
    tg.press_button(CHIEF, CHIEF, card["message_id"], ev._button(card, "改地点"))
    await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF and "新的地点" in m["text"])
    tg.user_sends(CHIEF, CHIEF, "社区服务中心二楼")
    for uid in (R1, R2, R3, R4):
        told = await tg.wait_for(lambda m, uid=uid: m["chat"]["id"] == uid
                                 and "有变动" in m["text"])
        assert "📍 地点：3号楼一楼活动室 → 社区服务中心二楼" in told["text"], uid
        assert "时间：" not in told["text"]
    tg.press_button(CHIEF, CHIEF, card["message_id"], ev._button(card, "改时间"))
    await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF and "新的开始时间" in m["text"])
    tg.user_sends(CHIEF, CHIEF, "12-01 15:00")
    for uid in (R1, R2, R3, R4):
        await tg.wait_for(lambda m, uid=uid: m["chat"]["id"] == uid and "时间：" in m["text"]
                          and "2026-11-27（周五）12:00–13:30 → 2026-12-01（周二）15:00–16:30"
                          in m["text"])

    # a cancellation too: those who said 不参加 and those waiting as well
    tg.press_button(CHIEF, CHIEF, card["message_id"], "ev:c:1")
    for uid in (R1, R2, R3, R4):
        await tg.wait_for(lambda m, uid=uid: m["chat"]["id"] == uid and "已取消" in m["text"])


async def test_meeting_reminders_say_tomorrow_and_in_an_hour(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await consult.world(tg, linli)
    await consult.schedule_meeting(tg, linli)  # 11-26 19:00; now 11-25 10:00
    result = next(t for t in consult.texts(tg, consult.FORUM) if "议题投票 #1 结果" in t)
    # the result names which topics make the agenda (those with votes: #1 and #4)
    assert "列入恳谈会议程的议题：#1、#4" in result
    linli.clock.advance(timedelta(hours=9, minutes=1))  # 11-25 19:01, a day before
    await linli.linli.scheduler.sweep()
    day_before = await consult.said(tg, consult.ZHANG, "提醒：您报名参加的恳谈会 #1")
    assert "明天召开" in day_before["text"]
    linli.clock.advance(timedelta(hours=23))  # 11-26 18:01, an hour before
    await linli.linli.scheduler.sweep()
    await tg.wait_for(lambda m: sum("恳谈会 #1" in t and "1小时后召开" in t
                                    for t in consult.texts(tg, consult.ZHANG)) == 1)


async def test_a_too_long_input_names_the_limit_of_its_field(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await consult.world(tg, linli)
    tg.user_sends(consult.COMPOUND, consult.FORUM,
                  "/forum 11-26 19:00 | " + "恳" * 101 + " | 活动室 | 路灯")
    # a leader's mistake typed in the group is answered in private (the group stays quiet)
    refused = await consult.said(tg, consult.COMPOUND, "会议标题太长了")
    assert "（101 字），最多 100 字" in refused["text"]
    tg.user_sends(consult.COMPOUND, consult.FORUM,
                  "/forum 11-26 19:00 | 恳谈会 | " + "室" * 120 + " | 路灯")
    assert "最多 100 字" in (await consult.said(tg, consult.COMPOUND, "会议地点太长了"))["text"]
    assert not [t for t in consult.texts(tg, consult.FORUM) if "太长" in t]
    assert await linli.linli.db.fetchval("SELECT count(*) FROM meetings") == 0


async def test_a_too_long_household_names_its_limit(tg: FakeTelegram,
                                                    linli: BotHarness) -> None:
    people = {fam.CHIEF: "赵片长", fam.R1: "张阿姨"}
    for uid, name in people.items():
        tg.add_user(uid, name)
    for i, chat in enumerate(fam.CHATS, start=1):
        tg.add_group(chat, f"{i}号楼业主群", members=list(people))
    await linli.import_org(fam.ORG)
    for uid in people:
        tg.user_sends(uid, uid, "/start")
        await tg.wait_for(lambda m, uid=uid: m["chat"]["id"] == uid)
    await fam._said(tg, fam.CHIEF, "/family 2026年度最美家庭", "开始提名")
    refused = await fam._said(tg, fam.R1, "/nominate " + "王" * 41 + " 常年照顾独居老人",
                              "家庭名称太长了")
    assert "（41 字），最多 40 字" in refused["text"]
    assert await linli.linli.families.repo.nominations(1) == []
