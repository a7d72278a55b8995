"""Telegram misbehaving while reports climb: 500, 502, dropped connections, 429, hangs.

Nothing is lost and nothing is sent twice: each notice of an escalation arrives once.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sandbox.fakegram import FakeTelegram
from tests.harness import BotHarness
from tests.test_reports_e2e import BUILDING, GRID, RESIDENT, _settle, _state, _world


def _notices(tg: FakeTelegram, number: int) -> Counter[tuple[int, str]]:
    return Counter((m["chat"]["id"], m["text"]) for m in tg.sent()
                   if f"#{number}" in (m.get("text") or ""))


async def _escalate_first_report(tg: FakeTelegram, linli: BotHarness) -> None:
    tg.user_sends(RESIDENT, RESIDENT, "/report 小区门口有人乱扔垃圾")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #1" in m["text"])
    await _settle(linli)


async def test_escalation_notices_survive_server_errors_drops_and_flood_control(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    await _escalate_first_report(tg, linli)
    before = _notices(tg, 1)
    tg.fail_next("sendMessage", 500)
    tg.fail_next("sendMessage", 502)
    tg.drop_next("sendMessage")
    tg.overall_per_second = 1  # and flood control: 429 with retry_after
    linli.clock.advance(timedelta(hours=2, seconds=1))
    assert await linli.linli.scheduler.sweep() == 1
    assert await _state(linli, 1) == ("open", "b3")
    await tg.wait_for(lambda m: m["chat"]["id"] == BUILDING and "诉求 #1" in m["text"], 20)
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "3号楼" in m["text"], 20)
    await _settle(linli)
    refused = Counter(c.error for c in tg.calls if c.method == "sendMessage" and not c.ok)
    assert any("Internal" in (e or "") for e in refused), refused
    assert any("Bad Gateway" in (e or "") for e in refused), refused
    assert refused["connection dropped"] == 1
    assert any("Too Many Requests" in (e or "") for e in refused), refused
    after = _notices(tg, 1) - before
    assert after and all(times == 1 for times in after.values()), after
    assert {chat for chat, _ in after} >= {GRID, BUILDING, RESIDENT}
    rows = await linli.linli.db.fetchall("SELECT status FROM outbox")
    assert {r["status"] for r in rows} == {"sent"}


async def test_an_answer_that_never_comes_is_not_sent_again(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    await _escalate_first_report(tg, linli)
    tg.hang_next("sendMessage", 6)  # carried out, answered after PTB's 5 s read timeout
    linli.clock.advance(timedelta(hours=2, seconds=1))
    assert await linli.linli.scheduler.sweep() == 1
    await _settle_long(linli)
    after = _notices(tg, 1)
    assert all(times == 1 for times in after.values()), after
    assert [m for m in tg.sent(BUILDING) if "诉求 #1" in m["text"]]
    unconfirmed = await linli.linli.db.fetchall(
        "SELECT status FROM outbox WHERE error LIKE 'unconfirmed%'")
    assert [r["status"] for r in unconfirmed] == ["sent"]


async def _settle_long(linli: BotHarness) -> None:
    import asyncio

    async with asyncio.timeout(20):
        await asyncio.sleep(0.5)
        while not await linli.linli.notifier.idle():
            await asyncio.sleep(0.05)


async def test_a_broadcast_through_errors_drops_hangs_and_flood_control(
        tg: FakeTelegram, linli: BotHarness) -> None:
    """Each of 40 chats gets the notice once, whatever Telegram does meanwhile."""
    from tests.test_broadcasts_e2e import CHIEF
    from tests.test_broadcasts_e2e import _world as broadcast_world

    chats = await broadcast_world(tg, linli, 40)
    tg.fail_next("sendMessage", 500, count=2)
    tg.fail_next("sendMessage", 502)
    tg.drop_next("sendMessage", count=2)
    tg.hang_next("sendMessage", 6)  # carried out, answered after PTB's read timeout
    tg.overall_per_second = 5  # and flood control: 429 with retry_after
    tg.user_sends(CHIEF, CHIEF, "/broadcast now 明早8点起小区停电检修，电梯暂停使用。")
    report = await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF and "未送达" in m["text"],
                               timeout=60)
    assert "共 40 个群：已送达 40 个，未送达 0 个" in report["text"]
    await linli.settle(timeout=30)
    received = Counter(m["chat"]["id"] for m in tg.sent() if "停电检修" in (m.get("text") or ""))
    assert received == Counter(chats), received  # every chat exactly once
    refused = Counter(c.error for c in tg.calls if c.method == "sendMessage" and not c.ok)
    assert any("Internal" in (e or "") for e in refused), refused
    assert any("Bad Gateway" in (e or "") for e in refused), refused
    assert refused["connection dropped"] == 2
    assert any("Too Many Requests" in (e or "") for e in refused), refused
    rows = await linli.linli.db.fetchall("SELECT status FROM outbox")
    assert {r["status"] for r in rows} == {"sent"}
