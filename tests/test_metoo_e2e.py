"""我也遇到 ("me too"): the same problem reported twice becomes one report with supporters,
and a leader merges duplicates; nobody learns who the other residents are."""

from __future__ import annotations

from typing import Any

from sandbox.fakegram import FakeTelegram
from tests.harness import BotHarness
from tests.test_plaintext_e2e import (
    BUILDING,
    GRID,
    QIAN,
    SUN,
    ZHANG,
    _count,
    _last,
    _press,
    _say,
    _world,
)
from tests.test_reports_e2e import _button

ZHANG_SECRETS = ("张阿姨", "1-502", "3号楼1单元（")  # her name, her unit, her place on the card


def _prompt(tg: FakeTelegram, leader: int, number: int) -> dict[str, Any]:
    prompts = [m for m in tg.sent(leader)
               if f"诉求 #{number}" in (m.get("text") or "") and m.get("reply_markup")]
    assert prompts, tg.describe_sent()
    current = tg.message(leader, prompts[-1]["message_id"])
    assert current is not None
    return current


def _everything_to(tg: FakeTelegram, chat: int) -> list[str]:
    """Every text the bot showed this chat: sends, edits and button alerts alike."""
    said = []
    for call in tg.calls:
        if call.params.get("chat_id") == chat or (
                call.method == "answerCallbackQuery" and call.params.get("text")):
            said.append(" ".join(str(call.params.get(k)) for k in ("text", "caption")
                                 if call.params.get(k)))
    return said


async def _file_lift(tg: FakeTelegram, linli: BotHarness) -> None:
    offer = await _say(tg, linli, ZHANG, "电梯坏了，困在楼下上不去")
    await _press(tg, linli, ZHANG, offer, "提交")
    assert _last(tg, ZHANG)["text"].startswith("已收到您的诉求 #1")


