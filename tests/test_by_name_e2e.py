"""Roles and people by name (issue 14, item 2): /invite with a title or none and a node's
name; /care_add by the name the org file gives, and for a resident without Telegram by
name and unit; /volunteer 暂停 / 恢复 / 退出."""

from __future__ import annotations

import re

from sandbox.fakegram import FakeTelegram
from tests.harness import ADMIN, BotHarness
from tests.orgs import _entry, harmony, harmony_leaders

GRID, BUILDING, COMPOUND, COMMUNITY = 1001, 1002, 1003, 1004
ELDER, NEWCOMER, VOLUNTEER = 3002, 4001, 3005
ORG = (harmony() + harmony_leaders(GRID, BUILDING, COMPOUND, COMMUNITY)
       + _entry("residents", [f"user_id = {ELDER}", 'node = "b3-u1"', 'unit = "1-301"',
                              'name = "刘奶奶"'])
       + _entry("residents", [f"user_id = {VOLUNTEER}", 'node = "b3-u1"']))


async def _world(tg: FakeTelegram, linli: BotHarness) -> None:
    # 刘奶奶's Telegram account shows another name: the org file's is the one leaders use
    for uid, name in ((GRID, "王"), (BUILDING, "李"), (ELDER, "Liu"), (NEWCOMER, "新来的"),
                      (VOLUNTEER, "热心人"), (ADMIN, "管理员")):
        tg.add_user(uid, name)
    await linli.import_org(ORG)
    for uid in (GRID, BUILDING, NEWCOMER, VOLUNTEER, ADMIN):
        tg.user_sends(uid, uid, "/start")
        await tg.wait_for(lambda m, uid=uid: m["chat"]["id"] == uid)


async def _said(tg: FakeTelegram, uid: int, text: str, expect: str) -> dict:
    seen = len(tg.sent(uid))
    tg.user_sends(uid, uid, text)
    return await tg.wait_for(lambda m: m["chat"]["id"] == uid and expect in (m["text"] or "")
                             and m in tg.sent(uid)[seen:])


async def test_invite_by_title_and_by_the_nodes_name(tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    link = await _said(tg, ADMIN, "/invite 邻长 b3-u1", "start=inv_")
    assert "3号楼1单元" in link["text"] and "邻长" in link["text"]
    # the role left out: the node's level decides it; the node by its name
    link = await _said(tg, BUILDING, "/invite 3号楼1单元", "start=inv_")
    token = re.search(r"start=(inv_[A-Za-z0-9_-]+)", link["text"]).group(1)
    tg.user_sends(NEWCOMER, NEWCOMER, f"/start {token}")
    await tg.wait_for(lambda m: m["chat"]["id"] == NEWCOMER and "邻长" in m["text"])
    assert NEWCOMER in [ld.user_id for ld in await linli.linli.org_repo.leaders_of(
        (await linli.linli.org_repo.node_by_key("b3-u1")).id)]
    # a title that does not fit the node is refused in words, not keys
    refused = await _said(tg, ADMIN, "/invite 楼栋长 3号楼1单元", "不是")
    assert "邻长" in refused["text"] and "_" not in refused["text"]
    await _said(tg, ADMIN, "/invite 邻长 5号楼", "没有找到")
    invites = await linli.linli.db.fetchval("SELECT count(*) FROM invites")
    assert invites == 2


async def test_care_add_by_name_and_for_a_resident_without_telegram(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    added = await _said(tg, GRID, "/care_add 刘奶奶 独居老人 P7D 腿脚不便", "关爱名单 #1")
    assert "刘奶奶（3号楼1单元 1-301）" in added["text"]
    entry = await linli.linli.care.repo.entry(1)
    assert entry is not None and entry.user_id == ELDER
    # nobody of that name in the area: said so, nothing stored
    await _said(tg, GRID, "/care_add 张三 独居老人 P7D", "没有叫“张三”")
    # without Telegram: name and unit, at the grid leader's node
    added = await _said(tg, GRID, "/care_add 赵爷爷 2-101 残疾人 P14D 坐轮椅", "关爱名单 #2")
    assert "赵爷爷（3号楼1单元 2-101）" in added["text"]
    entry = await linli.linli.care.repo.entry(2)
    assert entry is not None and entry.user_id < 0
    resident = await linli.linli.org_repo.resident(entry.user_id)
    assert resident is not None and (resident.name, resident.unit) == ("赵爷爷", "2-101")
    # the same person again is the same resident, not a second one
    await _said(tg, GRID, "/care_add 赵爷爷 2-101 低收入 P30D", "关爱名单 #3")
    assert (await linli.linli.care.repo.entry(3)).user_id == entry.user_id
    listed = await _said(tg, BUILDING, "/care", "关爱名单")
    assert "刘奶奶" in listed["text"] and "赵爷爷" in listed["text"]
    # and now he is known by name too
    await _said(tg, GRID, "/care_add 赵爷爷 独居老人 P7D", "关爱名单 #4")
    # never exported as a Telegram user in the org file
    from bot.org.orgfile import export_org
    exported = await export_org(linli.linli.db, linli.settings)
    assert "赵爷爷" not in exported and 'name = "刘奶奶"' in exported


async def test_volunteer_pause_resume_leave_in_chinese(tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    await _said(tg, VOLUNTEER, "/volunteer 维修,陪伴 周末", "谢谢您加入")
    await _said(tg, VOLUNTEER, "/volunteer 暂停", "已暂停接单")
    assert (await linli.linli.volunteers.repo.get(VOLUNTEER)).state == "paused"
    await _said(tg, VOLUNTEER, "/volunteer 恢复", "已恢复接单")
    await _said(tg, VOLUNTEER, "/volunteer pause", "已暂停接单")  # English keys still work
    await _said(tg, VOLUNTEER, "/volunteer 退出", "已退出志愿者队伍")
    assert (await linli.linli.volunteers.repo.get(VOLUNTEER)).state == "left"
