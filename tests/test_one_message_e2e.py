"""One action, one message: each person concerned gets one confirmation of an action.

Rating, reopening, escalating, reassigning, a help request nobody can take and a
refused consent are each driven through the fake server, and the messages each chat
received for the action are counted (an edit of the pressed message is that person's
confirmation; it is not a new message).
"""

from __future__ import annotations

from collections import Counter

from sandbox.fakegram import FakeTelegram
from tests.harness import BotHarness
from tests.services_world import GRID as S_GRID
from tests.services_world import RESIDENT as S_RESIDENT
from tests.services_world import VOL_BUILDING, button, world
from tests.test_reports_e2e import BUILDING, GRID, RESIDENT, _button, _prompt, _world

SENDS = ("sendMessage", "sendPhoto", "sendDocument")


def _mark(tg: FakeTelegram) -> int:
    return len(tg.calls)


def _since(tg: FakeTelegram, mark: int, methods: tuple[str, ...] = SENDS) -> Counter[int]:
    """New messages per chat since the mark."""
    return Counter(c.params.get("chat_id") for c in tg.calls[mark:]
                   if c.method in methods and c.ok)


async def _resolve(tg: FakeTelegram, linli: BotHarness, leader: int, number: int,
                   note: str) -> dict:
    prompt = _prompt(tg, leader, number)
    tg.press_button(leader, leader, prompt["message_id"], _button(prompt, "办结"))
    await linli.settle()
    tg.user_sends(leader, leader, note)
    await linli.settle()
    return next(m for m in reversed(tg.sent(RESIDENT)) if note in (m.get("text") or ""))


async def test_report_actions_confirm_once_each(tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    tg.user_sends(RESIDENT, RESIDENT, "/report 绿化带杂草太多")
    await linli.settle()

    # 不满意 the first time: reopened; the reporter's rating message says so, nothing more
    rate = await _resolve(tg, linli, GRID, 1, "第一次：已清理")
    mark = _mark(tg)
    tg.press_button(RESIDENT, RESIDENT, rate["message_id"], _button(rate, "不满意"))
    await linli.settle()
    assert _since(tg, mark)[RESIDENT] == 0, tg.describe_calls()
    assert _since(tg, mark, ("editMessageText",))[RESIDENT] == 1
    assert "继续由邻长处理" in tg.message(RESIDENT, rate["message_id"])["text"]
    assert _since(tg, mark)[GRID] == 1  # the report is back on the grid leader's list

    # the leader escalates it: one answer to the leader, one prompt above, one word to the
    # reporter — and the leader is not told as well that "it went to 3号楼"
    prompt = _prompt(tg, GRID, 1)
    tg.press_button(GRID, GRID, prompt["message_id"], _button(prompt, "上报"))
    await linli.settle()
    mark = _mark(tg)
    tg.user_sends(GRID, GRID, "需要楼栋长协调")
    await linli.settle()
    sends = _since(tg, mark)
    assert (sends[GRID], sends[BUILDING], sends[RESIDENT]) == (1, 1, 1), tg.describe_calls()
    assert "已上报" in tg.sent(GRID)[-1]["text"]

    # the building leader hands it back down: the press is answered on its message
    prompt = _prompt(tg, BUILDING, 1)
    tg.press_button(BUILDING, BUILDING, prompt["message_id"], _button(prompt, "转派"))
    await linli.settle()
    pick = tg.sent(BUILDING)[-1]
    mark = _mark(tg)
    tg.press_button(BUILDING, BUILDING, pick["message_id"], _button(pick, "3号楼1单元"))
    await linli.settle()
    sends = _since(tg, mark)
    assert (sends[BUILDING], sends[GRID], sends[RESIDENT]) == (0, 1, 1), tg.describe_calls()
    assert "已转派" in tg.message(BUILDING, pick["message_id"])["text"]

    # 满意: the rating message becomes the thanks; no second "thank you"
    rate = await _resolve(tg, linli, GRID, 1, "第二次：已修剪")
    mark = _mark(tg)
    tg.press_button(RESIDENT, RESIDENT, rate["message_id"], _button(rate, "满意"))
    await linli.settle()
    assert _since(tg, mark)[RESIDENT] == 0, tg.describe_calls()
    assert "感谢您的评价" in tg.message(RESIDENT, rate["message_id"])["text"]
    assert (await linli.linli.report_repo.get(1)).state == "closed"


async def test_second_unsatisfied_escalates_with_one_answer(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    tg.user_sends(RESIDENT, RESIDENT, "/report 楼道墙上贴满小广告")
    await linli.settle()
    for round_ in (1, 2):
        rate = await _resolve(tg, linli, GRID, 1, f"第{round_}次：清理了小广告")
        mark = _mark(tg)
        tg.press_button(RESIDENT, RESIDENT, rate["message_id"], _button(rate, "不满意"))
        await linli.settle()
        assert _since(tg, mark)[RESIDENT] == 0, tg.describe_calls()
    assert "已上报到3号楼，由楼栋长处理" in tg.message(RESIDENT, rate["message_id"])["text"]
    assert _since(tg, mark)[BUILDING] == 1


async def test_help_without_match_and_refused_consent_confirm_once(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await world(tg, linli)
    mark = _mark(tg)
    tg.user_sends(S_RESIDENT, S_RESIDENT, "/help_request 家政 想找人打扫卫生")
    await linli.settle()
    sends = _since(tg, mark)
    assert (sends[S_RESIDENT], sends[S_GRID]) == (1, 1), tg.describe_calls()
    assert "已请邻长帮您协调" in tg.sent(S_RESIDENT)[-1]["text"]

    tg.user_sends(VOL_BUILDING, VOL_BUILDING, "/volunteer 维修 周末")
    await linli.settle()
    tg.user_sends(S_RESIDENT, S_RESIDENT, "/help_request 维修 门锁坏了")
    await linli.settle()
    offer = tg.sent(VOL_BUILDING)[-1]
    tg.press_button(VOL_BUILDING, VOL_BUILDING, offer["message_id"], button(offer, "我来帮忙"))
    await linli.settle()
    ask = tg.sent(S_RESIDENT)[-1]
    mark = _mark(tg)
    tg.press_button(S_RESIDENT, S_RESIDENT, ask["message_id"], button(ask, "不同意，请邻长协调"))
    await linli.settle()
    sends = _since(tg, mark)
    assert (sends[S_RESIDENT], sends[VOL_BUILDING], sends[S_GRID]) == (0, 1, 1), \
        tg.describe_calls()
    assert "已请邻长帮您协调" in tg.message(S_RESIDENT, ask["message_id"])["text"]
