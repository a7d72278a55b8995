"""Broadcasts end to end: at Telegram's limits, scheduled across a restart, recurring,
listed and cancelled, refusals."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sandbox.fakegram import FakeTelegram
from tests.harness import BotHarness

CHIEF, RESIDENT, OTHER_CHIEF = 1003, 3001, 1009


def _org(buildings: int, chat_base: int = -100_500) -> str:
    out = ['[[nodes]]\nkey = "harmony"\nname = "和谐社区"\nlevel = "community"\n',
           '[[nodes]]\nkey = "sunshine"\nname = "阳光小区"\nlevel = "compound"\n'
           'parent = "harmony"\n',
           '[[nodes]]\nkey = "moon"\nname = "明月小区"\nlevel = "compound"\nparent = "harmony"\n',
           f'[[leaders]]\nnode = "sunshine"\nuser_id = {CHIEF}\nname = "赵片长"\n',
           f'[[leaders]]\nnode = "moon"\nuser_id = {OTHER_CHIEF}\nname = "钱片长"\n']
    for b in range(buildings):
        out.append(f'[[nodes]]\nkey = "b{b}"\nname = "{b}号楼"\nlevel = "building"\n'
                   f'parent = "sunshine"\nchat_id = {chat_base - b}\n')
    out.append(f'[[residents]]\nuser_id = {RESIDENT}\nnode = "b0"\n')
    return "\n".join(out)


async def _world(tg: FakeTelegram, linli: BotHarness, buildings: int,
                 left: tuple[int, ...] = ()) -> list[int]:
    for uid, name in ((CHIEF, "赵"), (RESIDENT, "张阿姨"), (OTHER_CHIEF, "钱")):
        tg.add_user(uid, name)
    chats = [-100_500 - b for b in range(buildings)]
    for b, chat in enumerate(chats):
        tg.add_group(chat, f"{b}号楼业主群", members=[CHIEF],
                     bot_status="left" if b in left else "member")
    await linli.import_org(_org(buildings))
    for uid in (CHIEF, RESIDENT, OTHER_CHIEF):
        tg.user_sends(uid, uid, "/start")
        await tg.wait_for(lambda m, uid=uid: m["chat"]["id"] == uid)
    return chats


def _texts(tg: FakeTelegram, chat: int, needle: str) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in tg.sent(chat)
            if needle in (m.get("text") or m.get("caption") or "")]


async def test_two_hundred_chats_at_the_flood_limits_all_delivered(
        tg: FakeTelegram, linli: BotHarness) -> None:
    chats = await _world(tg, linli, 200)
    assert tg.overall_per_second == 30 and tg.group_per_minute == 20  # Telegram's limits on
    tg.user_sends(CHIEF, CHIEF, "/broadcast now 本周六上午9点到12点停水，请提前储水。")
    await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF and "#1" in m["text"]
                      and "200 个群" in m["text"])
    report = await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF and "未送达" in m["text"],
                               timeout=60)
    assert "共 200 个群：已送达 200 个，未送达 0 个" in report["text"]
    for chat in chats:  # every chat, once
        assert len(_texts(tg, chat, "停水")) == 1, chat
    sends = [c for c in tg.calls
             if c.method == "sendMessage" and "停水" in c.params.get("text", "")]
    assert len({c.params["chat_id"] for c in sends}) == 200
    run = (await linli.linli.broadcasts.repo.runs(1))[0]
    statuses = {d.status for d in await linli.linli.broadcasts.repo.deliveries(run)}
    assert statuses == {"sent"}


async def test_scheduled_broadcast_fires_once_after_a_restart(
        tg: FakeTelegram, linli: BotHarness) -> None:
    chats = await _world(tg, linli, 3)
    # 10:00 local now: schedule for 11:00 today
    tg.user_sends(CHIEF, CHIEF, "/broadcast 2026-11-25 11:00 今晚7点在活动室开居民会")
    said = await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF and "已安排群发 #1" in m["text"])
    assert "11月25日（周三）11:00" in said["text"] and "3 个群" in said["text"]
    assert not any(_texts(tg, chat, "居民会") for chat in chats)
    await linli.stop()
    linli.clock.advance(timedelta(hours=1, seconds=5))  # it came due while the bot was down
    await linli.start()  # start acts on it
    await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF and "未送达" in m["text"], timeout=15)
    assert await linli.linli.scheduler.sweep() == 0
    await linli.restart()
    assert await linli.linli.scheduler.sweep() == 0
    for chat in chats:
        assert len(_texts(tg, chat, "居民会")) == 1
    assert await linli.linli.scheduler.deadlines.fired_count("broadcast") == 1
    broadcast = await linli.linli.broadcasts.repo.get(1)
    assert broadcast is not None and broadcast.state == "done"


async def test_recurring_broadcast_runs_again_and_is_cancelled(
        tg: FakeTelegram, linli: BotHarness) -> None:
    chats = await _world(tg, linli, 3, left=(2,))
    tg.user_sends(CHIEF, CHIEF, "/broadcast daily 10:30 垃圾分类提醒：厨余垃圾请破袋投放")
    said = await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF and "已安排群发 #1" in m["text"])
    assert "每天 10:30" in said["text"]
    for day in range(2):
        linli.clock.advance(timedelta(minutes=30, seconds=1) if day == 0 else timedelta(days=1))
        await linli.linli.scheduler.sweep()  # (the daily digest may fire too)
        assert await linli.linli.scheduler.deadlines.fired_count("broadcast") == day + 1
        await tg.wait_for(lambda m, n=day + 1: len(_texts(tg, CHIEF, "未送达")) == n, timeout=15)
        report = _texts(tg, CHIEF, "未送达")[-1]
        # the chat the bot was removed from is reported as not delivered, with the reason,
        # every run (after the first it is known inactive and not tried again); chats are
        # named by their title as Telegram shows it
        assert "共 3 个群：已送达 2 个，未送达 1 个" in report
        assert "✗ 2号楼：机器人已不在群里" in report and "✓ 0号楼业主群" in report
    tries = [c for c in tg.calls if c.method == "sendMessage"
             and c.params.get("chat_id") == chats[2]]
    assert len(tries) == 1
    assert len(_texts(tg, chats[0], "垃圾分类")) == 2
    tg.user_sends(CHIEF, CHIEF, "/broadcasts")
    listing = await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF and "待发送" in m["text"]
                                and "#1" in m["text"])
    # another compound's chief may not cancel it (forged data in his own chat)
    answer = tg.press_button(OTHER_CHIEF, OTHER_CHIEF, tg.sent(OTHER_CHIEF)[-1]["message_id"],
                             "bc:x:1")
    await _alert(tg, answer)
    assert (await linli.linli.broadcasts.repo.get(1)).state == "scheduled"  # type: ignore[union-attr]
    tg.press_button(CHIEF, CHIEF, listing["message_id"], "bc:x:1")
    await tg.wait_for_call("editMessageText", lambda p: "已取消" in p["text"])
    assert await linli.linli.scheduler.deadlines.armed_for("broadcast", 1) == []
    linli.clock.advance(timedelta(days=1))
    await linli.linli.scheduler.sweep()
    assert await linli.linli.scheduler.deadlines.fired_count("broadcast") == 2
    assert "不是您安排的" in (await _alert(tg, answer))["text"]


async def _alert(tg: FakeTelegram, query_id: str) -> dict[str, Any]:
    for _ in range(250):
        answer = tg.answers_to(query_id)
        if answer is not None:
            return answer
        await asyncio.sleep(0.02)
    raise AssertionError("the button press was never answered")


async def test_refusals_change_nothing(tg: FakeTelegram, linli: BotHarness) -> None:
    chats = await _world(tg, linli, 2)
    tg.user_sends(RESIDENT, RESIDENT, "/broadcast now 大家好")
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "负责人权限" in m["text"])
    tg.user_sends(CHIEF, CHIEF, "/broadcast tomorrow 大家好")
    await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF and "群发通知的用法" in m["text"])
    tg.user_sends(CHIEF, CHIEF, "/broadcast @moon now 大家好")
    await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF and "不在您的负责范围" in m["text"])
    tg.user_sends(CHIEF, CHIEF, "/broadcast 2020-01-01 09:00 大家好")
    await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF and "已经过去" in m["text"])
    tg.user_sends(CHIEF, CHIEF, "/broadcast now")
    await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF and "不能为空" in m["text"])
    tg.user_sends(CHIEF, CHIEF, "/broadcasts")
    last = await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF and "没有待发送" in m["text"])
    answer = await _alert(tg, tg.press_button(CHIEF, CHIEF, last["message_id"], "bc:x:99"))
    assert "没有找到群发 #99" in answer["text"]
    assert await linli.linli.broadcasts.repo.scheduled(None) == []
    for chat in chats:
        assert not tg.sent(chat)


async def test_broadcast_with_a_photo(tg: FakeTelegram, linli: BotHarness) -> None:
    chats = await _world(tg, linli, 2)
    tg.user_sends(CHIEF, CHIEF, photo=True,
                  caption="/broadcast now 消防演练照片，请大家看看逃生路线")
    await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF and "未送达 0 个" in (m["text"] or ""))
    for chat in chats:
        sent = [m for m in tg.sent(chat) if m.get("photo")]
        assert len(sent) == 1 and "逃生路线" in sent[0]["caption"]
    # a caption has a shorter limit than a message
    tg.user_sends(CHIEF, CHIEF, photo=True, caption="/broadcast now " + "长" * 1100)
    await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF and "最多 1024 字" in (m["text"] or ""))


async def test_report_of_a_night_broadcast_waits_for_the_morning(
        tg: FakeTelegram, linli: BotHarness) -> None:
    chats = await _world(tg, linli, 2)
    tg.user_sends(CHIEF, CHIEF, "/broadcast 2026-11-25 23:00 明早6点停电检修")
    await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF and "已安排群发 #1" in m["text"])
    linli.clock.advance(timedelta(hours=13, seconds=1))  # 23:00 local, inside quiet hours
    await linli.linli.scheduler.sweep()
    for chat in chats:  # the groups get it at the time chosen
        await tg.wait_for(lambda m, c=chat: m["chat"]["id"] == c and "停电检修" in m["text"])
    await asyncio.sleep(1.5)
    assert not _texts(tg, CHIEF, "未送达")  # the leader's report waits until 07:00
    linli.clock.advance(timedelta(hours=8))
    await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF and "未送达 0 个" in m["text"])


async def test_broadcast_text_is_plain_text_not_markup(tg: FakeTelegram, linli: BotHarness) -> None:
    chats = await _world(tg, linli, 1)
    tg.user_sends(CHIEF, CHIEF, "/broadcast now 本月水费<5元 & 电费>3元的住户请到<b>物业</b>登记")
    await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF and "未送达 0 个" in m["text"])
    assert _texts(tg, chats[0], "水费")[0] == "本月水费<5元 & 电费>3元的住户请到<b>物业</b>登记"


async def test_people_are_answered_while_a_big_broadcast_goes_out(
        tg: FakeTelegram, linli: BotHarness) -> None:
    """A broadcast to 200 chats takes seconds at Telegram's limits; a resident's /help
    sent meanwhile is answered at once, not after the last chat."""
    chats = await _world(tg, linli, 200)
    tg.user_sends(CHIEF, CHIEF, "/broadcast now 本周六上午9点到12点停水，请提前储水。")
    async with asyncio.timeout(20):  # the broadcast is under way
        while len(_delivered(tg)) < 20:
            await asyncio.sleep(0.02)
    tg.user_sends(RESIDENT, RESIDENT, "/help")
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "/report" in m["text"],
                      timeout=20)
    assert len(_delivered(tg)) < 120, len(_delivered(tg))  # long before the broadcast ended
    await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF and "未送达" in m["text"], timeout=60)
    assert _delivered(tg) == set(chats)


def _delivered(tg: FakeTelegram) -> set[int]:
    return {m["chat"]["id"] for m in tg.sent() if "停水" in (m.get("text") or "")}


async def test_chinese_times_schedule_once_and_weekly(tg: FakeTelegram, linli: BotHarness) -> None:
    """Wednesday 25 November, 10:00 in Shanghai: 「明天上午9点」 is Thursday 09:00 and
    「每周三18:30」 first goes out tonight, then a week later."""
    chats = await _world(tg, linli, 2)
    tg.user_sends(CHIEF, CHIEF, "/broadcast 明天上午9点 明天停水，请提前储水")
    said = await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF and "已安排群发 #1" in m["text"])
    assert "11月26日（周四）09:00" in said["text"]
    tg.user_sends(CHIEF, CHIEF, "/broadcast 每周三18:30 例会提醒：今晚活动室")
    said = await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF and "已安排群发 #2" in m["text"])
    assert "每周三 18:30" in said["text"]
    weekly = await linli.linli.broadcasts.repo.get(2)
    assert weekly is not None and weekly.repeat == "weekly" and weekly.weekdays == (2,)
    linli.clock.advance(timedelta(hours=8, minutes=30, seconds=1))  # Wednesday 18:30
    await linli.linli.scheduler.sweep()
    await tg.wait_for(lambda m: m["chat"]["id"] == chats[0] and "例会提醒" in m["text"])
    assert _texts(tg, chats[0], "停水") == []  # not before Thursday 09:00
    weekly = await linli.linli.broadcasts.repo.get(2)
    assert weekly is not None and weekly.next_at is not None
    assert weekly.next_at - linli.clock.now() < timedelta(days=7)
    assert weekly.next_at.astimezone(linli.linli.settings.tz).strftime("%m-%d %H:%M") == (
        "12-02 18:30")
    linli.clock.advance(timedelta(hours=14, minutes=30))  # Thursday 09:00
    await linli.linli.scheduler.sweep()
    for chat in chats:
        await tg.wait_for(lambda m, c=chat: m["chat"]["id"] == c and "停水" in m["text"])
    assert len(_texts(tg, chats[0], "例会提醒")) == 1


async def test_a_chinese_time_refused_names_the_part(tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli, 1)
    tg.user_sends(CHIEF, CHIEF, "/broadcast 明天25点 停水")
    said = await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF and "25点" in m["text"])
    assert "不是有效的钟点" in said["text"] and "明天上午9点" in said["text"]
    tg.user_sends(CHIEF, CHIEF, "/broadcast 今天上午9点 停水")
    said = await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF and "已经过去" in m["text"])
    assert "11月25日（周三）09:00" in said["text"]
    assert await linli.linli.broadcasts.repo.scheduled(None) == []
