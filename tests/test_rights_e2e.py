"""Rights: only those an item concerns act on it, a bound chat is not taken over, and rights
end with the role."""

from __future__ import annotations

import asyncio
from typing import Any

from sandbox.fakegram import FakeTelegram
from tests.backend import database_in, query
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
    # (a leader's refusal typed in a group is answered in private, the group if need be)
    tg.user_sends(OTHER_BUILDING, BOUND, "/bind b4")
    refused = await tg.wait_for(lambda m: m["chat"]["id"] in (BOUND, OTHER_BUILDING)
                                and "本群已经绑定在" in m["text"])
    assert "3号楼" in refused["text"] and "绑定保持不变" in refused["text"]
    assert await _bound_to(linli) == "b3"
    tg.user_sends(GRID_LEADER, BOUND, "/bind b3-u1")
    await tg.wait_for(lambda m: m["chat"]["id"] in (BOUND, GRID_LEADER)
                      and "本群已经绑定在" in m["text"])
    assert await _bound_to(linli) == "b3"
    await linli.settle()
    assert not any("改绑" in (m.get("text") or "") for m in tg.sent(BUILDING_LEADER))

    # 阳光小区's leader has rights over both: it moves, and 3号楼's leader is told
    tg.user_sends(COMPOUND_LEADER, BOUND, "/bind b4")
    await said(tg, BOUND, "本群已绑定到 4号楼")
    assert await _bound_to(linli) == "b4"
    told = await said(tg, BUILDING_LEADER, "改绑到了4号楼")
    assert "3号楼业主群" in told["text"] and "赵" in told["text"]


# -- rights end when the role ends ---------------------------------------------------------

from tests.orgs import harmony, harmony_leaders, resident  # noqa: E402
from tests.test_reports_e2e import _button, _prompt  # noqa: E402

GRID, BUILDING, COMPOUND, COMMUNITY = 1001, 1002, 1003, 1004
FIXER, OTHER_FIXER, TENANT = 2001, 2002, 3001
RIGHTS_GROUP = -100302


def _rights_org(fixers: str = f"{FIXER}, {OTHER_FIXER}", grid_removed: bool = False) -> str:
    org = (harmony(building_chat=RIGHTS_GROUP) + harmony_leaders(GRID, BUILDING, COMPOUND,
                                                                   COMMUNITY)
           + f'\n[[partners]]\nnode = "sunshine"\nkind = "property"\nname = "阳光物业"\n'
             f'user_ids = [{fixers}]\ncategories = ["repair"]\n'
           + resident(TENANT, "b3-u1", "1-502"))
    if grid_removed:
        org = org.replace(f'user_id = {GRID}\nname = "王邻长"',
                          f'user_id = {GRID}\nname = "王邻长"\nremoved = true')
        assert "removed = true" in org
    return org


async def _rights_world(tg: FakeTelegram, linli: BotHarness) -> None:
    people = {GRID: "王", BUILDING: "李", COMPOUND: "赵", COMMUNITY: "孙", FIXER: "物业小刘",
              OTHER_FIXER: "物业小陈", TENANT: "张阿姨"}
    for uid, name in people.items():
        tg.add_user(uid, name)
        tg.user_sends(uid, uid, "/start")
    tg.add_group(RIGHTS_GROUP, "3号楼业主群", members=list(people))
    await linli.import_org(_rights_org())
    await linli.settle()


async def _file_and_acknowledge(tg: FakeTelegram, linli: BotHarness, text: str,
                                handler: int) -> dict[str, Any]:
    tg.user_sends(TENANT, TENANT, "/report " + text)
    prompt = await tg.wait_for(lambda m: m["chat"]["id"] == handler and "诉求 #1" in m["text"])
    tg.press_button(handler, handler, prompt["message_id"], _button(prompt, "受理"))
    await tg.wait_for(lambda m: m["chat"]["id"] == TENANT and "受理" in m["text"])
    await linli.settle()
    assert (await linli.linli.report_repo.get(1)).owner_id == handler
    return prompt


async def _refused(tg: FakeTelegram, who: int, message: dict[str, Any], data: str) -> str:
    answer = await _answer(tg, tg.press_button(who, who, message["message_id"], data))
    assert answer["show_alert"], answer
    return str(answer["text"])


