"""最美家庭 end to end: nominations, one vote per resident of the scope, the results post."""

from __future__ import annotations

import asyncio
from typing import Any

from sandbox.fakegram import FakeTelegram
from tests.harness import BotHarness

CHIEF, STRANGER = 1003, 4001
R1, R2, R3, R4 = 3001, 3002, 3003, 3004
CHATS = [-100_901, -100_902]
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

[[nodes]]
key = "b1"
name = "1号楼"
level = "building"
parent = "sunshine"
chat_id = {CHATS[0]}

[[nodes]]
key = "b2"
name = "2号楼"
level = "building"
parent = "sunshine"
chat_id = {CHATS[1]}
""" + "".join(f'\n[[residents]]\nuser_id = {uid}\nnode = "b{uid % 2 + 1}"\n'
              for uid in (R1, R2, R3, R4))


async def _answer(tg: FakeTelegram, query_id: str) -> dict[str, Any]:
    for _ in range(250):
        answer = tg.answers_to(query_id)
        if answer is not None:
            return answer
        await asyncio.sleep(0.02)
    raise AssertionError("the button press was never answered")


def _data(message: dict[str, Any], label: str) -> str:
    return next(b["callback_data"] for row in message["reply_markup"]["inline_keyboard"]
                for b in row if b["text"].startswith(label))


async def _said(tg: FakeTelegram, uid: int, text: str, expect: str) -> dict[str, Any]:
    before = len(tg.sent(uid))
    tg.user_sends(uid, uid, text)
    return await tg.wait_for(lambda m: m["chat"]["id"] == uid and expect in m["text"]
                             and len(tg.sent(uid)) > before)


async def test_nominate_vote_once_and_post_the_winners(tg: FakeTelegram,
                                                       linli: BotHarness) -> None:
    people = {CHIEF: "赵片长", R1: "张阿姨", R2: "李大爷", R3: "王姐", R4: "刘哥", STRANGER: "路人"}
    for uid, name in people.items():
        tg.add_user(uid, name)
    for i, chat in enumerate(CHATS, start=1):
        tg.add_group(chat, f"{i}号楼业主群", members=list(people))
    await linli.import_org(ORG)
    for uid in people:
        tg.user_sends(uid, uid, "/start")
        await tg.wait_for(lambda m, uid=uid: m["chat"]["id"] == uid)

    await _said(tg, R1, "/nominate 王阿姨家 常年照顾独居老人", "没有正在提名")
    card = await _said(tg, CHIEF, "/family 2026年度最美家庭", "开始提名")
    for chat in CHATS:
        await tg.wait_for(lambda m, c=chat: m["chat"]["id"] == c and "开始提名啦" in m["text"])
    await _said(tg, R1, "/nominate 王阿姨家 常年照顾独居老人", "已提名“王阿姨家”")
    await _said(tg, R1, "/nominate 赵奶奶家：九十岁还在做志愿者", "已更新您的提名：“赵奶奶家”")
    await _said(tg, R2, "/nominate 李叔家，热心修理楼道灯", "已提名“李叔家”")
    await _said(tg, R3, "/nominate 张家 孝敬父母二十年", "已提名“张家”")
    await _said(tg, R4, "/nominate 孙家", "请这样提名")
    await _said(tg, STRANGER, "/nominate 路人家 很好", "登记的居民")
    nominations = await linli.linli.families.repo.nominations(1)
    assert [n.household for n in nominations] == ["赵奶奶家", "李叔家", "张家"]

    # a resident cannot open the vote, even with forged data
    refused = await _answer(tg, tg.press_button(R1, R1, tg.sent(R1)[-1]["message_id"], "fm:v:1"))
    assert "权限" in refused["text"]
    tg.press_button(CHIEF, CHIEF, card["message_id"], _data(card, "开始投票"))
    ballots = {chat: await tg.wait_for(lambda m, c=chat: m["chat"]["id"] == c
                                       and "开始投票" in m["text"]) for chat in CHATS}
    ballot = ballots[CHATS[0]]
    assert "1. 赵奶奶家：九十岁还在做志愿者" in ballot["text"]
    await _said(tg, R4, "/nominate 孙家 乐于助人", "没有正在提名")  # nominations are closed

    async def vote(uid: int, chat: int, label: str) -> str:
        b = ballots[chat]
        return (await _answer(tg, tg.press_button(uid, chat, b["message_id"],
                                                  _data(b, label))))["text"]

    assert "投票成功" in await vote(R1, CHATS[0], "投 2.")
    assert "投票成功" in await vote(R2, CHATS[1], "投 2.")
    assert "投票成功" in await vote(R3, CHATS[0], "投 3.")
    assert "投票成功" in await vote(R4, CHATS[1], "投 2.")
    assert "已经投过票" in await vote(R1, CHATS[1], "投 1.")  # one vote per resident
    assert "登记的居民" in await vote(STRANGER, CHATS[0], "投 1.")

    card = tg.message(CHIEF, card["message_id"])
    assert card is not None
    tg.press_button(CHIEF, CHIEF, card["message_id"], _data(card, "结束投票"))
    for chat in CHATS:
        result = await tg.wait_for(lambda m, c=chat: m["chat"]["id"] == c
                                   and "评选结果" in m["text"])
        assert "共 4 票" in result["text"]
        assert "李叔家（3 票）" in result["text"] and "张家（1 票）" in result["text"]
        assert "赵奶奶家" not in result["text"]  # no votes, no prize
    assert "已结束" in await vote(R1, CHATS[0], "投 1.")
