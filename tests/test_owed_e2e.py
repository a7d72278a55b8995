"""What a fired deadline owes (issue 17, item 4): a report's move up the chain is recorded
when its deadline fires, and what it tells (the leaders before and after, the reporter)
is done right after, once every deadline due has fired. Nothing of it is lost when the bot
stops in between, nothing is told twice, and an action on the report meanwhile comes after
what the move told."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import pytest

from bot.core.scheduler import RETRY_AFTER
from bot.reports.reports import Draft
from sandbox.fakegram import FakeTelegram
from storage.db import Tx
from storage.deadlines import Deadline
from storage.owed import Owed
from storage.reports import Report
from storage.timeutil import to_db
from tests.harness import BotHarness
from tests.test_reports_e2e import BUILDING, GRID, RESIDENT, _prompt, _world

REPORTS = 120
OWES = "test_owes"


def _button_labels(message: dict[str, Any]) -> list[str]:
    return [b["text"] for row in message["reply_markup"]["inline_keyboard"] for b in row]


def _told(tg: FakeTelegram, chat: int, text: str) -> list[str]:
    return [m["text"] for m in tg.sent(chat) if text in (m.get("text") or "")]


async def _owed(linli: BotHarness) -> int:
    return await linli.linli.scheduler.owed.count()


async def test_a_burst_fires_every_deadline_first_and_tells_each_move_once_after(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    bot = linli.linli
    grid = await bot.org_repo.node_by_key("b3-u1")
    numbers = [(await bot.reports.file(RESIDENT, grid.id, Draft("other", f"楼道第{i}处有杂物"),
                                       None)).id for i in range(REPORTS)]
    linli.clock.advance(timedelta(hours=2, minutes=1))  # every acknowledge deadline has passed
    fired = await asyncio.gather(bot.scheduler.sweep(), bot.scheduler.sweep())  # racing

    assert sum(fired) == REPORTS and await _owed(linli) == 0
    # every claim came before the first message the moves owed was queued
    last_fired = await bot.db.fetchval(
        "SELECT max(fired_at) FROM deadlines WHERE subject = 'report' AND state = 'fired'")
    told = await bot.db.fetchall(
        "SELECT chat_id, payload, created_at FROM outbox WHERE payload LIKE '%已转到%'"
        " OR payload LIKE '%超时未处理%' ORDER BY id")
    assert str(told[0]["created_at"]) >= str(last_fired)
    for number in numbers:  # each told once (queued once): the reporter and the grid leader
        assert [r["chat_id"] for r in told if f"#{number} " in r["payload"]] == [
            GRID, RESIDENT], number
    prompts = await bot.db.fetchall(
        "SELECT count(*) AS n, count(DISTINCT ref) AS refs FROM outbox"
        " WHERE chat_id = ? AND method = 'send_message' AND ref LIKE 'report:%:prompt'",
        (BUILDING,))
    assert (prompts[0]["n"], prompts[0]["refs"]) == (REPORTS, REPORTS)


async def _moved_owing(tg: FakeTelegram, linli: BotHarness) -> Report:
    """A report moved up as its deadline's firing moves it, and no more: what the move
    tells is owed, not done yet."""
    await _world(tg, linli)
    bot = linli.linli
    grid = await bot.org_repo.node_by_key("b3-u1")
    report = await bot.reports.file(RESIDENT, grid.id, Draft("other", "楼道灯坏了"), None)
    await linli.settle()
    ack = next(d for d in await bot.scheduler.deadlines.armed_for("report", report.id)
               if d.kind == "acknowledge")
    async with bot.db.write() as tx:  # its action, as a sweep runs it (the move cancels it)
        await bot.reports.on_deadlines(tx, [ack])
    assert await _owed(linli) == 1
    return report


async def test_a_move_owed_when_the_bot_stopped_is_told_at_the_next_start_once(
        tg: FakeTelegram, linli: BotHarness) -> None:
    report = await _moved_owing(tg, linli)
    await linli.stop()
    await linli.start()  # the start's sweep does what is owed
    await linli.settle()
    assert await _owed(linli) == 0
    assert len(_told(tg, RESIDENT, f"您的诉求 #{report.id} 已转到")) == 1
    assert len(_told(tg, GRID, f"诉求 #{report.id} 超时未处理")) == 1
    await linli.restart()
    await linli.settle()
    assert len(_told(tg, RESIDENT, f"您的诉求 #{report.id} 已转到")) == 1  # not told again


async def test_an_action_on_a_report_owed_its_move_comes_after_the_move_is_told(
        tg: FakeTelegram, linli: BotHarness) -> None:
    bot = linli.linli
    report = await _moved_owing(tg, linli)
    moved = await bot.report_repo.get(report.id)
    assert moved is not None
    # the building's leader acknowledges it from /queue before the move's messages went out
    await bot.reports.acknowledge(BUILDING, report.id, moved.version)
    await linli.settle()
    assert await _owed(linli) == 0
    told = [m["text"] for m in tg.sent(RESIDENT) if f"#{report.id}" in (m.get("text") or "")]
    moved_at = next(i for i, text in enumerate(told) if "已转到" in text)
    acknowledged_at = next(i for i, text in enumerate(told) if "已由" in text and "受理" in text)
    assert moved_at < acknowledged_at, told
    assert "受理" in _button_labels(_prompt(tg, BUILDING, report.id))  # prompted, then acted
    assert (await bot.report_repo.get(report.id)).state == "acknowledged"  # type: ignore[union-attr]


async def _arm(linli: BotHarness, object_id: int) -> None:
    """A deadline of the test's subject, due now (not through the scheduler: its alarm
    would sweep beside the test's own sweeps)."""
    async with linli.linli.db.write() as tx:
        await tx.execute("INSERT INTO deadlines(subject, subject_id, kind, due_at, created_at)"
                         " VALUES (?, ?, 'check', ?, ?)",
                         (OWES, object_id, to_db(linli.clock.now()), to_db(linli.clock.now())))


