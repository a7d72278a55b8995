"""A leader away is covered (issue 14, item 5): the stand-in gets the prompts and the deadline
pings, acts on the reports, and it counts as the absent leader's in /stats; the absent
leader hears what happened when the away period ends."""

from __future__ import annotations

from datetime import timedelta

from sandbox.fakegram import FakeTelegram
from tests.harness import BotHarness
from tests.test_cards_e2e import _press_with_note
from tests.test_reports_e2e import (
    BUILDING,
    COMPOUND,
    GRID,
    GROUP,
    NEIGHBOUR,
    RESIDENT,
    _button,
    _prompt,
    _settle,
    _world,
)


async def test_a_stand_in_covers_an_absent_leader(tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    tg.user_sends(GRID, GRID, "/away 今天 后天 赵片长")
    said = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "外出" in m.get("text", ""))
    assert "11月25日（周三） 至 11月27日（周五）" in said["text"] and "赵片长" in said["text"]
    await tg.wait_for(lambda m: m["chat"]["id"] == COMPOUND and "请您代为处理" in m.get("text", ""))

    tg.user_sends(RESIDENT, RESIDENT, "/report 楼道里有很大的异味")
    tg.user_sends(RESIDENT, RESIDENT, "/report 3号楼门口的垃圾好几天没人清")
    for number in (1, 2):  # the prompts go to the stand-in, not to the leader away
        await tg.wait_for(lambda m, n=number: m["chat"]["id"] == COMPOUND
                          and f"诉求 #{n}" in m.get("text", "") and m.get("reply_markup"))
    await _settle(linli)
    assert not [m for m in tg.sent(GRID) if "诉求 #" in (m.get("text") or "")]

    # the stand-in acts on #2: acknowledged and resolved for the leader away
    prompt = _prompt(tg, COMPOUND, 2)
    tg.press_button(COMPOUND, COMPOUND, prompt["message_id"], _button(prompt, "受理"))
    await tg.wait_for_call("editMessageText", lambda p: p["chat_id"] == COMPOUND
                           and "诉求 #2" in p["text"] and "处理中" in p["text"])
    await _press_with_note(tg, COMPOUND, 2, "办结", "办结说明", "已通知保洁清走")
    rate = await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT
                             and "已通知保洁清走" in m.get("text", ""))
    tg.press_button(RESIDENT, RESIDENT, rate["message_id"], _button(rate, "满意"))
    await tg.wait_for_call("editMessageText", lambda p: p["chat_id"] == RESIDENT
                           and "感谢" in p["text"])
    events = await linli.linli.report_repo.events(2)
    acted = [(e.action, e.actor_id, e.on_behalf_of) for e in events
             if e.action in ("acknowledged", "resolved")]
    assert acted == [("acknowledged", COMPOUND, GRID), ("resolved", COMPOUND, GRID)]

    # #1 lies: its deadline ping (the report moving on for want of acknowledgement)
    # reaches the stand-in too
    linli.clock.advance(timedelta(hours=2, seconds=1))
    assert await linli.linli.scheduler.sweep() >= 1
    await tg.wait_for(lambda m: m["chat"]["id"] == COMPOUND and "#1" in m.get("text", "")
                      and "超时" in m.get("text", "") and not m.get("reply_markup"))
    await tg.wait_for(lambda m: m["chat"]["id"] == BUILDING and "诉求 #1" in m.get("text", ""))
    await _settle(linli)
    assert not [m for m in tg.sent(GRID) if "#1" in (m.get("text") or "")]

    # /stats credits the leader away with what the stand-in did
    tg.user_sends(GRID, GRID, "/stats")
    said = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "考核评价" in m.get("text", ""))
    assert "王邻长（3号楼1单元）：经手 2，受理 1，办结 1" in said["text"]

    # the period ends: the leader hears what was done for them, through the deadline
    linli.clock.advance(timedelta(days=3))
    await linli.linli.scheduler.sweep()
    back = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "欢迎回来" in m.get("text", ""))
    assert "诉求 #2：赵片长 受理、办结" in back["text"]
    assert "#1" not in back["text"]  # nothing was done on #1 for them
    # back: new prompts are theirs again
    tg.user_sends(RESIDENT, RESIDENT, "/report 楼下有人吵架")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #3" in m.get("text", ""))


