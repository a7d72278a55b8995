"""`linli db copy`: a live SQLite deployment moved to PostgreSQL, and the bot goes on there.

Runs in the PostgreSQL half only (it needs both databases).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.__main__ import main
from sandbox.fakegram import FakeTelegram
from tests.backend import database_in, query
from tests.harness import BotHarness
from tests.test_reports_e2e import GRID, GROUP, RESIDENT, _button, _prompt, _settle, _world

pytestmark = pytest.mark.postgres_only

TABLES = ("reports", "report_events", "report_facts", "report_leader_facts", "deadlines",
          "outbox", "updates", "users", "residents", "nodes", "leaders", "consents")


async def test_a_live_sqlite_deployment_moves_to_postgresql(
        tg: FakeTelegram, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "target"
    old_file = tmp_path / "old" / "linli.db"
    pg_url = database_in(target)
    old = BotHarness(tg, tmp_path / "old", database=old_file)
    await old.start()
    try:
        await _world(tg, old)
        tg.user_sends(RESIDENT, GROUP, "/report 3号楼1单元楼道里堆满了杂物")
        await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #1" in m["text"])
        tg.user_sends(RESIDENT, RESIDENT, "/report 楼下堆了很多杂物")
        await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #2" in m["text"])
        prompt = _prompt(tg, GRID, 1)
        tg.press_button(GRID, GRID, prompt["message_id"], _button(prompt, "受理"))
        await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "#1 已由" in m["text"])
        await _settle(old)
        # while the bot still runs
        assert await asyncio.to_thread(main, ["db", "copy", str(old_file), str(pg_url)]) == 0
        out = capsys.readouterr().out
        assert "every table's count and checksum match" in out
        assert "reports" in out and "linli: copied" in out
    finally:
        await old.stop()
    for table in TABLES:
        assert query(old_file, f"SELECT count(*) FROM {table}") == query(
            pg_url, f"SELECT count(*) FROM {table}"), table
    assert query(pg_url, "SELECT id, text, state FROM reports ORDER BY id") == [
        (1, "3号楼1单元楼道里堆满了杂物", "acknowledged"), (2, "楼下堆了很多杂物", "open")]

    # a second copy into the same database is refused, and changes nothing
    assert await asyncio.to_thread(main, ["db", "copy", str(old_file), str(pg_url)]) == 2
    assert "already has data" in capsys.readouterr().err
    assert query(pg_url, "SELECT count(*) FROM reports") == [(2,)]

    # the bot now runs on PostgreSQL: numbers go on, the old cards still work
    moved = BotHarness(tg, target, database=pg_url)
    await moved.start()
    try:
        tg.user_sends(RESIDENT, RESIDENT, "/report 门口堆满了纸箱")
        await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT
                          and "已收到您的诉求 #3" in m["text"])
        prompt = _prompt(tg, GRID, 2)
        tg.press_button(GRID, GRID, prompt["message_id"], _button(prompt, "受理"))
        await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "#2 已由" in m["text"])
        await _settle(moved)
    finally:
        await moved.stop()
    assert query(pg_url, "SELECT id, state FROM reports ORDER BY id") == [
        (1, "acknowledged"), (2, "acknowledged"), (3, "open")]


def test_copy_refuses_what_it_cannot_do(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "copy", str(tmp_path / "missing.db"), str(tmp_path / "new.db")]) == 2
    assert "no database at" in capsys.readouterr().err
    assert not (tmp_path / "new.db").exists()
