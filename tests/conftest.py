from __future__ import annotations

import asyncio
import io
import os
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.fakegram import FakeTelegram
from tests.harness import BotHarness

STUCK_AFTER = 100.0  # seconds: no test here takes half of that

# the fake Bot API server is local: never reach it through a proxy the machine may set
# (the bot honours HTTP(S)_PROXY, as deployments behind one need)
for _name in ("NO_PROXY", "no_proxy"):
    os.environ[_name] = ",".join(filter(None, [os.environ.get(_name), "127.0.0.1", "localhost"]))


@pytest.fixture(autouse=True)
async def _report_a_stuck_test(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """A test stuck in an await prints where every task of its loop waits, then fails."""
    loop = asyncio.get_running_loop()
    done = threading.Event()

    def watch() -> None:
        if done.wait(STUCK_AFTER):
            return
        out = io.StringIO()
        for task in asyncio.all_tasks(loop):
            task.print_stack(limit=12, file=out)
        sys.stderr.write(f"\n{request.node.nodeid} stuck; its tasks:\n{out.getvalue()}\n")
        sys.stderr.flush()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own LINLI_* variables must not leak into the tests."""
    for name in list(os.environ):
        if name.startswith("LINLI_"):
            monkeypatch.delenv(name)


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def linli(tg: FakeTelegram, tmp_path: Path) -> AsyncIterator[BotHarness]:
    harness = BotHarness(tg, tmp_path)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()