async def test_away_by_buttons_and_back_early(tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    tg.user_sends(GRID, GRID, "/away")
    shown = await tg.wait_for(lambda m: m["chat"]["id"] == GRID
                              and "没有设置外出" in m.get("text", ""))
    tg.press_button(GRID, GRID, shown["message_id"], _button(shown, "设置外出"))
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "起止日期" in m.get("text", ""))
    tg.user_sends(GRID, GRID, "2月30日")  # refused, naming the part, nothing kept
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "2月30日" in m.get("text", "")
                      and "没有" in m.get("text", ""))
    tg.user_sends(GRID, GRID, "明天 12月3日")
    pick = await tg.wait_for(lambda m: m["chat"]["id"] == GRID
                             and "请选一位代班人" in m.get("text", ""))
    labels = [b["text"] for row in pick["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["李楼长", "赵片长", "孙书记"]  # the same node or above, never below
    # a forged button naming someone who may not stand in changes nothing
    forged = _button(pick, "李楼长").rsplit(":", 1)[0] + f":{RESIDENT}"
    tg.press_button(GRID, GRID, pick["message_id"], forged)
    await tg.wait_for_call("answerCallbackQuery", lambda p: "代班人需要" in p.get("text", ""))
    assert await linli.linli.away.current(GRID) is None
    tg.press_button(GRID, GRID, pick["message_id"], _button(pick, "李楼长"))
    await tg.wait_for_call("editMessageText", lambda p: p["chat_id"] == GRID
                           and "11月26日（周四） 至 12月3日（周四）" in p["text"])
    # not yet begun: today's prompts are still the leader's own
    tg.user_sends(RESIDENT, RESIDENT, "/report 楼道里有人乱贴小广告")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #1" in m.get("text", ""))
    linli.clock.advance(timedelta(days=1))
    tg.user_sends(RESIDENT, RESIDENT, "/report 楼下的绿化带被人占用了")
    await tg.wait_for(lambda m: m["chat"]["id"] == BUILDING and "诉求 #2" in m.get("text", ""))
    # back early, by button: the summary comes at once
    tg.user_sends(GRID, GRID, "/away")
    shown = await tg.wait_for(lambda m: m["chat"]["id"] == GRID
                              and "由 李楼长 代班" in m.get("text", ""))
    tg.press_button(GRID, GRID, shown["message_id"], _button(shown, "结束外出"))
    await tg.wait_for_call("editMessageText", lambda p: p["chat_id"] == GRID
                           and "欢迎回来" in p["text"])
    await linli.linli.scheduler.sweep()
    back = await tg.wait_for(lambda m: m["chat"]["id"] == GRID
                             and "您外出期间" in m.get("text", ""))
    assert "没有需要代班人处理" in back["text"]
    tg.user_sends(RESIDENT, RESIDENT, "/report 想咨询一下居住证明怎么办理")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #3" in m.get("text", ""))


async def test_common_replies_a_saved_one_and_a_proof_photo(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    tg.user_sends(RESIDENT, RESIDENT, "/report 楼道里有很大的异味")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #1" in m.get("text", ""))
    prompt = _prompt(tg, GRID, 1)
    tg.press_button(GRID, GRID, prompt["message_id"], _button(prompt, "办结"))
    asked = await tg.wait_for(lambda m: m["chat"]["id"] == GRID
                              and "常用回复" in m.get("text", ""))
    offered = [b["text"] for row in asked["reply_markup"]["inline_keyboard"] for b in row]
    assert offered == ["已安排保洁清理干净", "已通知物业清运垃圾", "已张贴提示，提醒居民文明投放"]
    # the leader writes their own note on a photo: the photo is the proof
    tg.user_sends(GRID, GRID, photo=True, caption="已把二楼的垃圾袋清走并消毒")
    done = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "存为常用回复" in str(
        m.get("reply_markup")))
    proof = await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "photo" in m)
    assert "诉求 #1 的办结照片" in proof["caption"]
    rate = await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT
                             and "已把二楼的垃圾袋清走并消毒" in m.get("text", ""))
    assert proof["message_id"] < rate["message_id"]  # shown with the rating request
    assert (await linli.linli.report_repo.get(1)).resolution_photo
    tg.press_button(GRID, GRID, done["message_id"], _button(done, "存为常用回复"))
    await tg.wait_for_call("answerCallbackQuery", lambda p: "已存为" in p.get("text", ""))

    # next time, the saved note is offered too; one press resolves with it
    tg.user_sends(RESIDENT, RESIDENT, "/report 垃圾桶旁边很脏")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #2" in m.get("text", ""))
    prompt = _prompt(tg, GRID, 2)
    tg.press_button(GRID, GRID, prompt["message_id"], _button(prompt, "办结"))
    asked = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #2" in m.get(
        "text", "") and "常用回复" in m.get("text", ""))
    tg.press_button(GRID, GRID, asked["message_id"], _button(asked, "已把二楼的垃圾袋清走并消毒"))
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "诉求 #2 已办结" in m.get(
        "text", "") and "已把二楼的垃圾袋清走并消毒" in m.get("text", ""))
    report = await linli.linli.report_repo.get(2)
    assert report.state == "resolved" and report.resolution_photo is None
    # only the leader who wrote a note may save it
    welcome = tg.sent(BUILDING)[0]
    tg.press_button(BUILDING, BUILDING, welcome["message_id"], "r:save:1")
    await tg.wait_for_call("answerCallbackQuery", lambda p: "只能保存" in p.get("text", ""))


