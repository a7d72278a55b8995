"""Care visits end to end: the list, a visit due, reminded, checked in; another overdue
and escalated; residents and other buildings' leaders refused."""

from __future__ import annotations

from datetime import timedelta

from sandbox.fakegram import FakeTelegram
from tests.consent import care_agreed
from tests.harness import BotHarness
from tests.services_world import (
    BUILDING,
    ELDER,
    GRID,
    GRID4,
    GROUP,
    RESIDENT,
    answer_of,
    button,
    settle,
    texts,
    world,
)


async def test_care_visit_due_reminded_checked_in_then_overdue_escalated(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await world(tg, linli)
    tg.user_sends(GRID, GRID, "/care_add 3002 独居老人 P7D 腿脚不便")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "登记到关爱名单 #1" in m["text"]
                      and "刘奶奶（3号楼1单元 1-301）" in m["text"])
    await care_agreed(tg, GRID, 1)
    tg.user_sends(GRID, GRID, "/care_add 3001 low_income P14D")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "关爱名单 #2" in m["text"])
    await care_agreed(tg, GRID, 2)
    tg.user_sends(BUILDING, BUILDING, "/care")
    listed = await tg.wait_for(lambda m: m["chat"]["id"] == BUILDING and "关爱名单" in m["text"])
    assert "刘奶奶" in listed["text"] and "每 7 天" in listed["text"]

    # seven days on: the grid leader is reminded, with a button
    linli.clock.advance(timedelta(days=7, minutes=1))
    await linli.linli.scheduler.sweep()
    reminder = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "走访提醒 #1" in m["text"])
    assert "刘奶奶" in reminder["text"] and "腿脚不便" in reminder["text"]
    assert not any("走访提醒" in x for x in texts(tg, BUILDING))
    # a leader of another building forging the button is refused
    welcome = tg.sent(GRID4)[0]
    forged = tg.press_button(GRID4, GRID4, welcome["message_id"], "cv:in:1")
    assert "不在您负责的范围内" in await answer_of(tg, forged)

    tg.press_button(GRID, GRID, reminder["message_id"], button(reminder, "已走访 登记"))
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "请简单写一下走访 #1" in m["text"])
    tg.user_sends(GRID, GRID, "身体不错，冰箱里有菜")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "走访 #1 已登记" in m["text"])
    await settle(linli)
    assert "已由 王 完成登记" in tg.message(GRID, reminder["message_id"])["text"]
    visit = await linli.linli.care.repo.visit(1)
    assert visit.state == "done" and visit.note == "身体不错，冰箱里有菜"
    # checking in twice is refused
    again = tg.press_button(GRID, GRID, reminder["message_id"], "cv:in:1")
    assert "已经登记过了" in await answer_of(tg, again)

    # the second resident's visit falls due, nobody checks in: it climbs to the building
    linli.clock.advance(timedelta(days=7))
    await linli.linli.scheduler.sweep()
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "走访提醒" in m["text"]
                      and "张阿姨" in m["text"])
    second = (await linli.linli.care.repo.open_visits_of(2))[0]
    linli.clock.advance(timedelta(days=1, minutes=1))
    await linli.linli.scheduler.sweep()
    escalated = await tg.wait_for(lambda m: m["chat"]["id"] == BUILDING
                                  and f"走访超期 #{second.id}" in m["text"])
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and f"走访 #{second.id} 超期未登记"
                      in m["text"])
    tg.press_button(BUILDING, BUILDING, escalated["message_id"], button(escalated, "已走访 登记"))
    await tg.wait_for(lambda m: m["chat"]["id"] == BUILDING and "请简单写一下" in m["text"])
    tg.user_sends(BUILDING, BUILDING, "已上门，低保材料已帮忙递交")
    await tg.wait_for(lambda m: m["chat"]["id"] == BUILDING and "已登记" in m["text"])
    assert (await linli.linli.care.repo.visit(second.id)).escalations == 1


