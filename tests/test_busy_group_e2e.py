"""A busy group is not starved (issue 19, item 8): edits of one message are coalesced,
new messages go before edits within a group's budget, and a chat's messages keep their
order while one of them waits out a retry."""

from __future__ import annotations

import asyncio
import time

from bot.core.notifier import Outgoing
from sandbox.fakegram import FakeTelegram
from tests.harness import BotHarness
from tests.orgs import harmony, harmony_leaders, resident

GROUP = -100300
GRID, BUILDING, COMPOUND, COMMUNITY = 1001, 1002, 1003, 1004
REPORTER = 3000
PRESSERS = list(range(3101, 3161))  # 60 neighbours
ORG = (harmony(building_chat=GROUP) + harmony_leaders(GRID, BUILDING, COMPOUND, COMMUNITY)
       + "".join(resident(uid, "b3-u1") for uid in [REPORTER, *PRESSERS]))


def _answered(tg: FakeTelegram) -> int:
    return len([c for c in tg.calls if c.method == "answerCallbackQuery"])


async def test_sixty_presses_do_not_hold_back_a_receipt(tg: FakeTelegram,
                                                        linli: BotHarness) -> None:
    people = [GRID, BUILDING, COMPOUND, COMMUNITY, REPORTER, *PRESSERS]
    for uid in people:
        tg.add_user(uid, f"居民{uid}")
    tg.add_group(GROUP, "3号楼业主群", members=people)
    await linli.import_org(ORG)
    # Telegram's 20 a minute into a group, scaled down to 5 in 2 s to keep the test short
    tg.group_per_minute, tg.group_window = 5, 2.0
    notifier = linli.linli.notifier
    notifier.groups.per_window, notifier.groups.seconds = 5, 2.0
    tg.user_sends(REPORTER, GROUP, "/propose 楼下增设电动车充电桩")
    card = await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and "#1" in m.get("text", ""))
    calls = len(tg.calls)
    for uid in PRESSERS:
        tg.press_button(uid, GROUP, card["message_id"], "cp:sup:1")
    async with asyncio.timeout(20):
        while _answered(tg) < len(PRESSERS):
            await asyncio.sleep(0.02)
    # every +1 answered: now a neighbour reports something in the same group
    began = time.monotonic()
    tg.user_sends(REPORTER, GROUP, "/report 3号楼电梯停了")
    await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and "已收到诉求 #1" in m.get("text", ""),
                      timeout=30)
    waited = time.monotonic() - began
    assert waited < 3.0, f"the receipt waited {waited:.1f}s behind the +1 edits"
    await linli.settle(timeout=30)
    shown = tg.message(GROUP, card["message_id"])
    assert shown is not None
    supporters = (await linli.linli.consultation_repo.proposal(1)).supporters
    assert supporters == 1 + len(PRESSERS)  # the proposer and the 60
    assert f"（{supporters}）" in shown["reply_markup"]["inline_keyboard"][0][0]["text"]
    edits = [c for c in tg.calls[calls:] if c.method.startswith("editMessage")]
    assert len(edits) < 20, f"{len(edits)} edits for one counter"
    flooded = [c for c in tg.calls[calls:] if not c.ok and c.params.get("chat_id") == GROUP]
    assert flooded == [], [(c.method, c.error) for c in flooded]


async def test_a_retry_keeps_the_chat_in_order(tg: FakeTelegram, linli: BotHarness) -> None:
    tg.add_user(REPORTER, "张阿姨")
    tg.user_sends(REPORTER, REPORTER, "/start")
    await tg.wait_for(lambda m: m["chat"]["id"] == REPORTER)
    before = len(tg.sent(REPORTER))
    notifier = linli.linli.notifier
    tg.fail_next("sendMessage", status=502)  # the receipt meets a bad gateway: retried in 1 s
    async with linli.linli.db.write() as tx:
        await notifier.enqueue(tx, Outgoing(REPORTER, "已收到您的诉求 #1"))
        await notifier.enqueue(tx, Outgoing(REPORTER, "您的诉求 #1 已转到3号楼"))
    notifier.kick()
    await tg.wait_for(lambda m: "已转到3号楼" in m.get("text", ""), timeout=10)
    await linli.settle()
    assert [m["text"] for m in tg.sent(REPORTER)[before:]] == [
        "已收到您的诉求 #1", "您的诉求 #1 已转到3号楼"]
    failed = [c for c in tg.calls if c.method == "sendMessage" and not c.ok]
    assert len(failed) == 1, [(c.params.get("text"), c.error) for c in failed]
