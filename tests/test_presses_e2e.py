"""Presses on messages in a group: a report card is never drawn there, and a button that
lives only in private chats does nothing when its data is forged onto a group message."""

from __future__ import annotations

import asyncio
from typing import Any

from sandbox.fakegram import FakeTelegram
from tests.harness import BotHarness
from tests.test_reports_e2e import GRID, GROUP, NEIGHBOUR, RESIDENT, _button, _world


async def _answer(tg: FakeTelegram, query_id: str) -> dict[str, Any]:
    for _ in range(250):
        answer = tg.answers_to(query_id)
        if answer is not None:
            return answer
        await asyncio.sleep(0.02)
    raise AssertionError("the button press was never answered")


def _group_edits(tg: FakeTelegram) -> list[Any]:
    return [c for c in tg.calls if c.method.startswith("edit") and c.params.get("chat_id") == GROUP]


async def test_forged_report_presses_on_a_group_receipt_draw_nothing_and_change_nothing(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    tg.user_sends(RESIDENT, GROUP, "/report 楼道里堆满了杂物")
    receipt = await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and "#1" in m["text"])
    prompt = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #1" in m["text"])
    tg.press_button(GRID, GRID, prompt["message_id"], _button(prompt, "受理"))
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "受理" in m["text"])
    await linli.settle()
    before = await linli.linli.report_repo.get(1)
    assert before.state == "acknowledged"
    shown = tg.message(GROUP, receipt["message_id"])
    pending_before = await linli.linli.db.fetchval("SELECT count(*) FROM pending_inputs")

    presses = [
        (RESIDENT, f"r:ack:1:{before.version - 1}"),  # the reporter, on an old version
        (GRID, f"r:ack:1:{before.version - 1}"),  # the leader, a stale press
        (GRID, f"r:res:1:{before.version}"),  # the leader, a current one
        (GRID, f"r:cat:1:{before.version}"),
        (GRID, f"r:set:1:{before.version}:repair"),
        (RESIDENT, "r:rate:1:u"),
        (NEIGHBOUR, f"r:esc:1:{before.version}"),
    ]
    answers = [await _answer(tg, tg.press_button(who, GROUP, receipt["message_id"], data))
               for who, data in presses]
    await linli.settle()

    assert [c.params.get("text") for c in _group_edits(tg)] == []
    for (who, data), answer in zip(presses, answers, strict=True):
        assert answer["show_alert"] is True, (who, data, answer)
        assert "私聊" in answer["text"], (who, data, answer)
    assert tg.message(GROUP, receipt["message_id"]) == shown
    for said in tg.sent(GROUP):
        assert "杂物" not in said["text"] and "张阿姨" not in said["text"], said
    after = await linli.linli.report_repo.get(1)
    assert (after.state, after.version, after.category) == ("acknowledged", before.version,
                                                           before.category)
    assert await linli.linli.db.fetchval("SELECT count(*) FROM pending_inputs") == pending_before
