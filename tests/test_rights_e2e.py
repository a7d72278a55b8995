"""Rights: only those an item concerns act on it, a bound chat is not taken over, and rights
end with the role."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.fakegram import FakeTelegram
from tests.harness import BotHarness
from tests.test_consultation_e2e import FORUM, GROUP, MOON, OUTSIDER, said, schedule_meeting, world


async def _answer(tg: FakeTelegram, query_id: str) -> dict[str, Any]:
    for _ in range(250):
        answer = tg.answers_to(query_id)
        if answer is not None:
            return answer
        await asyncio.sleep(0.02)
    raise AssertionError("the button press was never answered")


async def test_only_residents_of_its_node_support_a_topic_or_answer_a_meeting(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await world(tg, linli)
    card = await schedule_meeting(tg, linli)  # topic #1 is 3号楼1单元's, meeting #1 阳光小区's
    topic = await said(tg, GROUP, "新议题 #1")
    supporters = (await linli.linli.consultation_repo.proposal(1)).supporters
    rsvps = await linli.linli.db.fetchval("SELECT count(*) FROM meeting_rsvps")

    # 月亮小区's resident and someone registered nowhere
    support = await _answer(tg, tg.press_button(MOON, GROUP, topic["message_id"], "cp:sup:1"))
    rsvp = await _answer(tg, tg.press_button(MOON, FORUM, card["message_id"], "cf:go:1"))
    stranger = await _answer(tg, tg.press_button(OUTSIDER, FORUM, card["message_id"], "cf:may:1"))
    await linli.settle()

    assert (await linli.linli.consultation_repo.proposal(1)).supporters == supporters
    assert await linli.linli.db.fetchval("SELECT count(*) FROM meeting_rsvps") == rsvps
    assert support["show_alert"] and "只有住在3号楼1单元的居民才能支持" in support["text"], support
    assert rsvp["show_alert"] and "只有住在阳光小区的居民才能报名" in rsvp["text"], rsvp
    assert stranger["show_alert"] and "阳光小区" in stranger["text"], stranger


# -- a bound chat is not taken over ------------------------------------------------------

BOUND = -100301
GRID_LEADER, BUILDING_LEADER, COMPOUND_LEADER, COMMUNITY_LEADER = 1001, 1002, 1003, 1004
OTHER_BUILDING = 1005  # 周楼长 of 4号楼


async def _bound_world(tg: FakeTelegram, linli: BotHarness) -> None:
    from tests.orgs import harmony, harmony_leaders, leader, node

    people = {GRID_LEADER: "王", BUILDING_LEADER: "李", COMPOUND_LEADER: "赵",
              COMMUNITY_LEADER: "孙", OTHER_BUILDING: "周"}
    for uid, name in people.items():
        tg.add_user(uid, name)
        tg.user_sends(uid, uid, "/start")
    tg.add_group(BOUND, "3号楼业主群", members=list(people))
    await linli.import_org(harmony(building_chat=BOUND)
                           + harmony_leaders(GRID_LEADER, BUILDING_LEADER, COMPOUND_LEADER,
                                             COMMUNITY_LEADER)
                           + node("b4", "4号楼", "building", "sunshine")
                           + leader("b4", OTHER_BUILDING, "周楼长"))
    await linli.settle()


async def _bound_to(linli: BotHarness) -> str:
    chat = await linli.linli.org_repo.chat(BOUND)
    assert chat is not None and chat.node_id is not None
    node = await linli.linli.org_repo.node(chat.node_id)
    assert node is not None
    return node.key


async def test_a_bound_group_is_rebound_only_with_rights_over_its_node(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _bound_world(tg, linli)
    # 4号楼's leader, and 3号楼1单元's grid leader, have rights over the node they name only
    tg.user_sends(OTHER_BUILDING, BOUND, "/bind b4")
    refused = await said(tg, BOUND, "本群已经绑定在")
    assert "3号楼" in refused["text"] and "绑定保持不变" in refused["text"]
    assert await _bound_to(linli) == "b3"
    tg.user_sends(GRID_LEADER, BOUND, "/bind b3-u1")
    await tg.wait_for(lambda m: m["chat"]["id"] == BOUND and m["text"].count("本群已经绑定在") == 1
                      and m["message_id"] > refused["message_id"])
    assert await _bound_to(linli) == "b3"
    await linli.settle()
    assert not any("改绑" in (m.get("text") or "") for m in tg.sent(BUILDING_LEADER))

    # 阳光小区's leader has rights over both: it moves, and 3号楼's leader is told
    tg.user_sends(COMPOUND_LEADER, BOUND, "/bind b4")
    await said(tg, BOUND, "本群已绑定到 4号楼")
    assert await _bound_to(linli) == "b4"
    told = await said(tg, BUILDING_LEADER, "改绑到了4号楼")
    assert "3号楼业主群" in told["text"] and "赵" in told["text"]
