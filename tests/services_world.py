"""A small neighbourhood shared by the services, care and assessment end-to-end tests."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.fakegram import FakeTelegram
from tests.harness import ADMIN, BotHarness

GROUP = -100400
GRID, BUILDING, COMPOUND, COMMUNITY, GRID4, BUILDING4 = 1001, 1002, 1003, 1004, 1011, 1012
RESIDENT, ELDER, NEIGHBOUR = 3001, 3002, 3003
VOL_NEAR, VOL_BUILDING, VOL_FAR, VOL_OTHER = 4001, 4002, 4003, 4004
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

[[nodes]]
key = "b3"
name = "3号楼"
level = "building"
parent = "sunshine"
chat_id = {GROUP}

[[nodes]]
key = "b3-u1"
name = "3号楼1单元"
level = "grid"
parent = "b3"

[[nodes]]
key = "b3-u2"
name = "3号楼2单元"
level = "grid"
parent = "b3"

[[nodes]]
key = "b4"
name = "4号楼"
level = "building"
parent = "sunshine"

[[nodes]]
key = "b4-u1"
name = "4号楼1单元"
level = "grid"
parent = "b4"

[[leaders]]
node = "b3-u1"
user_id = {GRID}
name = "王邻长"

[[leaders]]
node = "b3"
user_id = {BUILDING}
name = "李楼长"

[[leaders]]
node = "sunshine"
user_id = {COMPOUND}
name = "赵片长"

[[leaders]]
node = "harmony"
user_id = {COMMUNITY}
name = "孙书记"

[[leaders]]
node = "b4-u1"
user_id = {GRID4}
name = "周邻长"

[[leaders]]
node = "b4"
user_id = {BUILDING4}
name = "吴楼长"

[[residents]]
user_id = {RESIDENT}
node = "b3-u1"
unit = "1-502"

[[residents]]
user_id = {ELDER}
node = "b3-u1"
unit = "1-301"

[[residents]]
user_id = {NEIGHBOUR}
node = "b3-u1"

[[residents]]
user_id = {VOL_NEAR}
node = "b3-u1"

[[residents]]
user_id = {VOL_BUILDING}
node = "b3-u2"

[[residents]]
user_id = {VOL_FAR}
node = "b4-u1"

[[residents]]
user_id = {VOL_OTHER}
node = "b3-u2"
"""
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
