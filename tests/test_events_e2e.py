"""Community events end to end: the guided /event, announcements to three building chats,
RSVPs with capacity and a waiting list, promotion, reminders, .ics, recurrence, cancel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from sandbox.fakegram import FakeTelegram
from tests.harness import BotHarness

CHIEF, STRANGER = 1003, 4001
R1, R2, R3, R4 = 3001, 3002, 3003, 3004
CHATS = [-100_701, -100_702, -100_703]
SHANGHAI = ZoneInfo("Asia/Shanghai")
ORG = f"""
[[nodes]]
key = "harmony"
name = "和谐社区"
level = "community"

[[nodes]]
key = "sunshine"
name = "阳光小区"
level = "compound"
parent = "harmony"

[[leaders]]
node = "sunshine"
user_id = {CHIEF}
name = "赵片长"
""" + "".join(f"""
[[nodes]]
key = "b{i}"
name = "{i}号楼"
level = "building"
parent = "sunshine"
chat_id = {chat}
""" for i, chat in enumerate(CHATS, start=1)) + "".join(f"""
[[residents]]
user_id = {uid}
node = "b{i % 3 + 1}"
""" for i, uid in enumerate((R1, R2, R3, R4)))


@pytest.fixture
async def linli(tg: FakeTelegram, tmp_path: Path) -> AsyncIterator[BotHarness]:
    # reminders 10 and 5 minutes before, instead of a day and an hour
    harness = BotHarness(tg, tmp_path, reminders={"event": ["PT10M", "PT5M"]})
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()


async def _world(tg: FakeTelegram, linli: BotHarness, never_started: tuple[int, ...] = ()) -> None:
    people = {CHIEF: "赵片长", R1: "张阿姨", R2: "李大爷", R3: "王姐", R4: "刘哥", STRANGER: "路人"}
    for uid, name in people.items():
        tg.add_user(uid, name)
    for i, chat in enumerate(CHATS, start=1):
        tg.add_group(chat, f"{i}号楼业主群", members=list(people))
    await linli.import_org(ORG)
    for uid in set(people) - set(never_started):
        tg.user_sends(uid, uid, "/start")
        await tg.wait_for(lambda m, uid=uid: m["chat"]["id"] == uid)


def _last(tg: FakeTelegram, chat: int, needle: str) -> dict[str, Any]:
    found = [m for m in tg.sent(chat) if needle in (m.get("text") or m.get("caption") or "")]
    assert found, tg.describe_sent()
    return found[-1]


def _button(message: dict[str, Any], label: str) -> str:
    for row in message["reply_markup"]["inline_keyboard"]:
        for button in row:
            if button["text"] == label:
                return button["callback_data"]
    raise AssertionError(f"no button {label}: {message['reply_markup']}")


async def _answer(tg: FakeTelegram, query_id: str) -> dict[str, Any]:
    for _ in range(250):
        answer = tg.answers_to(query_id)
        if answer is not None:
            return answer
        await asyncio.sleep(0.02)
    raise AssertionError("the button press was never answered")


_SEEN: dict[str, int] = {"chief": 0}


async def _publish(tg: FakeTelegram, capacity: str = "2", repeat: str = "每周一次") -> None:
    _SEEN["chief"] = tg.sent(CHIEF)[-1]["message_id"]
    await _step(tg, "/event", "第 1 步")
    await _step(tg, "重阳节包饺子", "第 2 步")
    await _step(tg, "一起包饺子，送给独居老人", "第 3 步")
    await _step(tg, "明天吧", "看不懂时间「明天吧」里的「吧」")  # refused, the step stays
    await _step(tg, "2026-11-25 12:00", "第 4 步")
    await _step(tg, "11:00", "结束时间要晚于")
    await _step(tg, "13:30", "第 5 步")
    scope = await _step(tg, "3号楼一楼活动室", "第 6 步")
    tg.press_button(CHIEF, CHIEF, scope["message_id"], _button(scope, "阳光小区"))
    await _wait_new(tg, "第 7 步")
    recurrence = await _step(tg, capacity, "第 8 步")
    tg.press_button(CHIEF, CHIEF, recurrence["message_id"], _button(recurrence, repeat))
    confirm = await _wait_new(tg, "请确认活动信息")
    assert "2026-11-25 12:00 – 2026-11-25 13:30" in confirm["text"]
    tg.press_button(CHIEF, CHIEF, confirm["message_id"], _button(confirm, "确认发布"))


async def _step(tg: FakeTelegram, text: str, expect: str) -> dict[str, Any]:
    tg.user_sends(CHIEF, CHIEF, text)
    return await _wait_new(tg, expect)


async def _wait_new(tg: FakeTelegram, expect: str) -> dict[str, Any]:
    message = await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF
                                and m["message_id"] > _SEEN["chief"]
                                and expect in (m["text"] or ""))
    _SEEN["chief"] = message["message_id"]
    return message


async def _settle(linli: BotHarness) -> None:
    """Everything queued has gone out, including edits held back to space them."""
    async with asyncio.timeout(15):
        while True:
            counts = await linli.linli.outbox.counts()
            if not counts.get("pending") and not counts.get("sending"):
                return
            await asyncio.sleep(0.05)


async def test_event_rsvp_capacity_waiting_list_reminders_ics_and_recurrence(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    await _publish(tg)
    await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF
                      and "已发到 阳光小区 的 3 个群" in m["text"])
    posts = {chat: await tg.wait_for(lambda m, c=chat: m["chat"]["id"] == c
                                     and "社区活动 #1" in m["text"]) for chat in CHATS}
    post = posts[CHATS[0]]
    assert "重阳节包饺子" in post["text"] and "3号楼一楼活动室" in post["text"]
    assert "2026-11-25（周三）12:00–13:30（每周）" in post["text"]
    assert "参加 0/2 · 可能参加 0 · 不参加 0" in post["text"]

    async def press(uid: int, chat: int, label: str) -> dict[str, Any]:
        p = posts[chat]
        return await _answer(tg, tg.press_button(uid, chat, p["message_id"], _button(p, label)))

    assert "报名成功" in (await press(R1, CHATS[0], "参加"))["text"]
    assert "报名成功" in (await press(R2, CHATS[1], "参加"))["text"]
    full = await press(R3, CHATS[2], "参加")
    assert "候补名单（第 1 位）" in full["text"]
    assert "可能参加" in (await press(R4, CHATS[0], "可能参加"))["text"]
    assert "已经报名" in (await press(R2, CHATS[1], "参加"))["text"]  # a second press: no change
    await _settle(linli)
    for chat in CHATS:  # the counts are edited in place on every post
        shown = tg.message(chat, posts[chat]["message_id"])
        assert shown is not None
        assert "参加 2/2 · 可能参加 1 · 不参加 0 · 候补 1" in shown["text"], shown["text"]
    assert not [c for c in tg.calls if c.error and "not modified" in c.error]
    # four changes in quick succession: edits held back and merged, not one per press
    edits = [c for c in tg.calls if c.method == "editMessageText"
             and c.params["chat_id"] == CHATS[0]]
    assert 1 <= len(edits) < 4, len(edits)

    # a seat frees up: the first on the waiting list is promoted and told
    assert "不参加" in (await press(R1, CHATS[0], "不参加"))["text"]
    await tg.wait_for(lambda m: m["chat"]["id"] == R3 and "有空位了" in m["text"])
    await _settle(linli)
    shown = tg.message(CHATS[1], posts[CHATS[1]]["message_id"])
    assert shown is not None and "参加 2/2 · 可能参加 1 · 不参加 1" in shown["text"]
    assert "候补" not in shown["text"]
    # someone who does not live there cannot answer
    refused = await _answer(tg, tg.press_button(STRANGER, CHATS[0], post["message_id"],
                                                "ev:r:1:g"))
    assert "登记的居民" in refused["text"]
    forged = await _answer(tg, tg.press_button(R1, CHATS[0], post["message_id"], "ev:r:99:g"))
    assert "失效" in forged["text"]

    # the calendar file: a real iCalendar with the local time and its zone
    tg.press_button(R2, CHATS[1], posts[CHATS[1]]["message_id"], "ev:ics:1")
    sent = await tg.wait_for(lambda m: m["chat"]["id"] == R2 and "document" in m)
    assert sent["document"]["file_name"] == "event-1.ics"
    calendar = Calendar.from_ical(tg.files[sent["document"]["file_id"]].data)
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Asia/Shanghai"]
    item = calendar.walk("VEVENT")[0]
    assert str(item["SUMMARY"]) == "重阳节包饺子" and str(item["UID"]) == "event-1@linli.bot"
    assert str(item["LOCATION"]) == "3号楼一楼活动室" and "RRULE" in item
    assert item["DTSTART"].params["TZID"] == "Asia/Shanghai"
    starts = item.decoded("DTSTART")
    assert starts.replace(tzinfo=None) == datetime(2026, 11, 25, 12, 0)
    assert starts.utcoffset() == timedelta(hours=8)

    # reminders (10 and 5 minutes before, as configured) reach only those going
    linli.clock.advance(timedelta(hours=1, minutes=50, seconds=1))  # 11:50
    await linli.linli.scheduler.sweep()
    linli.clock.advance(timedelta(minutes=5))  # 11:55
    await linli.linli.scheduler.sweep()
    await _settle(linli)
    for uid, count in ((R2, 2), (R3, 2), (R1, 0), (R4, 0), (CHIEF, 0)):
        reminders = [m for m in tg.sent(uid) if "活动提醒" in (m.get("text") or "")]
        assert len(reminders) == count, (uid, reminders)

    # the weekly event produces its next occurrence, announced again
    linli.clock.advance(timedelta(minutes=6))  # 12:01: it has started
    await linli.linli.scheduler.sweep()
    for chat in CHATS:
        await tg.wait_for(lambda m, c=chat: m["chat"]["id"] == c and "社区活动 #2" in m["text"])
    following = await linli.linli.events.repo.get(2)
    assert following is not None and following.previous_id == 1
    assert following.starts_at.astimezone(SHANGHAI) == datetime(2026, 12, 2, 12, 0,
                                                                tzinfo=SHANGHAI)
    assert following.ends_at - following.starts_at == timedelta(minutes=90)
    closed = await _answer(tg, tg.press_button(R4, CHATS[0], post["message_id"],
                                               _button(post, "参加")))
    assert "不能再报名" in closed["text"]

    # /events lists what is coming
    tg.user_sends(R1, R1, "/events")
    listing = await tg.wait_for(lambda m: m["chat"]["id"] == R1 and "近期社区活动" in m["text"])
    assert "#1 " in listing["text"] and "#2 " in listing["text"]  # #1 is on until 13:30


async def test_leader_changes_and_cancels_an_event(tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli, never_started=(R4,))  # R4 answers in the group only
    await _publish(tg, capacity="不限", repeat="只办一次")
    card = await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF and "已发到" in m["text"])
    post = await tg.wait_for(lambda m: m["chat"]["id"] == CHATS[0] and "社区活动 #1" in m["text"])
    assert "参加 0 · 可能参加 0" in post["text"]
    await _answer(tg, tg.press_button(R1, CHATS[0], post["message_id"], "ev:r:1:g"))
    await _answer(tg, tg.press_button(R4, CHATS[0], post["message_id"], "ev:r:1:g"))
    await _answer(tg, tg.press_button(R2, CHATS[1], post["message_id"], "ev:r:1:g"))
    # the reminder: in private to those who opened a chat with the bot, in the group else
    linli.clock.advance(timedelta(hours=1, minutes=50, seconds=1))
    await linli.linli.scheduler.sweep()
    await tg.wait_for(lambda m: m["chat"]["id"] == R1 and "活动提醒" in m["text"])
    await tg.wait_for(lambda m: m["chat"]["id"] == R2 and "活动提醒" in m["text"])
    reminder = await tg.wait_for(lambda m: m["chat"]["id"] == CHATS[0]
                                 and "活动提醒" in m["text"])
    assert "刘哥" in reminder["text"] and "张阿姨" not in reminder["text"]
    assert f"tg://user?id={R4}" in reminder.get("html", "")
    assert not [m for m in tg.sent(R4)]

    tg.press_button(CHIEF, CHIEF, card["message_id"], _button(card, "改地点"))
    await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF and "新的地点" in m["text"])
    tg.user_sends(CHIEF, CHIEF, "社区服务中心二楼")
    await tg.wait_for(lambda m: m["chat"]["id"] == R1 and "有变动" in m["text"]
                      and "社区服务中心二楼" in m["text"])
    await _settle(linli)
    shown = tg.message(CHATS[2], post["message_id"])
    assert shown is not None and "社区服务中心二楼" in shown["text"]

    # the leader finds it again in /events, with the counts and a way to manage it
    tg.user_sends(CHIEF, CHIEF, "/events")
    listing = await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF and "近期社区活动" in m["text"])
    assert "参加 3 · 可能参加 0 · 不参加 0" in listing["text"]
    tg.press_button(CHIEF, CHIEF, listing["message_id"], _button(listing, "管理 #1"))
    again = await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF and "活动 #1：" in m["text"])
    assert _button(again, "改时间") == "ev:e:1:time"
    tg.user_sends(R1, R1, "/events")
    mine = await tg.wait_for(lambda m: m["chat"]["id"] == R1 and "近期社区活动" in m["text"])
    assert "管理" not in str(mine["reply_markup"])  # residents get the calendar file only
    refused = await _answer(tg, tg.press_button(R1, R1, mine["message_id"], "ev:m:1"))
    assert "不在您的负责范围" in refused["text"]

    # a new time: those going are told, the reminders follow it
    tg.press_button(CHIEF, CHIEF, card["message_id"], _button(card, "改时间"))
    await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF and "新的开始时间" in m["text"])
    tg.user_sends(CHIEF, CHIEF, "12-01 15:00")
    await tg.wait_for(lambda m: m["chat"]["id"] == R1 and "有变动" in m["text"]
                      and "2026-12-01（周二）15:00–16:30" in m["text"])
    armed = await linli.linli.scheduler.deadlines.armed_for("event", 1)
    shanghai = [d.due_at.astimezone(SHANGHAI).strftime("%m-%d %H:%M") for d in armed]
    assert shanghai == ["12-01 14:50", "12-01 14:55"]
    # a calendar file taken now replaces the one imported before: same UID, a higher SEQUENCE
    tg.press_button(R1, R1, mine["message_id"], "ev:ics:1")
    sent = await tg.wait_for(lambda m: m["chat"]["id"] == R1 and "document" in m)
    item = Calendar.from_ical(tg.files[sent["document"]["file_id"]].data).walk("VEVENT")[0]
    assert str(item["UID"]) == "event-1@linli.bot" and item.decoded("SEQUENCE") == 2
    assert item.decoded("DTSTART").replace(tzinfo=None) == datetime(2026, 12, 1, 15, 0)
    assert str(item["LOCATION"]) == "社区服务中心二楼"

    # a resident cannot cancel it, even with forged data
    refused = await _answer(tg, tg.press_button(R1, R1, tg.sent(R1)[-1]["message_id"],
                                                "ev:c:1"))
    assert "不在您的负责范围" in refused["text"]
    tg.press_button(CHIEF, CHIEF, card["message_id"], "ev:c:1")
    await tg.wait_for(lambda m: m["chat"]["id"] == R1 and "已取消" in m.get("text", ""))
    # R4 cannot be written to in private: mentioned in the building's chat instead
    mention = await tg.wait_for(lambda m: m["chat"]["id"] == CHATS[0] and "已取消" in m["text"]
                                and "刘哥" in m["text"])
    assert f"tg://user?id={R4}" in mention.get("html", "")
    await _settle(linli)
    shown = tg.message(CHATS[0], post["message_id"])
    assert shown is not None and "活动已取消" in shown["text"]
    assert not shown.get("reply_markup")
    assert await linli.linli.scheduler.deadlines.armed_for("event", 1) == []
    # a scope by key, one level further down than the buttons go
    _SEEN["chief"] = tg.sent(CHIEF)[-1]["message_id"]
    await _step(tg, "/event", "第 1 步")
    await _step(tg, "楼道清洁日", "第 2 步")
    await _step(tg, "无", "第 3 步")
    await _step(tg, "2026-11-28 09:00", "第 4 步")
    await _step(tg, "10:00", "第 5 步")
    await _step(tg, "楼下", "第 6 步")
    await _step(tg, "moon", "没有找到")
    await _step(tg, "harmony", "不在您的负责范围")
    await _step(tg, "b2", "第 7 步")
    recurrence = await _step(tg, "不限", "第 8 步")
    tg.press_button(CHIEF, CHIEF, recurrence["message_id"], "ev:rc:none")
    confirm = await _wait_new(tg, "请确认活动信息")
    tg.press_button(CHIEF, CHIEF, confirm["message_id"], "ev:ok")
    await tg.wait_for(lambda m: m["chat"]["id"] == CHATS[1] and "楼道清洁日" in m["text"])
    await _settle(linli)
    assert not [m for m in tg.sent(CHATS[0]) if "楼道清洁日" in m["text"]]

    tg.user_sends(STRANGER, STRANGER, "/event")
    await tg.wait_for(lambda m: m["chat"]["id"] == STRANGER and "负责人权限" in m["text"])
