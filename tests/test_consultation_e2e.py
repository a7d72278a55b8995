"""Consultation end to end: proposals, topic polls, meetings, decisions, results feedback."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sandbox.fakegram import FakeTelegram
from tests.harness import ADMIN, BotHarness
from tests.orgs import harmony, harmony_leaders, node, property_company, resident

FORUM, GROUP, MOON_GROUP = -100500, -100300, -100700
GRID, BUILDING, COMPOUND, COMMUNITY, PROPERTY = 1001, 1002, 1003, 1004, 2001
ZHANG, QIAN, SUN, LI = 3001, 3002, 3003, 3004
OUTSIDER, MOON = 3999, 3500
ORG = (harmony(building_chat=GROUP, compound_chat=FORUM)
       + node("moon", "月亮小区", "compound", "harmony")
       + node("m1", "月亮1号楼", "building", "moon")
       + harmony_leaders(GRID, BUILDING, COMPOUND, COMMUNITY) + property_company(PROPERTY)
       + resident(ZHANG, "b3-u1") + resident(QIAN, "b3-u1") + resident(SUN, "b3")
       + resident(LI, "b3-u1") + resident(MOON, "m1"))
NAMES = {GRID: "王", BUILDING: "李", COMPOUND: "赵", COMMUNITY: "孙", PROPERTY: "物业小刘",
         ZHANG: "张阿姨", QIAN: "钱大爷", SUN: "孙阿姨", LI: "李叔", OUTSIDER: "路人",
         MOON: "月亮居民", ADMIN: "管理员"}


async def world(tg: FakeTelegram, linli: BotHarness) -> None:
    for uid, name in NAMES.items():
        tg.add_user(uid, name)
    tg.add_group(FORUM, "阳光小区议事厅", type="supergroup", is_forum=True,
                 members=list(NAMES), bot_status="administrator")
    tg.add_group(GROUP, "3号楼业主群", members=list(NAMES))
    await linli.import_org(ORG)
    for uid in NAMES:
        tg.user_sends(uid, uid, "/start")
    for uid in NAMES:
        await tg.wait_for(lambda m, uid=uid: m["chat"]["id"] == uid)


def texts(tg: FakeTelegram, chat_id: int) -> list[str]:
    return [m.get("text") or "" for m in tg.sent(chat_id)]


def button(message: dict[str, Any], prefix: str) -> str:
    for row in message["reply_markup"]["inline_keyboard"]:
        for b in row:
            if b["text"].startswith(prefix) or b.get("callback_data", "").startswith(prefix):
                return b["callback_data"]
    raise AssertionError(f"no button {prefix}: {message['reply_markup']}")


async def settle(linli: BotHarness) -> None:
    async with asyncio.timeout(5):
        while not await linli.linli.notifier.idle():
            await asyncio.sleep(0.02)


async def said(tg: FakeTelegram, chat_id: int, fragment: str) -> dict[str, Any]:
    return await tg.wait_for(lambda m: m["chat"]["id"] == chat_id
                             and fragment in (m.get("text") or ""))


async def propose_three(tg: FakeTelegram) -> None:
    tg.user_sends(ZHANG, GROUP, "/propose 楼道里的路灯坏了好久，希望统一更换成声控灯")
    await said(tg, GROUP, "新议题 #1")
    tg.user_sends(QIAN, QIAN, "/propose 小区里能不能多放几张休息的长椅")
    await said(tg, QIAN, "已收到您的议题 #2")
    tg.user_sends(SUN, SUN, "/propose " + "电动车充电桩不够用，晚上排队充电很不方便，" * 6)
    await said(tg, SUN, "已收到您的议题 #3")


async def test_proposals_support_merge_decline(tg: FakeTelegram, linli: BotHarness) -> None:
    await world(tg, linli)
    await propose_three(tg)
    tg.user_sends(LI, LI, "/propose 路灯坏了，楼道太黑")
    await said(tg, LI, "#4")
    tg.user_sends(OUTSIDER, OUTSIDER, "/propose 我也想提")
    await said(tg, OUTSIDER, "请先发送 /join")
    # +1 from a resident, once; the button shows the count
    card = await said(tg, GROUP, "新议题 #1")
    tg.press_button(QIAN, GROUP, card["message_id"], "cp:sup:1")
    tg.press_button(QIAN, GROUP, card["message_id"], "cp:sup:1")
    tg.press_button(OUTSIDER, GROUP, card["message_id"], "cp:sup:1")
    await settle(linli)
    await asyncio.sleep(0.2)
    assert (await linli.linli.consultation_repo.proposal(1)).supporters == 2
    shown = tg.message(GROUP, card["message_id"])
    assert "（2）" in shown["reply_markup"]["inline_keyboard"][0][0]["text"]
    # a resident cannot use /topics; a leader sees who supports what
    tg.user_sends(ZHANG, ZHANG, "/topics")
    await said(tg, ZHANG, "只有楼栋长、片长等负责人")
    tg.user_sends(BUILDING, BUILDING, "/topics")
    listing = await said(tg, BUILDING, "待议议题（4 个）")
    assert "张阿姨、钱大爷" in listing["text"]
    # merge #4 into #1: supports move, the proposer is told
    tg.press_button(BUILDING, BUILDING, listing["message_id"], "cp:mg:4")
    pick = await said(tg, BUILDING, "把议题 #4 合并到哪个议题")
    tg.press_button(BUILDING, BUILDING, pick["message_id"], button(pick, "cp:mt:4:1"))
    await said(tg, LI, "已合并在一起")
    assert (await linli.linli.consultation_repo.proposal(1)).supporters == 3
    # decline #2 with a reason
    tg.press_button(BUILDING, BUILDING, listing["message_id"], "cp:dc:2")
    await said(tg, BUILDING, "请回复不采纳议题 #2 的理由")
    tg.user_sends(BUILDING, BUILDING, "长椅已列入明年绿化改造计划")
    told = await said(tg, QIAN, "没有被采纳")
    assert "明年绿化改造" in told["text"]
    # forged data changes nothing
    tg.press_button(ZHANG, GROUP, card["message_id"], "cp:mt:3:1")
    await asyncio.sleep(0.3)
    assert (await linli.linli.consultation_repo.proposal(3)).state == "open"


async def open_poll(tg: FakeTelegram, linli: BotHarness) -> dict[str, Any]:
    await propose_three(tg)
    tg.user_sends(LI, LI, "/propose 垃圾分类点的位置不合理")
    await said(tg, LI, "#4")
    tg.user_sends(COMPOUND, FORUM, "/topicpoll 1,3,4 30m")
    return await tg.wait_for(lambda m: m["chat"]["id"] == FORUM and m["method"] == "sendPoll")


async def test_topic_poll_counts_residents_and_closes_once_across_a_restart(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await world(tg, linli)
    message = await open_poll(tg, linli)
    poll = message["poll"]
    assert not poll["is_anonymous"] and poll["allows_multiple_answers"]
    assert all(len(o["text"]) <= 100 for o in poll["options"])
    assert poll["options"][1]["text"].endswith("…")
    intro = await said(tg, FORUM, "恳谈会议题投票 #1")
    assert "电动车充电桩不够用，晚上排队充电很不方便，" * 6 in intro["text"]  # full text above
    await said(tg, COMPOUND, "需要提前结束")
    for _ in range(50):  # the poll id is mapped once Telegram answered
        if await linli.linli.consultation_repo.poll_by_tg(poll["id"]):
            break
        await asyncio.sleep(0.05)
    tg.vote(ZHANG, poll["id"], [0, 2])
    tg.vote(QIAN, poll["id"], [0])
    tg.vote(SUN, poll["id"], [2])
    tg.vote(SUN, poll["id"], [1])  # changed
    tg.vote(LI, poll["id"], [1])
    tg.vote(LI, poll["id"], [])  # retracted
    tg.vote(OUTSIDER, poll["id"], [0, 1, 2])
    tg.vote(MOON, poll["id"], [0])
    await said(tg, OUTSIDER, "没有计入")
    await said(tg, MOON, "只统计 阳光小区 登记居民")
    await settle(linli)
    await linli.restart()  # the closing time is a deadline in the database
    linli.clock.advance(timedelta(minutes=31))
    await linli.linli.scheduler.sweep()
    result = await said(tg, FORUM, "议题投票 #1 结果")
    assert "3 位居民参与" in result["text"]
    lines = result["text"].splitlines()[1:]
    assert lines[0].startswith("1. #1") and lines[0].endswith("2 票")
    assert lines[1].startswith("2. #3") and lines[1].endswith("1 票")
    assert lines[2].startswith("3. #4") and lines[2].endswith("1 票")
    await tg.wait_for_call("stopPoll")
    await linli.restart()
    await linli.linli.scheduler.sweep()
    await settle(linli)
    assert sum("结果" in t for t in texts(tg, FORUM)) == 1
    assert sum(c.method == "stopPoll" for c in tg.calls) == 1
    assert tg.vote(ZHANG, poll["id"], [1]) == []  # closed: no more votes


async def test_topic_poll_bad_input_changes_nothing(tg: FakeTelegram, linli: BotHarness) -> None:
    await world(tg, linli)
    await propose_three(tg)
    tg.user_sends(ZHANG, FORUM, "/topicpoll 1,3 2h")
    await said(tg, FORUM, "只有楼栋长、片长等负责人")
    # a leader's mistakes typed in the group are answered in private
    tg.user_sends(COMPOUND, FORUM, "/topicpoll 1 2h")
    await said(tg, COMPOUND, "您选了 1 个")
    tg.user_sends(COMPOUND, FORUM, "/topicpoll " + ",".join(str(i) for i in range(1, 14)) + " 2h")
    await said(tg, COMPOUND, "您选了 13 个")
    tg.user_sends(COMPOUND, FORUM, "/topicpoll 1,3 2026-11-20 10:00")
    await said(tg, COMPOUND, "已经过去了")
    tg.user_sends(COMPOUND, FORUM, "/topicpoll 1,3 明天吧")
    await said(tg, COMPOUND, "看不懂时间")
    tg.user_sends(COMPOUND, FORUM, "/topicpoll 1,99 2h")
    await said(tg, COMPOUND, "没有找到议题 #99")
    assert not any("没有找到议题" in t for t in texts(tg, FORUM))
    await settle(linli)
    assert not any(c.method == "sendPoll" for c in tg.calls)
    assert await linli.linli.db.fetchval("SELECT count(*) FROM topic_polls") == 0
    assert await linli.linli.db.fetchval(
        "SELECT count(*) FROM proposals WHERE state = 'open'") == 3


async def test_topic_poll_closing_time_in_chinese(tg: FakeTelegram, linli: BotHarness) -> None:
    """「2小时后」 closes the poll two hours from now (10:00 → 12:00), said back with its
    weekday; 「明天25点」 is refused naming the hour, nothing is polled."""
    await world(tg, linli)
    await propose_three(tg)
    tg.user_sends(COMPOUND, FORUM, "/topicpoll 1,2 明天25点")
    refused = await said(tg, COMPOUND, "「25点」不是有效的钟点")  # a leader's mistake: in private
    assert "明天上午9点" in refused["text"]
    assert not any(c.method == "sendPoll" for c in tg.calls)
    tg.user_sends(COMPOUND, FORUM, "/topicpoll 1,2 2小时后")
    await tg.wait_for(lambda m: m["chat"]["id"] == FORUM and m["method"] == "sendPoll")
    await said(tg, COMPOUND, "议题投票 #1 已发出，11月25日（周三）12:00 截止")
    armed = await linli.linli.scheduler.deadlines.armed_for("topic_poll", 1)
    assert len(armed) == 1  # the clock runs on while the test does: within a minute of 2 h
    assert abs(armed[0].due_at - linli.clock.now() - timedelta(hours=2)) < timedelta(minutes=1)


async def poll_closed(tg: FakeTelegram, linli: BotHarness) -> None:
    """Topics #1, #3, #4 polled in the forum; #1 and #4 win; closed by the leader."""
    message = await open_poll(tg, linli)
    poll_id = message["poll"]["id"]
    stop = await said(tg, COMPOUND, "需要提前结束")
    for _ in range(50):
        if await linli.linli.consultation_repo.poll_by_tg(poll_id):
            break
        await asyncio.sleep(0.05)
    tg.vote(ZHANG, poll_id, [0, 2])
    tg.vote(QIAN, poll_id, [0, 2])
    tg.vote(SUN, poll_id, [0])
    await settle(linli)
    await asyncio.sleep(0.2)
    tg.press_button(COMPOUND, COMPOUND, stop["message_id"], button(stop, "cp:stop:"))
    await said(tg, FORUM, "议题投票 #1 结果")


