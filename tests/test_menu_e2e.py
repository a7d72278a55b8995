"""A menu for people who do not type commands, and command menus scoped by role.

Residents get a persistent keyboard of big buttons in private chat, each doing what its
command does; leaders get 待我处理 too. The default private command menu holds only
residents' commands; each leader's private chat has a menu of its own with their role's.
/help is short and role-specific, with no English words in the Chinese text.
"""

from __future__ import annotations

import re

from sandbox.fakegram import FakeTelegram
from tests.harness import ADMIN, BotHarness
from tests.orgs import harmony, harmony_leaders, resident

GRID, BUILDING, COMPOUND, COMMUNITY = 1001, 1002, 1003, 1004
CHEN, ANN, NEWCOMER = 3001, 3005, 4001
ORG = (harmony() + harmony_leaders(GRID, BUILDING, COMPOUND, COMMUNITY)
       + resident(CHEN, "b3-u1", "1-502") + resident(ANN, "b3-u1", "1-503"))
LEADER_ONLY = {"queue", "topics", "topicpoll", "forum", "decide", "event", "family",
               "broadcast", "broadcasts", "stats", "care", "invite", "org", "bind"}


def _keyboard(message: dict) -> list[str]:
    markup = message.get("reply_markup") or {}
    assert markup.get("is_persistent") and markup.get("resize_keyboard"), markup
    return [button if isinstance(button, str) else button["text"]
            for row in markup["keyboard"] for button in row]


async def _last(tg: FakeTelegram, linli: BotHarness, user: int, text: str) -> dict:
    tg.user_sends(user, user, text)
    await linli.settle()
    return tg.sent(user)[-1]


async def test_residents_buttons_do_what_their_commands_do(
        tg: FakeTelegram, linli: BotHarness) -> None:
    tg.add_user(CHEN, "陈阿姨")
    tg.add_user(ANN, "Ann", language_code="en")
    tg.add_user(GRID, "王")
    await linli.import_org(ORG)
    welcome = await _last(tg, linli, CHEN, "/start")
    assert _keyboard(welcome) == ["📝 反映问题", "📋 我的诉求", "🎉 社区活动", "🤝 我要求助",
                                  "❓ 使用说明"]
    assert "还没有提交过诉求" in (await _last(tg, linli, CHEN, "📋 我的诉求"))["text"]
    assert "活动" in (await _last(tg, linli, CHEN, "🎉 社区活动"))["text"]
    assert "哪方面的帮助" in (await _last(tg, linli, CHEN, "🤝 我要求助"))["text"]
    assert "类别" in (await _last(tg, linli, CHEN, "📝 反映问题"))["text"]
    tg.user_sends(CHEN, CHEN, "/cancel")
    await linli.settle()
    help_ = await _last(tg, linli, CHEN, "❓ 使用说明")
    lines = help_["text"].strip().splitlines()
    assert len(lines) <= 8, lines
    assert not re.search(r"[A-Za-z]", re.sub(r"/[a-z_]+", "", help_["text"])), help_["text"]
    assert not LEADER_ONLY & set(re.findall(r"/([a-z_]+)", help_["text"]))

    # in English: English buttons, which work the same
    welcome = await _last(tg, linli, ANN, "/start")
    assert "📋 My reports" in _keyboard(welcome)
    assert "not filed any report" in (await _last(tg, linli, ANN, "📋 My reports"))["text"]

    # a leader's keyboard adds 待我处理, which shows the queue
    welcome = await _last(tg, linli, GRID, "/start")
    assert "📥 待我处理" in _keyboard(welcome)
    assert "没有等您处理" in (await _last(tg, linli, GRID, "📥 待我处理"))["text"]
    help_ = await _last(tg, linli, GRID, "/help")
    assert "/queue" in help_["text"] and "/stats" in help_["text"]


async def test_command_menus_scoped_by_role(tg: FakeTelegram, linli: BotHarness) -> None:
    for uid, name in ((GRID, "王"), (BUILDING, "李"), (COMPOUND, "赵"), (COMMUNITY, "孙"),
                      (CHEN, "陈阿姨"), (NEWCOMER, "新楼长"), (ADMIN, "管理员")):
        tg.add_user(uid, name)
    await linli.import_org(ORG)
    await linli.restart()  # the leaders' menus are published as the bot starts
    default = {c["command"] for c in tg.commands[("all_private_chats", "")]}
    assert "report" in default and "whoami" in default
    assert not default & LEADER_ONLY, default & LEADER_ONLY
    grid = {c["command"] for c in tg.commands[(f"chat:{GRID}", "")]}
    assert {"queue", "stats", "care", "report"} <= grid and "invite" not in grid
    building = {c["command"] for c in tg.commands[(f"chat:{BUILDING}", "")]}
    assert "invite" in building
    assert (f"chat:{CHEN}", "") not in tg.commands  # a resident has only the default menu

    # someone who becomes a leader through an invite gets their menu at once
    tg.user_sends(ADMIN, ADMIN, "/invite building_leader b3")
    await linli.settle()
    link = re.search(r"start=(inv_[A-Za-z0-9_-]+)", tg.sent(ADMIN)[-1]["text"]).group(1)
    tg.user_sends(NEWCOMER, NEWCOMER, f"/start {link}")
    await linli.settle()
    assert "queue" in {c["command"] for c in tg.commands[(f"chat:{NEWCOMER}", "")]}
    assert "📥 待我处理" in _keyboard(tg.sent(NEWCOMER)[-1])

    # a leader who switches language gets their menu in that language
    tg.user_sends(GRID, GRID, "/lang en")
    await linli.settle()
    menu = {c["command"]: c["description"] for c in tg.commands[(f"chat:{GRID}", "")]}
    assert menu["queue"] == "My queue" or not re.search(r"[\u4e00-\u9fff]", menu["queue"])


async def test_whoami_shows_id_and_registration(tg: FakeTelegram, linli: BotHarness) -> None:
    tg.add_user(CHEN, "陈阿姨")
    tg.add_user(BUILDING, "李")
    await linli.import_org(ORG)
    said = (await _last(tg, linli, CHEN, "/whoami"))["text"]
    assert str(CHEN) in said and "住在 3号楼1单元（1-502），已登记为居民" in said
    said = (await _last(tg, linli, BUILDING, "/whoami"))["text"]
    assert str(BUILDING) in said and "3号楼 的楼栋长" in said