async def test_care_data_refused_to_residents_groups_and_other_buildings(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await world(tg, linli)
    tg.user_sends(GRID, GRID, "/care_add 3002 独居老人 P7D")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "关爱名单 #1" in m["text"])
    tg.user_sends(RESIDENT, RESIDENT, "/care")
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "只对负责人开放" in m["text"])
    tg.user_sends(ELDER, ELDER, "/care_add 3001 独居老人 P7D")
    await tg.wait_for(lambda m: m["chat"]["id"] == ELDER and "只对负责人开放" in m["text"])
    tg.user_sends(GRID4, GRID4, "/care")
    mine = await tg.wait_for(lambda m: m["chat"]["id"] == GRID4 and "关爱对象" in m["text"])
    assert "刘奶奶" not in mine["text"]
    tg.user_sends(GRID4, GRID4, "/care_add 3002 残疾人 P7D")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID4 and "不在您负责的范围内" in m["text"])
    tg.user_sends(GRID4, GRID4, "/care_remove 1")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID4 and "不在您负责的范围内"
                      in m["text"] and m["message_id"] != mine["message_id"])
    tg.user_sends(GRID, GROUP, "/care")
    await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and "私聊" in m["text"])
    tg.user_sends(GRID, GRID, "/care_add 3002 old P7D")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "用法：/care_add" in m["text"])
    tg.user_sends(GRID, GRID, "/care_add 3002 残疾人 PT1H")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "至少一天" in m["text"])
    await settle(linli)
    assert not any("刘奶奶" in x for x in texts(tg, GROUP))
    entries = await linli.linli.care.repo.entries_in(
        [n.id for n in await linli.linli.org_repo.all_nodes()])
    assert [(e.user_id, e.kind) for e in entries] == [(ELDER, "elderly_alone")]


async def test_a_visit_that_fell_due_while_stopped_is_reminded_once_after_restart(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await world(tg, linli)
    tg.user_sends(GRID, GRID, "/care_add 3002 elderly_alone P7D")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "关爱名单 #1" in m["text"])
    await care_agreed(tg, GRID, 1)
    await linli.stop()
    linli.clock.advance(timedelta(days=7, hours=1))
    await linli.start()
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "走访提醒 #1" in m["text"])
    await linli.restart()
    await linli.linli.scheduler.sweep()
    await settle(linli)
    assert sum("走访提醒" in x for x in texts(tg, GRID)) == 1
    assert sum("走访" in x for x in texts(tg, BUILDING)) == 0  # not overdue yet


async def test_a_pasted_list_is_added_whole_or_not_at_all(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await world(tg, linli)
    tg.user_sends(BUILDING, BUILDING, "/care_add 3002 独居老人 P7D 腿脚不便\n3001 低收入 P30D\n"
                                      "3004 残疾人 P7D")  # the last one does not live here
    await tg.wait_for(lambda m: m["chat"]["id"] == BUILDING and "第 3 行" in m["text"]
                      and "整批都没有登记" in m["text"])
    assert await linli.linli.care.repo.entries_in(
        [n.id for n in await linli.linli.org_repo.all_nodes()]) == []
    tg.user_sends(BUILDING, BUILDING, "/care_add 3002 独居老人 P7D 腿脚不便\n3001 低收入 P30D")
    await tg.wait_for(lambda m: m["chat"]["id"] == BUILDING and "已登记 2 位" in m["text"])
    entries = await linli.linli.care.repo.entries_in(
        [n.id for n in await linli.linli.org_repo.all_nodes()])
    assert sorted((e.user_id, e.kind, e.cadence.days) for e in entries) == [
        (RESIDENT, "low_income", 30), (ELDER, "elderly_alone", 7)]


async def test_cadence_in_chinese(tg: FakeTelegram, linli: BotHarness) -> None:
    """「每两周」 is every 14 days, 「每周」 every 7; 「常常」 is refused naming itself."""
    await world(tg, linli)
    tg.user_sends(GRID, GRID, "/care_add 3002 独居老人 每两周 腿脚不便")
    said = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "关爱名单 #1" in m["text"])
    assert "每 14 天走访一次" in said["text"]
    tg.user_sends(GRID, GRID, "/care_add 3001 低收入 常常")
    refused = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "「常常」" in m["text"])
    assert "每周" in refused["text"]
    entries = await linli.linli.care.repo.entries_in(
        [n.id for n in await linli.linli.org_repo.all_nodes()])
    assert [(e.user_id, e.cadence) for e in entries] == [(ELDER, timedelta(days=14))]