async def schedule_meeting(tg: FakeTelegram, linli: BotHarness) -> dict[str, Any]:
    """The meeting #1 in its own forum topic, with RSVPs; returns the card."""
    await poll_closed(tg, linli)
    tg.user_sends(COMPOUND, FORUM, "/forum 11-26 19:00 | 阳光小区恳谈会 | 小区活动室")
    await said(tg, FORUM, "已安排在 11月26日（周四）19:00")  # echoed with its weekday
    card = await said(tg, FORUM, "恳谈会 #1：阳光小区恳谈会\n")
    topic = await tg.wait_for_call("createForumTopic")
    assert "阳光小区恳谈会" in topic.params["name"]
    assert card.get("message_thread_id")  # posted inside the meeting's topic
    assert "1. 楼道里的路灯坏了好久" in card["text"] and "2. 垃圾分类点" in card["text"]
    assert "长椅" not in card["text"]
    for uid, code in ((ZHANG, "go"), (QIAN, "go"), (SUN, "may"), (LI, "go"), (SUN, "go"),
                      (SUN, "may")):
        tg.press_button(uid, FORUM, card["message_id"], f"cf:{code}:1")
        await asyncio.sleep(0.05)
    await settle(linli)
    await asyncio.sleep(0.3)
    await settle(linli)
    shown = tg.message(FORUM, card["message_id"])
    assert "参加 3 人 · 可能参加 1 人" in shown["text"]
    assert shown["reply_markup"]["inline_keyboard"][0][0]["text"] == "参加（3）"
    return card


