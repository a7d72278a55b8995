"""A small neighbourhood shared by the services, care and assessment end-to-end tests."""

from __future__ import annotations

import asyncio
from typing import Any

from sandbox.fakegram import FakeTelegram
from tests.harness import ADMIN, BotHarness
from tests.orgs import harmony, harmony_leaders, leader, node, resident

GROUP = -100400
GRID, BUILDING, COMPOUND, COMMUNITY, GRID4, BUILDING4 = 1001, 1002, 1003, 1004, 1011, 1012
RESIDENT, ELDER, NEIGHBOUR = 3001, 3002, 3003
VOL_NEAR, VOL_BUILDING, VOL_FAR, VOL_OTHER = 4001, 4002, 4003, 4004
ORG = (harmony(building_chat=GROUP) + node("b3-u2", "3号楼2单元", "grid", "b3")
       + node("b4", "4号楼", "building", "sunshine") + node("b4-u1", "4号楼1单元", "grid", "b4")
       + harmony_leaders(GRID, BUILDING, COMPOUND, COMMUNITY)
       + leader("b4-u1", GRID4, "周邻长") + leader("b4", BUILDING4, "吴楼长")
       + resident(RESIDENT, "b3-u1", "1-502") + resident(ELDER, "b3-u1", "1-301")
       + resident(NEIGHBOUR, "b3-u1") + resident(VOL_NEAR, "b3-u1")
       + resident(VOL_BUILDING, "b3-u2") + resident(VOL_FAR, "b4-u1")
       + resident(VOL_OTHER, "b3-u2"))
NAMES = {GRID: "王", BUILDING: "李", COMPOUND: "赵", COMMUNITY: "孙", GRID4: "周", BUILDING4: "吴",
         RESIDENT: "张阿姨", ELDER: "刘奶奶", NEIGHBOUR: "钱大爷", VOL_NEAR: "小陈",
         VOL_BUILDING: "小林", VOL_FAR: "小黄", VOL_OTHER: "小何", ADMIN: "管理员"}


async def world(tg: FakeTelegram, linli: BotHarness) -> None:
    for uid, name in NAMES.items():
        tg.add_user(uid, name)
    tg.add_group(GROUP, "3号楼业主群", members=list(NAMES))
    await linli.import_org(ORG)
    for uid in NAMES:
        tg.user_sends(uid, uid, "/start")
    for uid in NAMES:
        await tg.wait_for(lambda m, uid=uid: m["chat"]["id"] == uid)


def button(message: dict[str, Any], label: str) -> str:
    for row in message["reply_markup"]["inline_keyboard"]:
        for b in row:
            if b["text"] == label:
                return b["callback_data"]
    raise AssertionError(f"no button {label}: {message['reply_markup']}")


def texts(tg: FakeTelegram, chat_id: int) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in tg.sent(chat_id)]


async def settle(linli: BotHarness) -> None:
    async with asyncio.timeout(5):
        while not await linli.linli.notifier.idle():
            await asyncio.sleep(0.02)


async def answer_of(tg: FakeTelegram, query_id: str) -> str:
    """The text a press was answered with (an alert, a toast), waiting for it."""
    async with asyncio.timeout(5):
        while tg.callback_answers.get(query_id) is None:
            await asyncio.sleep(0.02)
    return str(tg.callback_answers[query_id])
