"""The private chat one tap away, and a rating never lost.

A resident reports in the group without ever having opened a private chat with the bot:
the group gets one hint with a deep-link button (and no word on every later change);
the leader who resolves it is told the rating waits for the resident; when the resident
arrives (the deep link, /start or /myreports) the rating buttons are there.
"""

from __future__ import annotations

from sandbox.fakegram import FakeTelegram
from tests.harness import BotHarness
from tests.test_reports_e2e import (
    BUILDING,
    COMMUNITY,
    COMPOUND,
    GRID,
    GROUP,
    NEIGHBOUR,
    PROPERTY,
    RESIDENT,
    _button,
    _prompt,
    _world,
)

LEADERS = (GRID, BUILDING, COMPOUND, COMMUNITY, PROPERTY, NEIGHBOUR)  # RESIDENT never started


def _group_texts(tg: FakeTelegram) -> list[str]:
    return [m.get("text") or "" for m in tg.sent(GROUP)]


async def _resolved_in_the_group(tg: FakeTelegram, linli: BotHarness, text: str) -> None:
    await _world(tg, linli, started=LEADERS)
    tg.user_sends(RESIDENT, GROUP, f"/report {text}")
    await linli.settle()
    before = len(tg.sent(GROUP))
    prompt = _prompt(tg, GRID, 1)
    tg.press_button(GRID, GRID, prompt["message_id"], _button(prompt, "受理"))
    await linli.settle()
    card = tg.message(GRID, prompt["message_id"])
    tg.press_button(GRID, GRID, prompt["message_id"], _button(card, "办结"))
    await linli.settle()
    tg.user_sends(GRID, GRID, "已经清理好了")
    await linli.settle()
    # the group heard nothing of the acknowledgement nor of the resolution
    assert len(tg.sent(GROUP)) == before, _group_texts(tg)[before:]
    note = tg.sent(GRID)[-1]["text"]
    assert "已通知居民评价" not in note and "等居民来了，我会请他评价" in note


async def test_deep_link_hint_once_and_rating_on_arrival(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _resolved_in_the_group(tg, linli, "楼道里堆满了纸箱")
    hints = [m for m in tg.sent(GROUP) if "打开和我的私聊" in (m.get("text") or "")]
    assert len(hints) == 1
    [[button]] = hints[0]["reply_markup"]["inline_keyboard"]
    assert button["url"] == f"https://t.me/{tg.bot_user['username']}?start=r1"

    # the resident taps it: Telegram sends /start r1 in the private chat
    tg.user_sends(RESIDENT, RESIDENT, "/start r1")
    await linli.settle()
    status, rate = tg.sent(RESIDENT)[-2:]
    assert "这是您的诉求 #1 现在的情况" in status["text"] and "已办结" in status["text"]
    assert "已经清理好了" in rate["text"]
    tg.press_button(RESIDENT, RESIDENT, rate["message_id"], _button(rate, "满意"))
    await linli.settle()
    report = await linli.linli.report_repo.get(1)
    assert (report.state, report.rating) == ("closed", "satisfied")
    # asked once: a second /start has nothing left to ask
    tg.user_sends(RESIDENT, RESIDENT, "/start")
    await linli.settle()
    assert sum("请您评价" in (m.get("text") or "") for m in tg.sent(RESIDENT)) == 1


async def test_myreports_brings_the_rating_that_waited(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _resolved_in_the_group(tg, linli, "垃圾桶满了没人清")
    tg.user_sends(RESIDENT, RESIDENT, "/myreports")
    await linli.settle()
    listing, rate = tg.sent(RESIDENT)[-2:]
    assert "我的诉求" in listing["text"]
    assert "请您评价" in rate["text"] and _button(rate, "不满意")
    # someone else's deep link shows nothing of the report
    tg.user_sends(NEIGHBOUR, NEIGHBOUR, "/start r1")
    await linli.settle()
    assert "不是您的" in tg.sent(NEIGHBOUR)[-1]["text"]
