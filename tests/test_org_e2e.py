"""End to end: import → bind → invite → leader opens the link → resident joins → /org."""

from __future__ import annotations

import re

import pytest

from bot.org.orgfile import OrgFileError
from sandbox.fakegram import FakeTelegram
from tests.consent import agree
from tests.harness import ADMIN, BotHarness

GROUP = -100100
LEADER = 1001
RESIDENT = 3001
ORG = """
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

[[leaders]]
node = "b3"
user_id = 1002
name = "李楼长"
"""


def _texts(tg: FakeTelegram, chat_id: int) -> list[str]:
    return [m.get("text") or "" for m in tg.sent(chat_id)]


async def _setup_world(tg: FakeTelegram, resident_lang: str) -> None:
    tg.add_user(ADMIN, "社区管理员", language_code="zh-hans")
    tg.add_user(LEADER, "王", last_name="邻长", language_code="zh-hans")
    tg.add_user(RESIDENT, "Alice" if resident_lang == "en" else "张阿姨",
                language_code="en" if resident_lang == "en" else "zh-hans")
    tg.add_group(GROUP, "3号楼业主群", members=[ADMIN, LEADER, RESIDENT], admins=[ADMIN])


@pytest.mark.parametrize("resident_lang", ["zh", "en"])
async def test_import_bind_invite_join_org(
    tg: FakeTelegram, linli: BotHarness, resident_lang: str
) -> None:
    await _setup_world(tg, resident_lang)
    summary = await linli.import_org(ORG)
    assert "nodes: 5 created" in summary.describe()

    # the bot is added to the building's group and explains /bind
    tg.add_bot_to_group(GROUP, ADMIN)
    await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and "/bind" in (m.get("text") or ""))

    tg.user_sends(ADMIN, GROUP, "/bind b3")
    await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and "已绑定" in (m.get("text") or ""))

    # an admin invites a neighbour leader in private; the link is single use
    tg.user_sends(ADMIN, ADMIN, "/invite grid_leader b3-u1")
    invite = await tg.wait_for(lambda m: m["chat"]["id"] == ADMIN and "start=inv_" in m["text"])
    token = re.search(r"start=(inv_[A-Za-z0-9_-]+)", invite["text"]).group(1)
    tg.user_sends(LEADER, LEADER, f"/start {token}")
    await tg.wait_for(lambda m: m["chat"]["id"] == LEADER and "邻长" in m["text"])

    # the resident joins in the group and picks the unit with a button
    tg.user_sends(RESIDENT, GROUP, "/join")
    pick = await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and m.get("reply_markup"))
    buttons = [b for row in pick["reply_markup"]["inline_keyboard"] for b in row]
    unit1 = next(b for b in buttons if b["text"] == "3号楼1单元")
    tg.press_button(RESIDENT, GROUP, pick["message_id"], unit1["callback_data"])
    await agree(tg, RESIDENT, GROUP, resident_lang)  # the notice first, then 同意
    joined_word = "registered" if resident_lang == "en" else "已为您登记"
    await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and joined_word in (m.get("text") or ""))
    # the unit's leader hears of it, with a button to undo a wrong registration
    told = await tg.wait_for(lambda m: m["chat"]["id"] == LEADER and "新居民" in m["text"])
    assert told["reply_markup"]["inline_keyboard"][0][0]["callback_data"].startswith("rr:")
    resident = await linli.linli.org_repo.resident(RESIDENT)
    assert resident is not None

    # /org shows it all
    tg.user_sends(ADMIN, ADMIN, "/org")
    tree = await tg.wait_for(lambda m: m["chat"]["id"] == ADMIN and "组织架构" in m["text"])
    text = tree["text"]
    for expected in ("和谐社区", "3号楼1单元", "王 邻长", "李楼长", "3号楼业主群", "居民 1 人"):
        assert expected in text, expected


async def test_english_user_sees_english(tg: FakeTelegram, linli: BotHarness) -> None:
    tg.add_user(RESIDENT, "Alice", language_code="en-US")
    tg.user_sends(RESIDENT, RESIDENT, "/help")
    reply = await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT)
    assert "Help" in reply["text"] and "/join" in reply["text"]
    # /lang overrides Telegram's language
    tg.user_sends(RESIDENT, RESIDENT, "/lang zh")
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "中文" in m["text"])
    tg.user_sends(RESIDENT, RESIDENT, "/help")
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "使用说明" in m["text"])