async def _file_for(tg: FakeTelegram, who: str, text: str, number: int) -> None:
    tg.user_sends(GRID, GRID, "/report_for")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "为哪位居民代报" in m.get("text", "")
                      and m["message_id"] > _last(tg, GRID, number))
    tg.user_sends(GRID, GRID, who)
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "反映的问题" in m.get("text", "")
                      and m["message_id"] > _last(tg, GRID, number))
    tg.user_sends(GRID, GRID, text)
    confirm = await tg.wait_for(lambda m: m["chat"]["id"] == GRID
                                and "请确认代报内容" in m.get("text", "")
                                and m["message_id"] > _last(tg, GRID, number))
    tg.press_button(GRID, GRID, confirm["message_id"], _button(confirm, "提交"))
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID
                      and f"代报诉求 #{number}" in m.get("text", ""))


def _last(tg: FakeTelegram, chat: int, number: int) -> int:
    """The id of the last message before this filing (its receipt of the one before)."""
    before = [m["message_id"] for m in tg.sent(chat)
              if f"代报诉求 #{number - 1}" in m.get("text", "")]
    return before[-1] if before else 0


async def _resolve_and_call_back(tg: FakeTelegram, number: int, note: str,
                                 outcome: str) -> dict:
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and f"诉求 #{number}" in m.get(
        "text", "") and m.get("reply_markup"))
    await _press_with_note(tg, GRID, number, "办结", "办结说明", note)
    ask = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "请电话回访" in m.get(
        "text", "") and f"诉求 #{number}" in m.get("text", ""))
    labels = [b["text"] for row in ask["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["满意", "基本满意", "不满意", "联系不上"]
    # the resolution's answer names the call-back, not a resident asked to rate
    done = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and f"诉求 #{number} 已办结"
                             in m.get("text", "") and "存为常用回复" in str(m.get("reply_markup")))
    assert "电话回访" in done["text"] and "已通知居民评价" not in done["text"]
    tg.press_button(GRID, GRID, ask["message_id"], _button(ask, outcome))
    await tg.wait_for_call("editMessageText", lambda p: p["chat_id"] == GRID
                           and f"已记录诉求 #{number} 的回访结果" in p["text"])
    return ask


async def test_a_report_filed_for_a_resident_without_telegram(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    await _file_for(tg, "刘奶奶 1-302", "楼道里的扶手松了，怕摔倒", 1)
    # the chain runs like any report: the grid leader first
    card = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "📋" in m.get("text", "")
                             and "诉求 #1" in m.get("text", "") and m.get("reply_markup"))
    assert "刘奶奶" in card["text"] and "扶手松了" in card["text"]
    ask = await _resolve_and_call_back(tg, 1, "已请师傅加固扶手", "满意")
    assert "刘奶奶（1-302）" in ask["text"] and "已请师傅加固扶手" in ask["text"]
    report = await linli.linli.report_repo.get(1)
    assert report.reporter_id < 0 and report.filed_by == GRID
    assert (report.state, report.rating) == ("closed", "satisfied")

    # by phone number, and the call-back finds nobody: closed, not rated
    await _file_for(tg, "138-0000-1111", "家门口的台阶有人堆了杂物", 2)
    await _resolve_and_call_back(tg, 2, "杂物已清走", "联系不上")
    report = await linli.linli.report_repo.get(2)
    assert (report.state, report.rating) == ("closed", "unrated")
    resident = await linli.linli.org_repo.resident(report.reporter_id)
    assert resident.phone == "13800001111" and resident.offline
    # nothing was ever sent to a resident without Telegram
    assert not [m for m in tg.sent() if -1000 < m["chat"]["id"] < 0]

    tg.user_sends(GRID, GRID, "/stats")
    said = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "考核评价" in m.get(
        "text", ""))
    assert "电话回访（代报）：2" in said["text"] and "回访联系不上：1" in said["text"]
    assert "满意率：100.0%" in said["text"]  # 联系不上 is not a rating