async def _done(linli: BotHarness) -> list[int]:
    return [r[0] for r in await linli.linli.db.fetchall(
        "SELECT object_id FROM test_owed_done ORDER BY object_id, n")]


async def test_owed_work_that_fails_is_tried_again_later_and_holds_nothing_up(
        tg: FakeTelegram, linli: BotHarness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    await _world(tg, linli)
    bot = linli.linli
    failing = {2}
    async with bot.db.write() as tx:  # what the work does, done in its transaction
        await tx.execute("CREATE TABLE test_owed_done (object_id INTEGER, n INTEGER,"
                         " UNIQUE (object_id, n))")

    async def action(tx: Tx, deadline: Deadline) -> None:
        await bot.scheduler.owe(tx, OWES, "tell", [(deadline.subject_id, {"n": deadline.id})])

    async def work(tx: Tx, owed: list[Owed]) -> None:
        for item in owed:
            await tx.execute("INSERT INTO test_owed_done(object_id, n) VALUES (?, ?)",
                             (item.subject_id, item.payload["n"]))
            if item.subject_id in failing:
                raise RuntimeError("this work raises")

    bot.scheduler.on(OWES, action, owed=work)
    for object_id in (1, 2, 3):
        await _arm(linli, object_id)
    assert await bot.scheduler.sweep() == 3
    assert await _done(linli) == [1, 3]  # the others done, each once
    failures = [r.getMessage() for r in caplog.records
                if r.name == "bot.core.scheduler" and "work owed" in r.getMessage()]
    assert len(failures) == 1 and "1 time(s)" in failures[0], failures
    assert await _owed(linli) == 1

    await _arm(linli, 2)  # a deadline of the object whose work failed is not held up by it
    assert await bot.scheduler.sweep() == 1
    assert await _owed(linli) == 2 and await _done(linli) == [1, 3]

    failing.clear()
    assert await bot.scheduler.sweep() == 0
    assert await _done(linli) == [1, 3]  # the failed ones wait out their pause
    linli.clock.advance(RETRY_AFTER[0] + timedelta(seconds=1))
    await bot.scheduler.sweep()
    assert await _done(linli) == [1, 2, 2, 3] and await _owed(linli) == 0
