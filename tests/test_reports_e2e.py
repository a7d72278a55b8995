"""Reports end to end: filing, the leader chain, deadlines, ratings, refusals."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sandbox.fakegram import FakeTelegram
from tests.consent import agree
from tests.harness import ADMIN, BotHarness
from tests.orgs import harmony, harmony_leaders, property_company, resident

GROUP = -100300
GRID, BUILDING, COMPOUND, COMMUNITY, PROPERTY = 1001, 1002, 1003, 1004, 2001
RESIDENT, NEIGHBOUR = 3001, 3002
ORG = (harmony(building_chat=GROUP) + harmony_leaders(GRID, BUILDING, COMPOUND, COMMUNITY)
       + property_company(PROPERTY) + resident(RESIDENT, "b3-u1", "1-502")
       + resident(NEIGHBOUR, "b3-u1"))


async def _world(tg: FakeTelegram, linli: BotHarness, started: tuple[int, ...] = (
        GRID, BUILDING, COMPOUND, COMMUNITY, PROPERTY, RESIDENT, NEIGHBOUR)) -> None:
    names = {GRID: "王", BUILDING: "李", COMPOUND: "赵", COMMUNITY: "孙", PROPERTY: "物业小刘",
             RESIDENT: "张阿姨", NEIGHBOUR: "钱大爷", ADMIN: "管理员"}
    for uid, name in names.items():
        tg.add_user(uid, name)
    tg.add_group(GROUP, "3号楼业主群", members=list(names))
    await linli.import_org(ORG)
    for uid in started:
        tg.user_sends(uid, uid, "/start")
    for uid in started:
        await tg.wait_for(lambda m, uid=uid: m["chat"]["id"] == uid)


def _prompt(tg: FakeTelegram, leader: int, number: int) -> dict[str, Any]:
    prompts = [m for m in tg.sent(leader)
               if f"诉求 #{number}" in (m.get("text") or "") and m.get("reply_markup")]
    assert prompts, tg.describe_sent()
    return prompts[-1]


def _button(message: dict[str, Any], label: str) -> str:
    for row in message["reply_markup"]["inline_keyboard"]:
        for button in row:
            if button["text"] == label:
                return button["callback_data"]
    raise AssertionError(f"no button {label}: {message['reply_markup']}")


async def _events(linli: BotHarness, number: int) -> list[str]:
    return [e.action for e in await linli.linli.report_repo.events(number)]


async def _state(linli: BotHarness, number: int) -> tuple[str, str]:
    report = await linli.linli.report_repo.get(number)
    node = await linli.linli.org_repo.node(report.rung_node_id)
    return report.state, node.key


async def _settle(linli: BotHarness) -> None:
    async with asyncio.timeout(5):
        while not await linli.linli.notifier.idle():
            await asyncio.sleep(0.02)


async def test_group_report_acknowledged_resolved_rated(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    tg.user_sends(RESIDENT, GROUP, "/report 3号楼1单元楼道里堆满了杂物，老人走路不方便")
    said = await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and "#1" in m["text"])
    # the group learns the number only
    assert "杂物" not in said["text"] and "张阿姨" not in said["text"]
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "已收到您的诉求 #1" in m["text"])
    prompt = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #1" in m["text"])
    for detail in ("张阿姨", "1-502", "堆满了杂物", "其他", "受理截止"):
        assert detail in prompt["text"], detail

    tg.press_button(GRID, GRID, prompt["message_id"], _button(prompt, "受理"))
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "已由邻长王邻长受理" in m["text"])
    assert await _state(linli, 1) == ("acknowledged", "b3-u1")
    await tg.wait_for_call("editMessageText", lambda p: p["chat_id"] == GRID
                           and "处理中" in p["text"])
    card = tg.message(GRID, prompt["message_id"])
    tg.press_button(GRID, GRID, prompt["message_id"], _button(card, "办结"))
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "办结说明" in m["text"])
    tg.user_sends(GRID, GRID, "已清理干净")
    rate = await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "已清理干净" in m["text"])
    tg.press_button(RESIDENT, RESIDENT, rate["message_id"], _button(rate, "满意"))
    await tg.wait_for_call("editMessageText", lambda p: p["chat_id"] == RESIDENT
                           and "感谢" in p["text"])
    report = await linli.linli.report_repo.get(1)
    assert (report.state, report.rating, report.resolution) == ("closed", "satisfied", "已清理干净")
    assert await _events(linli, 1) == ["filed", "acknowledged", "resolved", "rated"]

    tg.user_sends(RESIDENT, RESIDENT, "/status 1")
    history = await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "处理记录" in m["text"])
    assert "王邻长 受理" in history["text"] and "满意" in history["text"]
    # someone else learns nothing, not even whether #1 exists
    tg.user_sends(NEIGHBOUR, NEIGHBOUR, "/status 1")
    tg.user_sends(NEIGHBOUR, NEIGHBOUR, "/status 99")
    await tg.wait_for(lambda m: m["chat"]["id"] == NEIGHBOUR and "#99" in m["text"])
    await tg.wait_for(lambda m: m["chat"]["id"] == NEIGHBOUR and "#1 " in m["text"])
    answers = sorted(m["text"] for m in tg.sent(NEIGHBOUR) if "不是您的" in m["text"])
    assert answers == ["诉求 #1 不是您的，或者您没有查看权限。",
                       "诉求 #99 不是您的，或者您没有查看权限。"]


async def test_repair_goes_to_the_property_company_then_to_the_grid(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    tg.user_sends(RESIDENT, RESIDENT, "/report 电梯坏了，困在楼下")
    await tg.wait_for(lambda m: m["chat"]["id"] == PROPERTY and "诉求 #1" in m["text"])
    assert not [m for m in tg.sent(GRID) if "#1" in (m.get("text") or "")]
    report = await linli.linli.report_repo.get(1)
    assert report.category == "repair" and report.partner_id is not None
    # the partner misses its acknowledge deadline: the grid leader takes over
    linli.clock.advance(timedelta(hours=2, seconds=1))
    assert await linli.linli.scheduler.sweep() == 1
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #1" in m["text"])
    await tg.wait_for(lambda m: m["chat"]["id"] == PROPERTY and "超时" in m["text"])
    assert await _state(linli, 1) == ("open", "b3-u1")


async def test_missed_deadlines_climb_to_the_community_and_stop(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    tg.user_sends(RESIDENT, RESIDENT, "/report 小区门口有人乱扔垃圾")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #1" in m["text"])
    climb = [("PT2H", "b3", BUILDING), ("PT4H", "sunshine", COMPOUND),
             ("PT8H", "harmony", COMMUNITY)]
    for hours, (_, key, leader) in zip((2, 4, 8), climb, strict=True):
        linli.clock.advance(timedelta(hours=hours, seconds=1))
        assert await linli.linli.scheduler.sweep() == 1
        assert await _state(linli, 1) == ("open", key)
        if leader != COMMUNITY:
            await tg.wait_for(lambda m, leader=leader: m["chat"]["id"] == leader
                              and "诉求 #1" in m["text"])
    # it reached the community at midnight: the resident hears at once, the secretary's
    # prompt waits for the end of quiet hours, and so does the acknowledge clock
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "和谐社区" in m["text"])
    await _settle(linli)
    assert not [m for m in tg.sent(COMMUNITY) if "诉求 #1" in m["text"]]
    linli.clock.advance(timedelta(hours=7))
    linli.linli.notifier.kick()
    await tg.wait_for(lambda m: m["chat"]["id"] == COMMUNITY and "诉求 #1" in m["text"])
    # at the top it is never sent further: flagged overdue, and the daily digest reminds
    linli.clock.advance(timedelta(days=1, seconds=1))
    await linli.linli.scheduler.sweep()
    report = await linli.linli.report_repo.get(1)
    assert report.overdue and (await _state(linli, 1)) == ("open", "harmony")
    assert (await _events(linli, 1)).count("escalated") == 3
    linli.clock.advance(timedelta(days=1))
    await linli.linli.scheduler.sweep()
    digest = await tg.wait_for(lambda m: m["chat"]["id"] == COMMUNITY
                               and "超期诉求日报" in m["text"])
    assert "#1" in digest["text"]
    assert (await _events(linli, 1)).count("escalated") == 3


async def test_the_alarm_clock_fires_by_itself(tg: FakeTelegram, tmp_path: Path) -> None:
    """Short configured deadlines, real time: the JobQueue alarm escalates without help."""
    harness = BotHarness(tg, tmp_path, deadlines={"acknowledge": {"grid": 1}},
                         quiet_hours={"start": "00:00", "end": "00:00"})
    await harness.start()
    try:
        await _world(tg, harness)
        tg.user_sends(RESIDENT, RESIDENT, "/report 楼道堆放杂物")
        await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #1" in m["text"])
        await tg.wait_for(lambda m: m["chat"]["id"] == BUILDING and "诉求 #1" in m["text"],
                          timeout=6)
        assert await _state(harness, 1) == ("open", "b3")
    finally:
        await harness.stop()


async def test_a_deadline_passed_while_stopped_fires_once_after_restart(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    tg.user_sends(RESIDENT, RESIDENT, "/report 楼下有积水")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #1" in m["text"])
    await _settle(linli)
    await linli.stop()
    linli.clock.advance(timedelta(hours=30))  # both the grid's deadlines passed meanwhile
    await linli.start()
    await tg.wait_for(lambda m: m["chat"]["id"] == BUILDING and "诉求 #1" in m["text"])
    assert await _state(linli, 1) == ("open", "b3")  # one level, not a cascade
    await linli.restart()
    await asyncio.sleep(0.3)
    assert (await _events(linli, 1)).count("escalated") == 1
    assert len([m for m in tg.sent(BUILDING) if "诉求 #1" in (m.get("text") or "")]) == 1


async def test_wrong_people_and_forged_buttons_change_nothing(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    tg.user_sends(RESIDENT, RESIDENT, "/report 邻居装修太吵")
    prompt = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #1" in m["text"])
    before = await linli.linli.report_repo.get(1)
    ack = _button(prompt, "受理")
    # a resident replays the leader's button in their own chat; forged and unknown ids too
    mine = await tg.wait_for(lambda m: m["chat"]["id"] == NEIGHBOUR)
    for data in (ack, "r:ack:999:1", "r:ack:1:77", "r:res:abc:1", "r:rate:1:s", "r:to:1:1:9"):
        query = tg.press_button(NEIGHBOUR, NEIGHBOUR, mine["message_id"], data)
        await tg.wait_for_call("answerCallbackQuery",
                               lambda p, q=query: p["callback_query_id"] == q)
        assert tg.answers_to(query)["show_alert"], data
    after = await linli.linli.report_repo.get(1)
    assert after == before
    assert await _events(linli, 1) == ["filed"]


async def test_unreachable_leader_is_mentioned_in_the_group(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli, started=(BUILDING, COMPOUND, COMMUNITY, PROPERTY, RESIDENT))
    tg.user_sends(RESIDENT, RESIDENT, "/report 垃圾桶满了没人清理")
    mention = await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and "#1" in m["text"])
    assert "王邻长" in mention["text"] and f"tg://user?id={GRID}" in mention.get("html", "")
    assert "张阿姨" not in mention["text"] and "垃圾" not in mention["text"]
    assert "1-502" not in mention["text"]
    linli.clock.advance(timedelta(hours=2, seconds=1))
    assert await linli.linli.scheduler.sweep() == 1
    await tg.wait_for(lambda m: m["chat"]["id"] == BUILDING and "诉求 #1" in m["text"])


async def test_unsatisfied_twice_escalates(tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    tg.user_sends(RESIDENT, RESIDENT, "/report 绿化带杂草太多")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #1" in m["text"])
    for round_ in (1, 2):
        if round_ == 2:  # the reopened report comes back to the same leader
            await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "重新处理中" in m["text"])
        prompt = _prompt(tg, GRID, 1)
        tg.press_button(GRID, GRID, prompt["message_id"], _button(prompt, "办结"))
        await tg.wait_for(lambda m, r=round_: m["chat"]["id"] == GRID and "办结说明" in m["text"]
                          and len([x for x in tg.sent(GRID) if "办结说明" in x["text"]]) == r)
        tg.user_sends(GRID, GRID, f"第{round_}次处理：已清理")
        rate = await tg.wait_for(lambda m, r=round_: m["chat"]["id"] == RESIDENT
                                 and f"第{r}次处理" in m["text"])
        tg.press_button(RESIDENT, RESIDENT, rate["message_id"], _button(rate, "不满意"))
        if round_ == 1:
            # the rating message itself answers: reopened, and who keeps it
            await tg.wait_for_call("editMessageText", lambda p: p["chat_id"] == RESIDENT
                                   and "已重新打开，继续由邻长处理" in p["text"])
            assert await _state(linli, 1) == ("reopened", "b3-u1")
    await tg.wait_for(lambda m: m["chat"]["id"] == BUILDING and "诉求 #1" in m["text"])
    assert await _state(linli, 1) == ("open", "b3")


@pytest.mark.parametrize("text, reason", [
    ("/report " + "很" * 2001, "太长"),
    ("/status abc", "用法"),
])
async def test_bad_input_is_refused_and_nothing_stored(
        tg: FakeTelegram, linli: BotHarness, text: str, reason: str) -> None:
    await _world(tg, linli)
    tg.user_sends(RESIDENT, RESIDENT, text)
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and reason in m["text"])
    assert await linli.linli.report_repo.get(1) is None


async def test_guided_flow_with_photo_and_cancel(tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    tg.user_sends(RESIDENT, RESIDENT, "/report")
    ask = await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "类别" in m["text"])
    tg.press_button(RESIDENT, RESIDENT, ask["message_id"], _button(ask, "安全隐患"))
    await tg.wait_for_call("editMessageText", lambda p: "描述" in p["text"])
    tg.user_sends(RESIDENT, RESIDENT, photo=True)  # a photo without text is refused
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "文字说明" in m["text"])
    tg.user_sends(RESIDENT, RESIDENT, photo=True, caption="楼道里有电线裸露")
    confirm = await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "请确认" in m["text"])
    assert "照片" in confirm["text"]
    tg.user_sends(RESIDENT, RESIDENT, location=(31.2304, 121.4737))
    confirm = await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT
                                and "附件：照片 · 位置" in m["text"])
    tg.press_button(RESIDENT, RESIDENT, confirm["message_id"], _button(confirm, "提交"))
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "#1" in m["text"])
    report = await linli.linli.report_repo.get(1)
    assert report.category == "safety" and report.photo_file_id and report.latitude == 31.2304
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and m.get("method") == "sendPhoto")
    # a second flow, cancelled: nothing is stored
    tg.user_sends(RESIDENT, RESIDENT, "/report")
    tg.user_sends(RESIDENT, RESIDENT, "/cancel")  # handled in order, even sent at once
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "已取消" in m["text"])
    assert await linli.linli.report_repo.get(2) is None


async def test_unregistered_reporter_keeps_the_draft(tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    tg.add_user(4001, "新住户")
    tg.user_sends(4001, GROUP, "/report 单元门禁坏了")
    await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and "/join" in m["text"])
    assert await linli.linli.report_repo.get(1) is None
    tg.user_sends(4001, GROUP, "/join")
    pick = await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and m.get("reply_markup")
                             and "选择" in m["text"])
    tg.press_button(4001, GROUP, pick["message_id"], _button(pick, "3号楼1单元"))
    await agree(tg, 4001, GROUP)
    # what they wrote stays out of the group: the offer there only asks
    offer = await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and "登记前写的诉求" in m["text"])
    assert "门禁" not in offer["text"]
    tg.press_button(4001, GROUP, offer["message_id"], _button(offer, "提交"))
    await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and "已收到诉求 #1" in m["text"])
    assert (await linli.linli.report_repo.get(1)).text == "单元门禁坏了"
    # they never opened a private chat: the group tells them how to follow it, naming no one
    # with one tap into the private chat: a deep link that shows report #1 on arrival
    hint = await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and "打开和我的私聊" in m["text"]
                             and "#1" in m["text"])
    assert "新住户" not in hint["text"] and "门禁" not in hint["text"]
    [[button]] = hint["reply_markup"]["inline_keyboard"]
    assert button["url"] == f"https://t.me/{tg.bot_user['username']}?start=r1"


async def test_a_migrated_group_keeps_working(tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    new_id = -1001000000300
    tg.migrate_group(GROUP, new_id)
    tg.user_sends(RESIDENT, new_id, "/report 楼顶平台上有很多落叶")
    await tg.wait_for(lambda m: m["chat"]["id"] == new_id and "#1" in m["text"])
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #1" in m["text"])


async def test_two_leaders_first_to_acknowledge_owns_it(
        tg: FakeTelegram, tmp_path: Path) -> None:
    harness = BotHarness(tg, tmp_path)
    await harness.start()
    try:
        second = 1011
        tg.add_user(second, "周")
        await _world(tg, harness)
        await harness.import_org(ORG + f'\n[[leaders]]\nnode = "b3-u1"\nuser_id = {second}\n'
                                       'name = "周邻长"\n')
        tg.user_sends(second, second, "/start")
        await tg.wait_for(lambda m: m["chat"]["id"] == second)
        tg.user_sends(RESIDENT, RESIDENT, "/report 楼道里的自行车挡路")
        first = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #1" in m["text"])
        other = await tg.wait_for(lambda m: m["chat"]["id"] == second and "诉求 #1" in m["text"])
        tg.press_button(GRID, GRID, first["message_id"], _button(first, "受理"))
        await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "受理" in m["text"])
        # the other leader's prompt is updated: no buttons left for them
        await tg.wait_for_call("editMessageText", lambda p: p["chat_id"] == second
                               and "处理中" in p["text"] and not p.get("reply_markup"))
        # a press on the old button answers who has it and changes nothing
        query = tg.press_button(second, second, other["message_id"], _button(other, "受理"))
        await tg.wait_for_call("answerCallbackQuery", lambda p: p["callback_query_id"] == query)
        assert "王邻长" in tg.answers_to(query)["text"]
        report = await harness.linli.report_repo.get(1)
        assert report.owner_id == GRID and report.state == "acknowledged"

        tg.user_sends(GRID, GRID, "/queue")
        queue = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "待我处理" in m["text"])
        assert "#1" in queue["text"] and "自行车" in queue["text"]
        tg.user_sends(RESIDENT, RESIDENT, "/myreports")
        mine = await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "我的诉求" in m["text"])
        assert "#1" in mine["text"] and "处理中" in mine["text"]
    finally:
        await harness.stop()


async def test_no_rating_closes_it_as_unrated(tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    tg.user_sends(RESIDENT, RESIDENT, "/report 健身器材松动")
    prompt = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #1" in m["text"])
    tg.press_button(GRID, GRID, prompt["message_id"], _button(prompt, "办结"))
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "办结说明" in m["text"])
    tg.user_sends(GRID, GRID, "已加固")
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "已加固" in m["text"])
    linli.clock.advance(timedelta(days=3, seconds=1))
    await linli.linli.scheduler.sweep()
    report = await linli.linli.report_repo.get(1)
    assert (report.state, report.rating) == ("closed", "unrated")
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "没有收到您的评价" in m["text"])


async def test_photo_captioned_report_in_the_group(tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    tg.user_sends(RESIDENT, GROUP, photo=True, caption="/report 楼下草坪上有很多烟头")
    said = await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and "#1" in m["text"])
    assert "烟头" not in said["text"]
    report = await linli.linli.report_repo.get(1)
    assert report.photo_file_id and report.text == "楼下草坪上有很多烟头"
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and m.get("method") == "sendPhoto")


async def test_category_change_reroutes_and_top_refuses_escalation(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    tg.user_sends(RESIDENT, RESIDENT, "/report 单元门关不上")
    prompt = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #1" in m["text"])
    tg.press_button(GRID, GRID, prompt["message_id"], _button(prompt, "改类别"))
    pick = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "新的类别" in m["text"])
    tg.press_button(GRID, GRID, pick["message_id"], _button(pick, "设施维修"))
    await tg.wait_for(lambda m: m["chat"]["id"] == PROPERTY and "诉求 #1" in m["text"])
    report = await linli.linli.report_repo.get(1)
    assert report.category == "repair" and report.partner_id is not None
    assert "recategorised" in await _events(linli, 1)
    # an unknown button answers clearly instead of spinning
    query = tg.press_button(GRID, GRID, pick["message_id"], "zz:unknown")
    await tg.wait_for_call("answerCallbackQuery", lambda p: p["callback_query_id"] == query)
    assert tg.answers_to(query)["show_alert"]
    # at the community level 上报 is refused at once, before asking for a reason
    for hours in (2, 2, 4, 8):
        linli.clock.advance(timedelta(hours=hours, seconds=1))
        await linli.linli.scheduler.sweep()
    assert (await _state(linli, 1))[1] == "harmony"
    linli.clock.advance(timedelta(hours=8))  # past quiet hours: the secretary's prompt arrives
    linli.linli.notifier.kick()
    top = await tg.wait_for(lambda m: m["chat"]["id"] == COMMUNITY and "诉求 #1" in m["text"]
                            and m.get("reply_markup"))
    query = tg.press_button(COMMUNITY, COMMUNITY, top["message_id"], _button(top, "上报"))
    await tg.wait_for_call("answerCallbackQuery", lambda p: p["callback_query_id"] == query)
    assert "社区" in tg.answers_to(query)["text"]