async def test_care_add_by_reply_and_by_button(tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    said = tg.user_sends(RESIDENT, GROUP, "今天腿有点疼，没下楼")
    replied_to = said["message"]["message_id"]
    tg.user_sends(GRID, GROUP, "/care_add 独居老人 P7D", reply_to_message_id=replied_to)
    added = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "登记到关爱名单" in m.get(
        "text", ""))
    assert "张阿姨" in added["text"]
    await _settle(linli)
    assert not [m for m in tg.sent(GROUP) if "关爱" in m.get("text", "")]  # never in the group

    tg.user_sends(GRID, GRID, "/care_add 独居老人 P7D")
    pick = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "请选择要加入关爱名单" in m.get(
        "text", ""))
    labels = [b["text"] for row in pick["reply_markup"]["inline_keyboard"] for b in row]
    assert "张阿姨（1-502）" in labels and "钱大爷" in labels
    tg.press_button(GRID, GRID, pick["message_id"], _button(pick, "钱大爷"))
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "钱大爷" in m.get("text", "")
                      and "登记到关爱名单" in m.get("text", ""))
    entries = await linli.linli.care.visible_entries(GRID)
    assert sorted(e.user_id for e in entries) == [RESIDENT, NEIGHBOUR]
    # a forged pick of someone outside the leader's area changes nothing
    tg.press_button(GRID, GRID, pick["message_id"], f"ca:p:{COMPOUND}:elderly_alone:P7D")
    await tg.wait_for_call("answerCallbackQuery", lambda p: p.get("show_alert"))
    assert len(await linli.linli.care.visible_entries(GRID)) == 2


async def test_a_stand_in_who_stops_being_a_leader_covers_nobody(
        tg: FakeTelegram, linli: BotHarness) -> None:
    """Rights end with the role (after the merge with main's priv): the stand-in removed by
    the org file neither gets the prompts nor may act; the leader away gets them again."""
    from tests.test_reports_e2e import ORG

    await _world(tg, linli)
    tg.user_sends(GRID, GRID, "/away 今天 后天 赵片长")
    await tg.wait_for(lambda m: m["chat"]["id"] == COMPOUND and "请您代为处理" in m.get("text", ""))
    removed = ORG.replace(f'user_id = {COMPOUND}\nname = "赵片长"',
                          f'user_id = {COMPOUND}\nname = "赵片长"\nremoved = true')
    assert "removed = true" in removed
    await linli.import_org(removed)
    await _settle(linli)
    tg.user_sends(RESIDENT, RESIDENT, "/report 楼道里有很大的异味")
    prompt = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #1" in m.get(
        "text", "") and m.get("reply_markup"))
    await _settle(linli)
    assert not [m for m in tg.sent(COMPOUND) if "诉求 #1" in (m.get("text") or "")]
    report = await linli.linli.report_repo.get(1)
    assert not await linli.linli.reports.may_handle(COMPOUND, report)
    tg.press_button(GRID, GRID, prompt["message_id"], _button(prompt, "受理"))
    await tg.wait_for_call("editMessageText", lambda p: p["chat_id"] == GRID
                           and "诉求 #1" in p["text"] and "处理中" in p["text"])
    events = await linli.linli.report_repo.events(1)
    assert [(e.actor_id, e.on_behalf_of) for e in events if e.action == "acknowledged"] == [
        (GRID, None)]
