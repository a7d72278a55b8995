"""Deadlines due together (issue 17, item 4) are claimed and acted on in batches: each
still fires exactly once, also with two sweeps racing, and a failing action among them
neither blocks nor undoes the others (it alone backs off, as in test_deadline_backoff)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

from bot.core.scheduler import RETRY_AFTER
from bot.reports.reports import Draft
from sandbox.fakegram import FakeTelegram
from storage.db import Tx
from storage.deadlines import Deadline
from tests.harness import BotHarness
from tests.test_reports_e2e import BUILDING, RESIDENT, _world

REPORTS = 200
RAISES, FAILS_AT_COMMIT = "test_burst_raises", "test_burst_fails_at_commit"


async def test_200_deadlines_due_together_fire_once_each_beside_failing_ones(
        tg: FakeTelegram, linli: BotHarness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    await _world(tg, linli)
    bot = linli.linli
    bot.scheduler.batch = 64  # more than one batch, and batches of more than one
    tries: list[str] = []

    async def raises(_tx: Tx, _deadline: Deadline) -> None:
        tries.append(RAISES)
        raise RuntimeError("this feature's action raises")

    async def fails_at_commit(tx: Tx, _deadline: Deadline) -> None:
        tries.append(FAILS_AT_COMMIT)  # a change that fails only when the statement runs
        await tx.execute("INSERT INTO deadlines(id, subject, subject_id, kind, due_at,"
                         " created_at) VALUES (1, 'x', 0, 'x', 'x', 'x')")

    bot.scheduler.on(RAISES, raises)
    bot.scheduler.on(FAILS_AT_COMMIT, fails_at_commit)
    grid = await bot.org_repo.node_by_key("b3-u1")
    for i in range(REPORTS):
        await bot.reports.file(RESIDENT, grid.id, Draft("other", f"楼道第{i}处有杂物"), None)
    dues = await bot.db.fetchall(
        "SELECT due_at FROM deadlines WHERE subject = 'report' AND kind = 'acknowledge'"
        " AND state = 'armed' ORDER BY due_at, id")
    assert len(dues) == REPORTS
    async with bot.db.write() as tx:  # due at the same moment as reports among the first batch
        for subject, place in ((RAISES, 30), (FAILS_AT_COMMIT, 60)):
            await tx.execute(
                "INSERT INTO deadlines(subject, subject_id, kind, due_at, created_at)"
                " VALUES (?, 1, 'check', ?, ?)", (subject, dues[place]["due_at"],
                                                  dues[0]["due_at"]))

    linli.clock.advance(timedelta(hours=2, minutes=1))  # every acknowledge deadline has passed
    fired = await asyncio.gather(bot.scheduler.sweep(), bot.scheduler.sweep())  # racing

    assert sum(fired) == REPORTS
    per_report = await bot.db.fetchall(
        "SELECT r.id, count(e.id) AS n FROM reports r LEFT JOIN report_events e"
        " ON e.report_id = r.id AND e.action = 'escalated' GROUP BY r.id")
    assert len(per_report) == REPORTS and {r["n"] for r in per_report} == {1}
    building = await bot.org_repo.node_by_key("b3")
    assert {(await bot.report_repo.get(r["id"])).rung_node_id for r in per_report} == {
        building.id}
    # one prompt per report to the building's leader, queued once
    prompts = await bot.db.fetchall(
        "SELECT count(*) AS n, count(DISTINCT ref) AS refs FROM outbox"
        " WHERE chat_id = ? AND method = 'send_message' AND ref LIKE 'report:%:prompt'",
        (BUILDING,))
    assert (prompts[0]["n"], prompts[0]["refs"]) == (REPORTS, REPORTS)
    assert await bot.scheduler.deadlines.fired_count("report") == REPORTS

    # the failing ones stayed armed, each with its first pause, logged once each
    for subject in (RAISES, FAILS_AT_COMMIT):
        armed = await bot.scheduler.deadlines.armed_for(subject, 1)
        assert [d.failures for d in armed] == [1], subject
        assert await bot.scheduler.deadlines.fired_count(subject) == 0
    failures = [r.getMessage() for r in caplog.records
                if r.name == "bot.core.scheduler" and "failed" in r.getMessage()]
    assert len(failures) == 2 and all("1 time(s)" in f for f in failures), failures
    assert tries.count(RAISES) == 1  # its batch went on without it, not tried twice

    # and they fire once their pause is over and they succeed
    async def succeeds(_tx: Tx, _deadline: Deadline) -> None:
        tries.append("succeeds")

    bot.scheduler.on(RAISES, succeeds)
    bot.scheduler.on(FAILS_AT_COMMIT, succeeds)
    linli.clock.advance(RETRY_AFTER[0] + timedelta(seconds=1))
    assert await bot.scheduler.sweep() == 2
    assert await bot.scheduler.sweep() == 0