async def test_meeting_in_a_forum_topic_with_rsvp_and_reminders(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await world(tg, linli)
    card = await schedule_meeting(tg, linli)
    tg.user_blocks_bot(LI)  # unreachable in private: reminded in the group instead
    linli.clock.advance(timedelta(hours=9, minutes=1))  # 11-25 19:01, a day before
    await linli.linli.scheduler.sweep()
    for uid in (ZHANG, QIAN):
        await said(tg, uid, "提醒：您报名参加的恳谈会 #1")
    mention = await said(tg, FORUM, "提醒：恳谈会 #1")
    assert mention["text"].startswith("李叔") and mention.get("entities")
    assert mention.get("message_thread_id") == card.get("message_thread_id")
    assert not any("提醒" in t for t in texts(tg, SUN))  # "maybe" is not reminded
    linli.clock.advance(timedelta(hours=23))  # 11-26 18:01, an hour before
    await linli.linli.scheduler.sweep()
    await settle(linli)
    assert sum("提醒：您报名参加的恳谈会 #1" in t for t in texts(tg, ZHANG)) == 2


async def test_forum_bad_input(tg: FakeTelegram, linli: BotHarness) -> None:
    await world(tg, linli)
    tg.user_sends(ZHANG, FORUM, "/forum 11-26 19:00 | 恳谈会 | 活动室 | 路灯")
    refusal = await said(tg, FORUM, "只有楼栋长、片长等负责人")
    tg.user_sends(COMPOUND, FORUM, "/forum 2026-11-20 19:00 | 恳谈会 | 活动室 | 路灯")
    await said(tg, COMPOUND, "开会时间 11月20日 19:00 已经过去了")
    tg.user_sends(COMPOUND, FORUM, "/forum 11-26 19:00 | 恳谈会")
    await said(tg, COMPOUND, "用法：/forum")
    tg.user_sends(COMPOUND, FORUM, "/forum 11-26 19:00 | 恳谈会 | 活动室")
    await said(tg, COMPOUND, "还没有议程")
    query = tg.press_button(ZHANG, FORUM, refusal["message_id"], "cf:go:77")  # forged
    for _ in range(50):
        if tg.answers_to(query):
            break
        await asyncio.sleep(0.05)
    assert "没有找到恳谈会 #77" in tg.answers_to(query)["text"]
    await settle(linli)
    assert await linli.linli.db.fetchval("SELECT count(*) FROM meetings") == 0
    assert not any(c.method == "createForumTopic" for c in tg.calls)


async def press_done(tg: FakeTelegram, linli: BotHarness, user_id: int, number: int,
                     note: str) -> None:
    prompt = [m for m in tg.sent(user_id) if m.get("reply_markup")
              and f"cd:done:{number}" in str(m["reply_markup"])][-1]
    tg.press_button(user_id, user_id, prompt["message_id"], f"cd:done:{number}")
    await said(tg, user_id, f"请回复决定 #{number} 的办理情况")
    tg.user_sends(user_id, user_id, note)
    await said(tg, user_id, f"决定 #{number} 已标记完成")


async def test_decisions_followed_up_until_residents_hear_back(
        tg: FakeTelegram, linli: BotHarness) -> None:
    """The issue's whole path: proposals → poll → meeting → decisions → feedback → told."""
    await world(tg, linli)
    await schedule_meeting(tg, linli)
    tg.user_sends(COMPOUND, COMPOUND, "/decide 1\n1 | 更换声控灯 | 阳光物业 | 11-28")
    await said(tg, COMPOUND, "还没开")  # not before the meeting
    linli.clock.advance(timedelta(hours=34))  # 11-26 20:00, the meeting is over
    await linli.linli.scheduler.sweep()
    # bad input: nothing recorded
    tg.user_sends(ZHANG, ZHANG, "/decide 1\n1 | 更换声控灯 | 阳光物业 | 11-28")
    await said(tg, ZHANG, "只有楼栋长、片长等负责人")
    tg.user_sends(COMPOUND, COMPOUND, "/decide 1\n1 | 更换声控灯 |  | 11-28")
    await said(tg, COMPOUND, "第 1 项决定没有写负责人")
    tg.user_sends(COMPOUND, COMPOUND, "/decide 1\n1 | 更换声控灯 | 阳光物业 | 11-28\n"
                                      "2 | 调整垃圾分类点 | 李楼长")
    await said(tg, COMPOUND, "第 2 项决定没有写截止日期")
    tg.user_sends(COMPOUND, COMPOUND, "/decide 1\n1 | 更换声控灯 | 张三 | 11-28")
    await said(tg, COMPOUND, "找不到负责人“张三”")
    await settle(linli)
    assert await linli.linli.db.fetchval("SELECT count(*) FROM decisions") == 0

    tg.user_sends(COMPOUND, COMPOUND, "/decide 1\n1 | 本月内更换楼道声控灯 | 阳光物业 | 11-28\n"
                                      "2 | 调整垃圾分类点位置 | 李楼长 | 11-29")
    await said(tg, COMPOUND, "已记录 2 项决定：#1、#2")
    feedback = await said(tg, FORUM, "恳谈结果反馈 · 恳谈会 #1")
    assert feedback.get("message_thread_id")  # in the meeting's topic
    assert "已办结 0/2 项" in feedback["text"] and "阳光物业" in feedback["text"]
    await said(tg, PROPERTY, "决定 #1：本月内更换楼道声控灯")
    await said(tg, BUILDING, "决定 #2：调整垃圾分类点位置")

    linli.clock.advance(timedelta(hours=22, minutes=1))  # 11-27 18:01: a day before #1 is due
    await linli.linli.scheduler.sweep()
    await said(tg, PROPERTY, "提醒：决定 #1")
    await press_done(tg, linli, PROPERTY, 1, "已全部换成声控灯")
    await settle(linli)
    shown = tg.message(FORUM, feedback["message_id"])
    assert "✅ 已完成：已全部换成声控灯" in shown["text"] and "已办结 1/2 项" in shown["text"]

    linli.clock.advance(timedelta(days=2))  # 11-29 18:01: #2 overdue → escalated to the compound
    await linli.linli.scheduler.sweep()
    await said(tg, BUILDING, "已上报给 阳光小区 督办")
    await said(tg, COMPOUND, "决定 #2「调整垃圾分类点位置」（恳谈会 #1）已超期，转由您督办")
    await settle(linli)
    shown = tg.message(FORUM, feedback["message_id"])
    assert "⚠️ 超期，已上报 阳光小区 督办" in shown["text"]
    assert await linli.linli.db.fetchval(
        "SELECT rung_node_id FROM decisions WHERE id = 2") == (
        await linli.linli.org_repo.node_by_key("sunshine")).id

    # a resident cannot mark it done (forged press), the compound chief can
    prompt = [m for m in tg.sent(COMPOUND) if "cd:done:2" in str(m.get("reply_markup"))][-1]
    query = tg.press_button(COMPOUND, COMPOUND, prompt["message_id"], "cd:done:1")
    await asyncio.sleep(0.3)
    assert "已经办结" in (tg.answers_to(query) or {}).get("text", "")
    await press_done(tg, linli, COMPOUND, 2, "垃圾分类点已移到东门")
    for uid in (ZHANG, QIAN, LI):  # proposers of the agenda topics, and those who went
        told = await said(tg, uid, "商定的事都办完了")
        assert "垃圾分类点已移到东门" in told["text"]
    await settle(linli)
    assert not any("都办完了" in t for t in texts(tg, SUN))  # "maybe", not a proposer of these
    final = tg.message(FORUM, feedback["message_id"])
    assert "全部 2 项决定都已办结" in final["text"]
    assert sum("恳谈结果反馈" in t for t in texts(tg, FORUM)) == 1  # one post, edited


async def test_topic_poll_from_private_names_the_group(tg: FakeTelegram, linli: BotHarness) -> None:
    await world(tg, linli)
    await propose_three(tg)
    tg.user_sends(COMPOUND, COMPOUND, "/topicpoll 1,3 2h")
    refusal = await said(tg, COMPOUND, "多个居民群")
    assert "b3、sunshine" in refusal["text"]
    tg.user_sends(BUILDING, BUILDING, "/topicpoll 1,3 2h sunshine")
    await said(tg, BUILDING, "不在您负责的范围内")  # the compound's group is above him
    tg.user_sends(BUILDING, BUILDING, "/topicpoll #1 #3 2h b3")
    message = await tg.wait_for(lambda m: m["method"] == "sendPoll")
    assert message["chat"]["id"] == GROUP
    await said(tg, BUILDING, "议题投票 #1 已发出")


async def test_overdue_follow_ups_climb_from_a_partner_and_stop_at_the_top(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await world(tg, linli)
    card = await schedule_meeting(tg, linli)
    linli.clock.advance(timedelta(hours=34))  # after the meeting: the card has no buttons
    await linli.linli.scheduler.sweep()
    await settle(linli)
    assert not tg.message(FORUM, card["message_id"]).get("reply_markup")
    tg.user_sends(COMPOUND, COMPOUND,
                  "/decide 1\n1 | 换灯 | 阳光物业 | 11-27\n2 | 挪垃圾点 | 孙书记 | 11-27")
    await said(tg, COMPOUND, "已记录 2 项决定")
    await said(tg, COMMUNITY, "决定 #2：挪垃圾点")
    prompt = await said(tg, PROPERTY, "决定 #1：换灯")
    query = tg.press_button(PROPERTY, PROPERTY, prompt["message_id"], "cd:done:2")  # not his
    for _ in range(50):
        if tg.answers_to(query):
            break
        await asyncio.sleep(0.05)
    assert "只有这项决定的负责人" in tg.answers_to(query)["text"]
    linli.clock.advance(timedelta(days=1))  # 11-27 20:00: both overdue
    await linli.linli.scheduler.sweep()
    # the partner hands over to the first leader above it, 赵片长 of 阳光小区
    await said(tg, COMPOUND, "决定 #1「换灯」（恳谈会 #1）已超期，转由您督办")
    await said(tg, PROPERTY, "已上报给 阳光小区 督办")
    # the community is the top: flagged 超期, reminded, goes nowhere
    await said(tg, COMMUNITY, "决定 #2「挪垃圾点」（恳谈会 #1）已超期，请尽快督办")
    assert await linli.linli.db.fetchval("SELECT overdue FROM decisions WHERE id = 2") == 1
    feedback = await said(tg, FORUM, "恳谈结果反馈")
    await settle(linli)
    shown = tg.message(FORUM, feedback["message_id"])["text"]
    assert "⚠️ 超期，已上报 阳光小区 督办" in shown and "— ⚠️ 超期\n" in shown + "\n"
    linli.clock.advance(timedelta(days=1, minutes=1))  # a day later: reminded again
    await linli.linli.scheduler.sweep()
    await settle(linli)
    assert sum("请尽快督办" in t for t in texts(tg, COMMUNITY)) == 2


async def test_meeting_card_goes_to_the_chat_when_no_topic_can_be_opened(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await world(tg, linli)
    tg.chats[FORUM].bot_status = "member"  # not an admin: Telegram refuses to open topics
    tg.user_sends(COMPOUND, FORUM, "/forum 11-26 19:00 | 临时恳谈会 | 活动室 | 路灯；垃圾点")
    card = await said(tg, FORUM, "恳谈会 #1：临时恳谈会")
    assert not card.get("message_thread_id")
    assert "1. 路灯" in card["text"] and "2. 垃圾点" in card["text"]
    assert await linli.linli.db.fetchval("SELECT thread_id FROM meetings WHERE id = 1") is None
