"""Runs the real Linli Application against the fake Telegram server, in-process."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.app import LinliApp, build_application, start_polling, stop_polling
from bot.core.clock import ShiftedClock
from bot.services import Linli
from config.settings import Settings
from sandbox.fakegram import FakeTelegram
from tests.backend import database_in

TOKEN = "123456:TEST-token-for-the-fake-server"
ADMIN = 1
# 2026-11-25 10:00 in Shanghai: inside working hours, outside quiet hours
DAYTIME = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


class BotHarness:
    def __init__(self, tg: FakeTelegram, folder: Path, clock: ShiftedClock | None = None,
                 **overrides: Any) -> None:
        self.tg, self.folder = tg, folder
        self.clock = clock or ShiftedClock(DAYTIME)
        values: dict[str, Any] = {
            "bot_token": TOKEN, "api_base_url": tg.base_url,
            "api_base_file_url": tg.base_file_url, "database": database_in(folder),
            "admin_ids": [ADMIN],
        }
        values.update(overrides)
        self.settings = Settings(**values)
        self.app: LinliApp | None = None

    @property
    def linli(self) -> Linli:
        assert self.app is not None
        return self.app.bot_data["linli"]

    async def start(self) -> None:
        self.app = build_application(self.settings, self.clock)
        await start_polling(self.app)

    async def stop(self) -> None:
        if self.app is not None:
            await stop_polling(self.app)
            self.app = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def idle(self) -> bool:
        """Nothing left to do: every update taken, handled, and every message out."""
        assert self.app is not None
        waiting = await self.linli.db.fetchval("SELECT count(*) FROM updates WHERE status = 'new'")
        return (not waiting and self.tg.pending_updates() == 0 and self.app.update_queue.empty()
                and not self.app.update_processor.busy  # type: ignore[attr-defined]
                and await self.linli.notifier.idle())

    async def settle(self, timeout: float = 15) -> None:
        async with asyncio.timeout(timeout):
            while True:
                await asyncio.sleep(0.01)
                if await self.idle():  # twice: a handler may just have queued a message
                    await asyncio.sleep(0.01)
                    if await self.idle():
                        return

    async def import_org(self, text: str) -> Any:
        from bot.org.orgfile import import_org

        path = self.folder / "org.toml"
        path.write_text(text, encoding="utf-8")
        return await import_org(self.linli.db, self.settings, path)
