"""Rights: only those an item concerns act on it, a bound chat is not taken over, and rights
end with the role."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.fakegram import FakeTelegram
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