async def test_two_residents_one_lift_one_report_with_one_supporter(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    await _file_lift(tg, linli)
    # 钱大爷 lives in the other grid of the same building
    offer = await _say(tg, linli, QIAN, "3号楼电梯又坏了，老人上不去楼")
    same = await _press(tg, linli, QIAN, offer, "提交")
    assert same["text"].startswith("这件事可能已经有邻居反映过了：")
    assert "#1 · 设施维修" in same["text"] and "「电梯坏了，困在楼下上不去」" in same["text"]
    joined = await _press(tg, linli, QIAN, same, "我也遇到（不再重复提交）")
    assert joined["text"].startswith("已记下：您也遇到了诉求 #1 的问题")
    assert await _count(linli) == 1
    report = await linli.linli.report_repo.get(1)
    assert report.supporters == 1
    assert [s.user_id for s in await linli.linli.report_repo.supporters(1)] == [QIAN]
    card = _prompt(tg, GRID, 1)
    assert "另有 1 位居民反映了同一问题" in card["text"]

    # acknowledged, resolved: both are told, both asked to rate
    tg.press_button(GRID, GRID, card["message_id"], _button(card, "受理"))
    await linli.settle()
    for uid in (ZHANG, QIAN):
        assert "已由邻长王邻长受理" in _last(tg, uid)["text"], uid
    assert _last(tg, QIAN)["text"].startswith("您反映的诉求 #1")  # not "your report"
    assert _last(tg, ZHANG)["text"].startswith("您的诉求 #1")
    card = _prompt(tg, GRID, 1)
    tg.press_button(GRID, GRID, card["message_id"], _button(card, "办结"))
    await linli.settle()
    tg.user_sends(GRID, GRID, "已请电梯公司修好")
    await linli.settle()
    asks = {uid: _last(tg, uid) for uid in (ZHANG, QIAN)}
    for uid, ask in asks.items():
        assert "已办结：已请电梯公司修好" in ask["text"] and ask.get("reply_markup"), uid
    # the supporter's rating is his own; the reporter's closes the report
    await _press(tg, linli, QIAN, asks[QIAN], "基本满意")
    assert (await linli.linli.report_repo.get(1)).state == "resolved"
    assert [s.rating for s in await linli.linli.report_repo.supporters(1)] == ["acceptable"]
    await _press(tg, linli, ZHANG, asks[ZHANG], "满意")
    assert (await linli.linli.report_repo.get(1)).state == "closed"
    assert "诉求 #1 已结束，谢谢您的反馈。" in _last(tg, QIAN)["text"]

    # /status for the supporter: the state and steps, nobody's name but the leader's
    status = await _say(tg, linli, QIAN, "/status 1")
    assert "另有 1 位居民反映了同一问题" in status["text"] and "王邻长 受理" in status["text"]
    assert "一位居民 提交" in status["text"]
    reporter_view = await _say(tg, linli, ZHANG, "/status 1")
    assert "另有 1 位居民反映了同一问题" in reporter_view["text"]
    assert "钱大爷" not in reporter_view["text"] and "一位居民 我也遇到" in reporter_view["text"]
    mine = await _say(tg, linli, QIAN, "/myreports")
    assert "#1 设施维修 · 已结束 · 我也遇到" in mine["text"]

    # the second resident never saw the first's name, unit or place
    leaks = [text for text in _everything_to(tg, QIAN) for secret in ZHANG_SECRETS
             if secret in text]
    assert leaks == []
    assert len(_everything_to(tg, QIAN)) >= 8

    # /stats counts the problem once
    await _say(tg, linli, BUILDING, "/stats")
    stats = next(m for m in reversed(tg.sent(BUILDING)) if "考核评价" in (m.get("text") or ""))
    assert "收到诉求：1" in stats["text"]


async def test_not_the_same_files_a_new_report(tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    await _file_lift(tg, linli)
    offer = await _say(tg, linli, SUN, "电梯按钮坏了，按了没反应")
    same = await _press(tg, linli, SUN, offer, "提交")
    assert "#1" in same["text"]
    await _press(tg, linli, SUN, same, "不是同一件事")
    assert _last(tg, SUN)["text"].startswith("已收到您的诉求 #2")
    assert await _count(linli) == 2
    assert (await linli.linli.report_repo.get(1)).supporters == 0


async def test_a_different_problem_is_not_offered_as_the_same(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    await _file_lift(tg, linli)
    offer = await _say(tg, linli, SUN, "楼下邻居晚上总是吵架，影响休息")
    await _press(tg, linli, SUN, offer, "提交")
    assert _last(tg, SUN)["text"].startswith("已收到您的诉求 #2")


async def test_a_leader_merges_a_duplicate(tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    await _say(tg, linli, ZHANG, "/report 电梯坏了，困在楼下上不去")
    # /report TEXT files at once (no "me too" question): a duplicate the leader merges
    await _say(tg, linli, QIAN, "/report 三号楼的电梯停在一楼不动了")
    assert await _count(linli) == 2
    duplicate = await linli.linli.report_repo.get(2)
    assert (await linli.linli.org_repo.node(duplicate.rung_node_id)).key == "b3"
    card = _prompt(tg, BUILDING, 2)
    tg.press_button(BUILDING, BUILDING, card["message_id"], _button(card, "合并"))
    await linli.settle()
    choose = _last(tg, BUILDING)
    assert choose["text"].startswith("把诉求 #2 合并到哪一条？")
    into = next(b for row in choose["reply_markup"]["inline_keyboard"] for b in row
                if b["text"].startswith("#1 "))
    tg.press_button(BUILDING, BUILDING, choose["message_id"], into["callback_data"])
    await linli.settle()
    assert tg.message(BUILDING, choose["message_id"])["text"] == (
        "诉求 #2 已合并到诉求 #1，居民已收到通知。")
    merged, target = (await linli.linli.report_repo.get(2), await linli.linli.report_repo.get(1))
    assert (merged.state, merged.merged_into, target.supporters) == ("closed", 1, 1)
    assert [e.action for e in await linli.linli.report_repo.events(2)] == ["filed", "merged"]
    assert "merged_in" in [e.action for e in await linli.linli.report_repo.events(1)]
    told = _last(tg, QIAN)["text"]
    assert told.startswith("您的诉求 #2 和诉求 #1 是同一件事") and "张阿姨" not in told
    assert "已合并到诉求 #1" in tg.message(BUILDING, card["message_id"])["text"]
    assert "另有 1 位居民反映了同一问题" in _prompt(tg, GRID, 1)["text"]
    # the merged reporter now hears of #1 like its reporter
    grid_card = _prompt(tg, GRID, 1)
    tg.press_button(GRID, GRID, grid_card["message_id"], _button(grid_card, "受理"))
    await linli.settle()
    assert "诉求 #1 已由邻长王邻长受理" in _last(tg, QIAN)["text"]
    await _say(tg, linli, BUILDING, "/stats")
    stats = next(m for m in reversed(tg.sent(BUILDING)) if "考核评价" in (m.get("text") or ""))
    assert "收到诉求：1" in stats["text"]
    # pressing the old buttons of the merged report changes nothing
    tg.press_button(BUILDING, BUILDING, choose["message_id"], into["callback_data"])
    await linli.settle()
    assert (await linli.linli.report_repo.get(1)).supporters == 1


async def test_forget_removes_a_voice_and_a_supporter(tg: FakeTelegram, linli: BotHarness) -> None:
    """/forget (PIPL): the voice and its transcript go like a photo and a text; a supporter's
    row goes too, the report keeps how many residents had the problem."""
    await _world(tg, linli)
    await _file_lift(tg, linli)
    offer = await _say(tg, linli, QIAN, "3号楼电梯又坏了，老人上不去楼")
    same = await _press(tg, linli, QIAN, offer, "提交")
    await _press(tg, linli, QIAN, same, "我也遇到（不再重复提交）")
    tg.user_sends(QIAN, QIAN, voice=6)
    await linli.settle()
    await _press(tg, linli, QIAN, _last(tg, QIAN), "提交")
    voiced = await linli.linli.db.fetchval("SELECT id FROM reports WHERE reporter_id = ?", (QIAN,))
    assert (await linli.linli.report_repo.get(voiced)).voice_file_id is not None
    confirm = await _say(tg, linli, QIAN, "/forget")
    await _press(tg, linli, QIAN, confirm, "确定删除")
    assert await linli.linli.report_repo.supporters(1) == []
    assert (await linli.linli.report_repo.get(1)).supporters == 1
    gone = await linli.linli.report_repo.get(voiced)
    assert (gone.voice_file_id, gone.transcript, gone.text) == (None, None, "")
