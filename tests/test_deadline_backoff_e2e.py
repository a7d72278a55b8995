"""A failing deadline action does not spin (issue 19, item 9): it is tried again after
10 s, 1 min, 5 min ..., each failure logged once, and the step survives a restart."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

from bot.core.scheduler import RETRY_AFTER
from storage.db import Tx
from storage.deadlines import Deadline
from tests.harness import BotHarness

SUBJECT = "test_failing"


def _failures_logged(caplog: pytest.LogCaptureFixture) -> int:
    return len([r for r in caplog.records
                if r.name == "bot.core.scheduler" and "failed" in r.getMessage()])


async def test_a_failing_deadline_backs_off_and_is_logged_once_per_step(
        linli: BotHarness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    tries: list[int] = []  # the deadline's id, once per try
    succeed = False

    async def action(_tx: Tx, deadline: Deadline) -> None:
        tries.append(deadline.id)
        if not succeed:
            raise RuntimeError("the feature's action keeps raising")

    def register() -> None:
        linli.linli.scheduler.on(SUBJECT, action)

    register()
    scheduler = linli.linli.scheduler
    async with linli.linli.db.write() as tx:
        # due in a moment (an alarm set for "now" can go off before this transaction commits)
        await scheduler.arm(tx, SUBJECT, 7, "remind", linli.clock.now() + timedelta(seconds=0.5))
    async with asyncio.timeout(10):
        while not tries:  # the alarm goes off
            await asyncio.sleep(0.02)
    await asyncio.sleep(1.5)  # a spinning scheduler fires it hundreds of times meanwhile
    d = (await scheduler.deadlines.armed_for(SUBJECT, 7))[0].id
    assert tries == [d], f"fired {len(tries)} times in 1.5 s"
    assert _failures_logged(caplog) == 1

    # 10 s later: the second try; not again before a minute has passed after that
    linli.clock.advance(RETRY_AFTER[0] + timedelta(seconds=1))
    await scheduler.sweep()
    assert tries == [d] * 2 and _failures_logged(caplog) == 2
    linli.clock.advance(RETRY_AFTER[1] - timedelta(seconds=5))
    await scheduler.sweep()
    assert tries == [d] * 2 and _failures_logged(caplog) == 2
    linli.clock.advance(timedelta(seconds=6))
    await scheduler.sweep()
    assert tries == [d] * 3 and _failures_logged(caplog) == 3

    # a restart does not start the steps over: the next try is still 5 min away
    await linli.restart()
    register()
    await asyncio.sleep(0.5)
    armed = await linli.linli.scheduler.deadlines.armed_for(SUBJECT, 7)
    assert [d.failures for d in armed] == [3]
    await linli.linli.scheduler.sweep()
    assert tries == [d] * 3
    succeed = True
    linli.clock.advance(RETRY_AFTER[2] + timedelta(seconds=1))
    assert await linli.linli.scheduler.sweep() == 1
    assert tries == [d] * 4
    assert await linli.linli.scheduler.deadlines.armed_for(SUBJECT, 7) == []
    assert await linli.linli.scheduler.deadlines.fired_count(SUBJECT) == 1
    assert _failures_logged(caplog) == 3
