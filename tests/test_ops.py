"""What operators read: /healthz, /metrics (where [web] is on), and `linli db backup`."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from bot.__main__ import main
from sandbox.fakegram import FakeTelegram
from tests.backend import on_postgres
from tests.harness import BotHarness
from tests.services_world import GRID, RESIDENT, settle, world


@pytest.fixture
async def served(tg: FakeTelegram, tmp_path: Path) -> BotHarness:
    harness = BotHarness(tg, tmp_path, web={"port": 0})
    await harness.start()
    yield harness  # type: ignore[misc]
    await harness.stop()


async def test_health_and_metrics_after_a_report(tg: FakeTelegram, served: BotHarness) -> None:
    await world(tg, served)
    tg.user_sends(RESIDENT, RESIDENT, "/report 楼道灯坏了")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #1" in m["text"])
    await settle(served)
    base = served.app.bot_data["dashboard"].url  # type: ignore[union-attr]
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/healthz") as answer:
            health = await answer.json()
            assert answer.status == 200
        async with http.get(f"{base}/metrics") as answer:
            scraped = await answer.text()
    assert health["ok"] is True and health["database"] == "ok"
    assert health["outbox_depth"] == 0 and health["seconds_since_telegram"] < 30
    assert health["oldest_deadline_overdue_s"] == 0  # the acknowledge deadline is ahead
    handled = re.search(r"^linli_updates_handled_total (\S+)$", scraped, re.M)
    assert handled and float(handled.group(1)) >= 1
    sent = re.search(r'^linli_sends_total\{outcome="sent"\} (\S+)$', scraped, re.M)
    assert sent and float(sent.group(1)) >= 3  # receipts, the prompt, the welcomes
    assert "linli_handler_seconds_bucket" in scraped and "linli_outbox_depth 0.0" in scraped
    assert "楼道" not in scraped and "楼道" not in str(health)  # no report text, no names


async def test_db_backup_copies_a_live_database(tg: FakeTelegram, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    harness = BotHarness(tg, tmp_path)
    await harness.start()
    try:
        await world(tg, harness)
        tg.user_sends(RESIDENT, RESIDENT, "/report 电梯坏了")
        await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #1" in m["text"])
        monkeypatch.setenv("LINLI_DATABASE", str(harness.settings.database))
        copy = tmp_path / "backup.db"
        if on_postgres():  # pg_dump does that, and the command says so
            assert main(["db", "backup", str(copy)]) == 2
            assert "pg_dump" in capsys.readouterr().err and not copy.exists()
            return
        assert main(["db", "backup", str(copy)]) == 0  # while the bot runs
        assert "1 reports" in capsys.readouterr().out
        with sqlite3.connect(copy) as conn:
            assert conn.execute("SELECT text FROM reports").fetchall() == [("电梯坏了",)]
        assert main(["db", "backup", str(copy)]) != 0  # never overwrites
        assert "not overwritten" in capsys.readouterr().err
    finally:
        await harness.stop()
