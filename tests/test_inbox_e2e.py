"""Updates are handled once: a second delivery is skipped, a crash loses none."""

from __future__ import annotations

import json

from sandbox.fakegram import FakeTelegram
from tests.harness import BotHarness
from tests.test_reports_e2e import GRID, GROUP, RESIDENT, _settle, _world


async def _reports(linli: BotHarness) -> int:
    return int(await linli.linli.db.fetchval("SELECT count(*) FROM reports"))


async def test_an_update_delivered_twice_files_one_report(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    update = tg.user_sends(RESIDENT, GROUP, "/report 楼道灯坏了，晚上很黑")
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "已收到您的诉求 #1" in m["text"])
    await _settle(linli)
    # Telegram delivers it again (the bot died before its next getUpdates confirmed it)
    tg.redeliver(update)
    follow = tg.user_sends(RESIDENT, GROUP, "/report 电梯异响")
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "已收到您的诉求 #2" in m["text"])
    await _settle(linli)
    assert await _reports(linli) == 2
    assert len([m for m in tg.sent() if "楼道灯" in (m.get("text") or "")]) == 1
    assert len([m for m in tg.sent(GROUP) if "已收到诉求" in m["text"]]) == 2
    inbox = linli.linli.db
    assert await inbox.fetchval("SELECT status FROM updates WHERE update_id = ?",
                                (update["update_id"],)) == "done"
    assert await inbox.fetchval("SELECT status FROM updates WHERE update_id = ?",
                                (follow["update_id"],)) == "done"
    assert linli.app.bot_data["inbox"].skipped == 1


async def test_an_update_received_but_not_handled_before_a_crash_is_handled_at_start(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    await _settle(linli)
    await linli.stop()
    # what a crash leaves: the update recorded (so Telegram was told it arrived), not handled
    update = {"update_id": 990001, "message": {
        "message_id": 4242, "date": 1790000000, "text": "/report 垃圾桶满了没人清",
        "chat": {"id": GROUP, "type": "group", "title": "3号楼业主群"},
        "from": {"id": RESIDENT, "is_bot": False, "first_name": "张阿姨"},
        "entities": [{"type": "bot_command", "offset": 0, "length": 7}],
    }}
    from storage.db import open_database
    from storage.inbox import InboxRepo

    db = await open_database(linli.settings.database)
    try:
        now = linli.clock.now()  # received by an instance that died at once (its claim over)
        assert await InboxRepo(db).receive(990001, json.dumps(update), GROUP, "gone:1:dead",
                                           now, now) is None
    finally:
        await db.close()
    await linli.start()
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "垃圾桶满了" in m["text"])
    await _settle(linli)
    assert await _reports(linli) == 1
    # and once more across another restart: nothing is handled twice
    await linli.restart()
    await _settle(linli)
    assert await _reports(linli) == 1
    assert await linli.linli.db.fetchval(
        "SELECT status FROM updates WHERE update_id = 990001") == "done"


async def test_updates_that_change_nothing_are_marked_handled_too(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    update = tg.user_sends(RESIDENT, RESIDENT, "/help")
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "/report" in m["text"])
    await linli.stop()  # a clean stop flushes what is waiting to be marked
    await linli.start()
    assert await linli.linli.db.fetchval("SELECT status FROM updates WHERE update_id = ?",
                                         (update["update_id"],)) == "done"