async def test_private_join_with_unit(tg: FakeTelegram, linli: BotHarness) -> None:
    await _setup_world(tg, "zh")
    await linli.import_org(ORG)
    tg.user_sends(RESIDENT, RESIDENT, "/join")
    first = await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and m.get("reply_markup"))
    # one community: the choice starts at its compounds
    button = first["reply_markup"]["inline_keyboard"][0][0]
    assert button["text"] == "阳光小区"
    tg.press_button(RESIDENT, RESIDENT, first["message_id"], button["callback_data"])
    await tg.wait_for_call(
        "editMessageText", lambda p: p["message_id"] == first["message_id"] and "3号楼" in str(
            p.get("reply_markup")))
    b3 = await linli.linli.org_repo.node_by_key("b3")
    tg.press_button(RESIDENT, RESIDENT, first["message_id"], f"jn:{b3.id}")
    await tg.wait_for_call("editMessageText", lambda p: "3号楼2单元" in str(p.get("reply_markup")))
    u2 = await linli.linli.org_repo.node_by_key("b3-u2")
    tg.press_button(RESIDENT, RESIDENT, first["message_id"], f"jn:{u2.id}")
    await agree(tg, RESIDENT, RESIDENT)
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "门牌号" in m["text"])
    tg.user_sends(RESIDENT, RESIDENT, "2-301")
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "已记下" in m["text"])
    resident = await linli.linli.org_repo.resident(RESIDENT)
    assert resident is not None and resident.unit == "2-301" and resident.node_id == u2.id


async def test_refusals_change_nothing(tg: FakeTelegram, linli: BotHarness) -> None:
    await _setup_world(tg, "zh")
    await linli.import_org(ORG)
    tg.add_bot_to_group(GROUP, ADMIN)
    # a resident may not bind the group nor invite leaders
    tg.user_sends(RESIDENT, GROUP, "/bind b3")
    await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and "只有管理员" in m["text"])
    assert (await linli.linli.org_repo.chat(GROUP)).node_id is None
    tg.user_sends(RESIDENT, RESIDENT, "/invite grid_leader b3-u1")
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "只有管理员" in m["text"])
    # malformed arguments get a usage hint
    tg.user_sends(ADMIN, ADMIN, "/invite grid_leader")
    await tg.wait_for(lambda m: m["chat"]["id"] == ADMIN and "用法" in m["text"])
    tg.user_sends(ADMIN, ADMIN, "/invite building_leader b3-u1")
    mismatch = await tg.wait_for(lambda m: m["chat"]["id"] == ADMIN and "不是" in m["text"])
    assert "邻长" in mismatch["text"] and "grid_leader" not in mismatch["text"]
    # a leader's mistake typed in the group is answered in private; the group stays quiet
    tg.user_sends(ADMIN, GROUP, "/bind nowhere")
    await tg.wait_for(lambda m: m["chat"]["id"] == ADMIN and "nowhere" in m["text"])
    assert not [m for m in tg.sent(GROUP) if "nowhere" in (m.get("text") or "")]
    # a forged join button from another part of the tree is refused in a bound group
    tg.user_sends(ADMIN, GROUP, "/bind b3-u1")
    bound = await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and "已绑定" in m["text"])
    u2 = await linli.linli.org_repo.node_by_key("b3-u2")
    query = tg.press_button(RESIDENT, GROUP, bound["message_id"], f"jn:{u2.id}")
    await tg.wait_for_call("answerCallbackQuery", lambda p: p["callback_query_id"] == query)
    assert tg.answers_to(query)["show_alert"]
    assert await linli.linli.org_repo.resident(RESIDENT) is None
    # an unknown command gets a hint; a command for another bot is ignored
    tg.user_sends(RESIDENT, RESIDENT, "/frobnicate")
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "/frobnicate" in m["text"])


async def test_invite_is_single_use(tg: FakeTelegram, linli: BotHarness) -> None:
    await _setup_world(tg, "zh")
    tg.add_user(4004, "路人")
    await linli.import_org(ORG)
    tg.user_sends(ADMIN, ADMIN, "/invite grid_leader b3-u2")
    invite = await tg.wait_for(lambda m: m["chat"]["id"] == ADMIN and "start=inv_" in m["text"])
    token = re.search(r"start=(inv_[A-Za-z0-9_-]+)", invite["text"]).group(1)
    tg.user_sends(LEADER, LEADER, f"/start {token}")
    await tg.wait_for(lambda m: m["chat"]["id"] == LEADER and "邻长" in m["text"])
    tg.user_sends(4004, 4004, f"/start {token}")
    await tg.wait_for(lambda m: m["chat"]["id"] == 4004 and "已经被使用" in m["text"])
    u2 = await linli.linli.org_repo.node_by_key("b3-u2")
    assert [ld.user_id for ld in await linli.linli.org_repo.leaders_of(u2.id)] == [LEADER]


async def test_bad_org_file_changes_nothing(tg: FakeTelegram, linli: BotHarness) -> None:
    await linli.import_org(ORG)
    before = await linli.linli.db.fetchall("SELECT key, name, parent_id FROM nodes ORDER BY key")
    bad = ORG.replace('parent = "b3"\n\n[[leaders]]', 'parent = "b4"\n\n[[leaders]]')
    bad = bad.replace('name = "3号楼"', 'name = "三号楼"')
    with pytest.raises(OrgFileError) as caught:
        await linli.import_org(bad)
    assert any("b4" in problem and "b3-u2" in problem for problem in caught.value.problems)
    after = await linli.linli.db.fetchall("SELECT key, name, parent_id FROM nodes ORDER BY key")
    assert [tuple(r) for r in before] == [tuple(r) for r in after]
