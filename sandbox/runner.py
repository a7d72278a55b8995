"""`linli sandbox`: the emulator, the real bot pointed at it, a neighbourhood, the web chat.

Nothing leaves the machine: the emulator, the bot's Bot API base and the web chat are all on
127.0.0.1, and the bot's database lives in the sandbox's own folder (never LINLI_DATABASE).
The bot is the Application `linli run` builds (bot.app.build_application), with the one
injectable clock it always has; here that clock is a ShiftedClock the web chat can move.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import shutil
import signal
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.app import LinliApp, build_application, start_polling, stop_polling
from bot.core.clock import ShiftedClock
from bot.services import Linli
from config.settings import Settings, WebSettings, load_settings
from sandbox import persist
from sandbox.chat import ChatServer
from sandbox.demo import World, demo_history, demo_world, org_world, populate_telegram
from sandbox.fakegram import FakeTelegram
from sandbox.fakegram.state import set_clock

log = logging.getLogger(__name__)

STATE = "sandbox.json"  # who is who, the org it came from, the clock's lead over real time
TELEGRAM = "telegram.pickle"
DATABASE = "linli.db"
SAVE_EVERY = 2.0  # seconds: the emulator's world is written when it changed


def default_folder() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "linli-sandbox"


@dataclass
class Options:
    folder: Path
    fresh: bool = False
    org: Path | None = None
    port: int = 8090


class Sandbox:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.folder = options.folder
        self.tg = FakeTelegram(bot_username="linli_sandbox_bot")
        self.app: LinliApp | None = None
        self.chat: ChatServer | None = None
        self.world: World | None = None
        self.clock: ShiftedClock | None = None
        self.settings: Settings | None = None
        self.url = ""
        self._dirty = False
        self._saver: asyncio.Task[None] | None = None

    @property
    def linli(self) -> Linli:
        assert self.app is not None
        return self.app.bot_data["linli"]

    async def start(self) -> str:
        _no_proxy_for_loopback()
        state = self._prepare_folder()
        new = state is None
        if state is None:
            self.world = org_world(self.options.org) if self.options.org else demo_world()
            self.clock = ShiftedClock(_daytime(datetime.now(UTC), ZoneInfo("Asia/Shanghai")))
        else:
            self.world = World.from_json(state["world"])
            self.clock = ShiftedClock(datetime.now(UTC) + timedelta(seconds=state["lead"]))
            persist.load(self.tg, self.folder / TELEGRAM)
        clock = self.clock
        set_clock(lambda: clock.now().timestamp())  # messages dated by the bot's clock
        await self.tg.start()
        self.settings = load_settings(
            bot_token=self.tg.token, api_base_url=self.tg.base_url,
            api_base_file_url=self.tg.base_file_url, database=self.folder / DATABASE,
            admin_ids=self.world.admins, webhook_url=None, web=WebSettings())
        if new:
            populate_telegram(self.tg, self.world)
        self.app = build_application(self.settings, self.clock)
        await start_polling(self.app)
        if new:
            await self._first_day()
        self.chat = ChatServer(self.tg, self.world, self.clock, lambda: self.linli,
                               self.settle, self._changed)
        self.url = await self.chat.start(self.options.port)
        self._save()
        self._saver = asyncio.get_running_loop().create_task(self._keep_saving())
        return self.url

    async def stop(self) -> None:
        if self._saver is not None:
            self._saver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._saver
        if self.chat is not None:
            await self.chat.stop()
        if self.app is not None:
            await stop_polling(self.app)
            self.app = None
        if self.world is not None and self.clock is not None:
            self._save()
        await self.tg.stop()
        set_clock(None)

    async def settle(self, timeout: float = 15) -> None:
        """Wait until the bot took every update and sent every message."""
        assert self.app is not None
        async with asyncio.timeout(timeout):
            quiet = 0
            while quiet < 2:
                await asyncio.sleep(0.02)
                busy = (self.tg.pending_updates() or not self.app.update_queue.empty()
                        or self.app.update_processor.busy  # type: ignore[attr-defined]
                        or not await self.linli.notifier.idle())
                quiet = 0 if busy else quiet + 1

    # ----- the folder -----

    def _prepare_folder(self) -> dict | None:  # type: ignore[type-arg]
        """The saved state to continue from, or None to start over (the folder emptied)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / STATE
        state = None
        if path.is_file() and not self.options.fresh:
            with contextlib.suppress(ValueError, OSError):
                state = json.loads(path.read_text(encoding="utf-8"))
        if state is not None and self.options.org is not None:
            if state.get("org_digest") != _digest(self.options.org):
                state = None  # another org file: a sandbox of its own
        if state is None or not (self.folder / TELEGRAM).is_file():
            for name in (STATE, TELEGRAM, DATABASE, f"{DATABASE}-wal", f"{DATABASE}-shm",
                         "org.toml"):
                (self.folder / name).unlink(missing_ok=True)
            shutil.rmtree(self.folder / "tmp", ignore_errors=True)
            return None
        return state

    async def _first_day(self) -> None:
        from bot.org.orgfile import import_org

        assert self.world is not None and self.settings is not None
        org = self.folder / "org.toml"
        org.write_text(self.world.org, encoding="utf-8")
        summary = await import_org(self.linli.db, self.settings, org)
        log.info("sandbox: imported %s", summary.describe())
        if self.options.org is None:
            await demo_history(self.tg)
        else:
            for person in self.world.people:
                self.tg.user_sends(person.id, person.id, "/start")
        await self.settle(60)

    def _changed(self) -> None:
        self._dirty = True

    async def _keep_saving(self) -> None:
        while True:
            await asyncio.sleep(SAVE_EVERY)
            if self._dirty:
                self._dirty = False
                self._save()

    def _save(self) -> None:
        assert self.world is not None and self.clock is not None
        persist.save(self.tg, self.folder / TELEGRAM)
        lead = (self.clock.now() - datetime.now(UTC)).total_seconds()
        state = {"world": self.world.to_json(), "lead": lead,
                 "org_digest": _digest(self.options.org) if self.options.org else None}
        temporary = self.folder / f"{STATE}.tmp"
        temporary.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
        os.replace(temporary, self.folder / STATE)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _daytime(moment: datetime, tz: ZoneInfo) -> datetime:
    """A weekday morning to open the sandbox on (now, if it is one): the bot's quiet hours
    would otherwise hold the demo's messages until morning."""
    local = moment.astimezone(tz)
    if local.weekday() < 5 and time(9) <= local.time() < time(16):
        return moment
    day = local.date() + timedelta(days=0 if local.time() < time(9) else 1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, time(9, 30), tz).astimezone(UTC)


def _no_proxy_for_loopback() -> None:
    """The bot honours HTTPS_PROXY (deployments behind one need it); the emulator is local."""
    for name in ("NO_PROXY", "no_proxy"):
        os.environ[name] = ",".join(filter(None, [os.environ.get(name), "127.0.0.1",
                                                  "localhost"]))


async def serve(options: Options) -> None:
    sandbox = Sandbox(options)
    print("linli sandbox: preparing the neighbourhood …", flush=True)
    url = await sandbox.start()
    print(f"linli sandbox: open {url} in a browser (Ctrl-C to stop; data in {options.folder})",
          flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await sandbox.stop()
        print("linli sandbox: stopped; `linli sandbox` continues where you left off,"
              " `linli sandbox --fresh` starts over", flush=True)
