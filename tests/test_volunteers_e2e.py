"""Volunteers and help requests end to end."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sandbox.fakegram import FakeTelegram
from tests.harness import ADMIN, BotHarness
from tests.services_world import (
    GRID,
    GROUP,
    RESIDENT,
    VOL_BUILDING,
    VOL_FAR,
    VOL_NEAR,
    VOL_OTHER,
    answer_of,
    button,
    settle,
    texts,
    world,
)


async def _volunteers(tg: FakeTelegram) -> None:
    for uid, skills in ((VOL_FAR, "维修"), (VOL_NEAR, "repair,陪伴"),
                        (VOL_BUILDING, "维修"), (VOL_OTHER, "法律咨询")):
        tg.user_sends(uid, uid, f"/volunteer {skills} 周末全天")
        await tg.wait_for(lambda m, uid=uid: m["chat"]["id"] == uid and "谢谢您加入志愿者队伍"
                          in m["text"])


async def _edited(tg: FakeTelegram, chat_id: int, message_id: int, needle: str) -> None:
    async with asyncio.timeout(5):
        while needle not in (tg.message(chat_id, message_id) or {}).get("text", ""):
            await asyncio.sleep(0.02)


def _offer(tg: FakeTelegram, uid: int, n: int) -> dict:
    return next(m for m in tg.sent(uid) if f"邻居求助 #{n}" in (m.get("text") or ""))


async def test_help_request_taken_by_the_second_volunteer_others_withdrawn(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await world(tg, linli)
    await _volunteers(tg)
    tg.user_sends(RESIDENT, RESIDENT, "/help_request")
    pick = await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "哪方面" in m["text"])
    tg.press_button(RESIDENT, RESIDENT, pick["message_id"], button(pick, "维修"))
    await _edited(tg, RESIDENT, pick["message_id"], "请用一两句话")
    tg.user_sends(RESIDENT, RESIDENT, "厨房水龙头一直滴水")
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "求助 #1" in m["text"]
                      and "3 位志愿者" in m["text"])
    for uid in (VOL_NEAR, VOL_BUILDING, VOL_FAR):
        await tg.wait_for(lambda m, uid=uid: m["chat"]["id"] == uid and "邻居求助 #1"
                          in m["text"])
    assert not any("邻居求助" in x for x in texts(tg, VOL_OTHER))  # another skill
    offers = await linli.linli.volunteers.repo.offers(1)
    assert [o.volunteer_id for o in offers] == [VOL_NEAR, VOL_BUILDING, VOL_FAR]  # nearest first

    second = _offer(tg, VOL_BUILDING, 1)
    tg.press_button(VOL_BUILDING, VOL_BUILDING, second["message_id"], button(second, "我来帮忙"))
    ask = await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT
                            and "可以把您的联系方式" in m["text"])
    await settle(linli)
    for uid in (VOL_NEAR, VOL_FAR):  # the other two offers are withdrawn: edited, no button
        shown = tg.message(uid, _offer(tg, uid, 1)["message_id"])
        assert "已由其他志愿者接单" in shown["text"] and not shown.get("reply_markup")
    assert "由您接单了" in tg.message(VOL_BUILDING, second["message_id"])["text"]
    late = tg.press_button(VOL_FAR, VOL_FAR, _offer(tg, VOL_FAR, 1)["message_id"], "hr:acc:1")
    assert "已经有人接单" in await answer_of(tg, late)
    assert (await linli.linli.volunteers.repo.request(1)).volunteer_id == VOL_BUILDING
    # no contact before consent
    assert not any("tg://user?id=3001" in (m.get("text") or "") for m in tg.sent(VOL_BUILDING))
    tg.press_button(RESIDENT, RESIDENT, ask["message_id"], button(ask, "同意"))
    contact = await tg.wait_for(lambda m: m["chat"]["id"] == VOL_BUILDING and "同意联系"
                                in m["text"])
    mine = await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "志愿者是" in m["text"])
    first = tg.press_button(VOL_BUILDING, VOL_BUILDING, contact["message_id"],
                            button(contact, "已完成"))
    assert "等对方也确认" in await answer_of(tg, first)
    assert (await linli.linli.volunteers.repo.request(1)).state == "accepted"
    tg.press_button(RESIDENT, RESIDENT, mine["message_id"], button(mine, "已完成"))
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "求助 #1 已完成" in m["text"])
    await tg.wait_for(lambda m: m["chat"]["id"] == VOL_BUILDING and "求助 #1 已完成" in m["text"])
    assert (await linli.linli.volunteers.repo.request(1)).state == "done"


async def test_unanswered_help_request_goes_to_the_grid_leader(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await world(tg, linli)
    await _volunteers(tg)
    tg.user_sends(RESIDENT, RESIDENT, "/help_request legal 想咨询一下遗产继承的问题")
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "1 位志愿者" in m["text"])
    offer = await tg.wait_for(lambda m: m["chat"]["id"] == VOL_OTHER and "邻居求助 #1" in m["text"])
    linli.clock.advance(timedelta(hours=2, minutes=1))
    await linli.linli.scheduler.sweep()
    handed = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "求助 #1 无人接单"
                               in m["text"])
    assert "遗产继承" in handed["text"] and "1-502" in handed["text"]
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "已请邻长帮忙协调" in m["text"])
    await settle(linli)
    withdrawn = tg.message(VOL_OTHER, offer["message_id"])["text"]
    # nobody took it: the offer says it went to the neighbour leader, not that someone took it
    assert "已转给邻长协调" in withdrawn and "其他志愿者" not in withdrawn
    late = tg.press_button(VOL_OTHER, VOL_OTHER, offer["message_id"], "hr:acc:1")
    assert "已经有人接单" in await answer_of(tg, late)
    assert (await linli.linli.volunteers.repo.request(1)).state == "handed_over"


async def test_volunteer_pause_leave_and_refusals(tg: FakeTelegram, linli: BotHarness) -> None:
    await world(tg, linli)
    await _volunteers(tg)
    tg.user_sends(VOL_NEAR, VOL_NEAR, "/volunteer pause")
    await tg.wait_for(lambda m: m["chat"]["id"] == VOL_NEAR and "已暂停接单" in m["text"])
    tg.user_sends(VOL_BUILDING, VOL_BUILDING, "/volunteer")
    status = await tg.wait_for(lambda m: m["chat"]["id"] == VOL_BUILDING and "我的志愿者登记"
                               in m["text"])
    tg.press_button(VOL_BUILDING, VOL_BUILDING, status["message_id"],
                    button(status, "退出志愿者"))
    await _edited(tg, VOL_BUILDING, status["message_id"], "已退出志愿者队伍")
    tg.user_sends(RESIDENT, RESIDENT, "/help_request 维修 门锁坏了")
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "1 位志愿者" in m["text"])
    await tg.wait_for(lambda m: m["chat"]["id"] == VOL_FAR and "邻居求助 #1" in m["text"])
    assert not any("邻居求助" in x for x in texts(tg, VOL_NEAR) + texts(tg, VOL_BUILDING))
    # no matching volunteer at all: straight to the grid leader
    tg.user_sends(RESIDENT, RESIDENT, "/help_request 家政 想找人打扫卫生")
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "附近暂时没有" in m["text"])
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "求助 #2 没有对应的志愿者"
                      in m["text"])
    # refusals: bad skill, group chat, a stranger pressing someone else's offer
    tg.user_sends(RESIDENT, RESIDENT, "/help_request 算命 看看运势")
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "没有这个服务类别" in m["text"])
    tg.user_sends(RESIDENT, GROUP, "/help_request 维修 灯坏了")
    await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and "私聊" in m["text"])
    welcome = tg.sent(VOL_OTHER)[0]
    forged = tg.press_button(VOL_OTHER, VOL_OTHER, welcome["message_id"], "hr:acc:1")
    assert "没有发给您" in await answer_of(tg, forged)
    forged = tg.press_button(VOL_OTHER, VOL_OTHER, welcome["message_id"], "hr:ok:1")
    assert "不是您的求助" in await answer_of(tg, forged)
    assert (await linli.linli.volunteers.repo.request(1)).state == "open"
    assert await linli.linli.volunteers.repo.request(3) is None
    # not registered where they live; an unknown skill; pausing without registering
    tg.user_sends(ADMIN, ADMIN, "/help_request 维修 门坏了")
    await tg.wait_for(lambda m: m["chat"]["id"] == ADMIN and "请先发送 /join" in m["text"])
    tg.user_sends(ADMIN, ADMIN, "/volunteer 维修 周末")
    await tg.wait_for(lambda m: m["chat"]["id"] == ADMIN and "再来登记志愿者" in m["text"])
    tg.user_sends(RESIDENT, RESIDENT, "/volunteer 唱歌 周末")
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT
                      and len([x for x in texts(tg, RESIDENT) if "没有这个服务类别" in x]) == 2)
    tg.user_sends(RESIDENT, RESIDENT, "/volunteer pause")
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "您还不是志愿者" in m["text"])
    assert await linli.linli.volunteers.repo.get(RESIDENT) is None
    assert await linli.linli.volunteers.repo.get(ADMIN) is None