async def test_a_partner_member_removed_by_reimport_loses_the_report_they_acknowledged(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _rights_world(tg, linli)
    prompt = await _file_and_acknowledge(tg, linli, "电梯坏了，按钮不亮", FIXER)
    report = await linli.linli.report_repo.get(1)
    await linli.import_org(_rights_org(fixers=str(OTHER_FIXER)))
    # their old buttons do nothing, at once
    text = await _refused(tg, FIXER, prompt, f"r:res:1:{report.version}")
    assert "不归您处理" in text, text
    await linli.linli.scheduler.sweep()  # the running bot's next sweep hands it on
    await linli.settle()
    after = await linli.linli.report_repo.get(1)
    assert (after.state, after.owner_id) == ("open", None)
    assert (await linli.linli.reports.handlers(after)) == [OTHER_FIXER]
    fresh = _prompt(tg, OTHER_FIXER, 1)
    tg.press_button(OTHER_FIXER, OTHER_FIXER, fresh["message_id"], _button(fresh, "受理"))
    await linli.settle()
    assert (await linli.linli.report_repo.get(1)).owner_id == OTHER_FIXER
    events = [e.action for e in await linli.linli.report_repo.events(1)]
    assert events == ["filed", "acknowledged", "handed_over", "acknowledged"], events


async def test_a_leader_removed_in_the_org_file_loses_the_report_and_it_climbs(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _rights_world(tg, linli)
    prompt = await _file_and_acknowledge(tg, linli, "楼道里堆满了杂物", GRID)
    report = await linli.linli.report_repo.get(1)
    summary = await linli.import_org(_rights_org(grid_removed=True))
    assert summary.removals() == [f"b3-u1 {GRID} 王邻长"]
    assert not await linli.linli.org_repo.led_nodes(GRID)
    await _refused(tg, GRID, prompt, f"r:res:1:{report.version}")
    await linli.linli.scheduler.sweep()
    await linli.settle()
    after = await linli.linli.report_repo.get(1)
    node = await linli.linli.org_repo.node(after.rung_node_id)
    assert (after.state, after.owner_id, node.key) == ("open", None, "b3")
    _prompt(tg, BUILDING, 1)  # 3号楼's leader is prompted
    events = await linli.linli.report_repo.events(1)
    assert [e.action for e in events][-1] == "handed_over"
    assert events[-1].note == "leader_removed"
    # the reporter learns where it went; 王 keeps no right to see it
    await tg.wait_for(lambda m: m["chat"]["id"] == TENANT and "3号楼" in m["text"])
    tg.user_sends(GRID, GRID, "/status 1")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "不是您的" in m["text"])
    # importing the same file again removes nothing more and changes nothing
    again = await linli.import_org(_rights_org(grid_removed=True))
    assert not again.changed


async def test_remove_leader_with_buttons_hands_their_reports_on(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _rights_world(tg, linli)
    prompt = await _file_and_acknowledge(tg, linli, "楼道墙上贴满了小广告", GRID)
    # a grid leader may not remove the building's leader, not even with forged data
    b3 = await linli.linli.org_repo.node_by_key("b3")
    tg.user_sends(GRID, GRID, "/remove_leader")
    none = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "没有可以移除" in m["text"])
    text = await _refused(tg, GRID, none, f"rl:y:{b3.id}:{BUILDING}")
    assert "只有管理员或上级负责人" in text
    assert await linli.linli.org_repo.led_nodes(BUILDING)

    tg.user_sends(BUILDING, BUILDING, "/remove_leader")
    pick = await tg.wait_for(lambda m: m["chat"]["id"] == BUILDING and "要移除哪一位" in m["text"])
    tg.press_button(BUILDING, BUILDING, pick["message_id"], _button(pick, "王邻长 · 3号楼1单元"))
    await tg.wait_for_call("editMessageText", lambda p: p["chat_id"] == BUILDING
                           and "确定不再让" in p["text"])
    confirm = tg.message(BUILDING, pick["message_id"])
    tg.press_button(BUILDING, BUILDING, pick["message_id"], _button(confirm, "确认移除"))
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "不再担任3号楼1单元的邻长" in m["text"])
    await linli.settle()
    assert not await linli.linli.org_repo.led_nodes(GRID)
    report = await linli.linli.report_repo.get(1)
    node = await linli.linli.org_repo.node(report.rung_node_id)
    assert (report.state, report.owner_id, node.key) == ("open", None, "b3")
    _prompt(tg, BUILDING, 1)
    await _refused(tg, GRID, prompt, f"r:res:1:{report.version}")
    removal = await linli.linli.org_repo.removal(1)
    assert (removal.user_id, removal.source, removal.removed_by) == (GRID, "command", BUILDING)


def test_prune_is_a_dry_run_until_yes(tmp_path: Any) -> None:
    from tests.test_orgfile import EXAMPLE, _cli

    db = database_in(tmp_path)
    assert _cli("org", "import", str(EXAMPLE), db=db).returncode == 0
    example = EXAMPLE.read_text(encoding="utf-8")
    gone = '[[leaders]]\nnode = "sunshine"\nuser_id = 1003\nname = "赵片长"\n'
    assert gone in example
    smaller = tmp_path / "org.toml"
    smaller.write_text(example.replace(gone, ""), encoding="utf-8")

    plain = _cli("org", "import", str(smaller), db=db)  # without --prune: nobody removed
    assert plain.returncode == 0 and "removed" not in plain.stdout, plain.stdout
    dry = _cli("org", "import", str(smaller), "--prune", db=db)
    assert dry.returncode == 0, dry.stderr
    assert "dry run" in dry.stdout and "nothing changed" in dry.stdout
    assert "sunshine 1003 赵片长" in dry.stdout and "--prune --yes" in dry.stdout
    assert "1003" in _cli("org", "export", db=db).stdout  # still a leader
    done = _cli("org", "import", str(smaller), "--prune", "--yes", db=db)
    assert done.returncode == 0, done.stderr
    assert "leaders removed: 1" in done.stdout and "sunshine 1003 赵片长" in done.stdout
    assert "user_id = 1003" not in _cli("org", "export", db=db).stdout
    again = _cli("org", "import", str(smaller), "--prune", db=db)
    assert "leaders removed" not in again.stdout and "to remove" not in again.stdout

    assert query(db, "SELECT user_id, source FROM role_removals") == [(1003, "prune")]
    assert query(db, "SELECT count(*) FROM deadlines WHERE subject = 'role_removal'"
                     " AND state = 'armed'") == [(1,)]
