"""Updates are recorded before Telegram is told they arrived, and handled once.

PTB confirms updates to Telegram with the offset of its next getUpdates call, which
it makes as soon as it has put the last batch into the update queue, before the
handlers have run; a webhook is answered as soon as the update is queued. So the
queue itself writes each update to the inbox table before accepting it: a crash
then loses nothing (what was received but not handled is replayed at start), and
an update that Telegram delivers again (it does, for those not yet confirmed when
the bot died) is skipped once it has been handled.

"Handled" is recorded in the same transaction as the handler's first change (see
``storage.db.Database.write``); updates that change nothing are marked in batches.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from telegram import Bot, Update
from telegram.error import BadRequest, NetworkError, TimedOut
from telegram.ext import ExtBot

from bot.core import metrics
from bot.core.clock import Clock
from bot.core.http import AiohttpRequest
from bot.core.i18n import plain
from bot.core.instance import INSTANCE, dead_here
from bot.core.ordering import chat_key
from storage.db import HandlingUpdate
from storage.inbox import InboxRepo

log = logging.getLogger(__name__)

FLUSH_EVERY = 0.2  # seconds: how often updates that changed nothing are marked handled
# Several instances: an update is claimed by the one that received it, renewed while it
# works; another adopts what a dead instance left once the claim ran out
CLAIM = timedelta(seconds=10)
RENEW_EVERY = 3.0  # seconds
ADOPT_EVERY = 2.0  # seconds
KEEP_HANDLED = timedelta(days=2)  # Telegram keeps an unconfirmed update for 24 hours
MAX_PAUSE = 30.0  # seconds: the longest wait between polls while Telegram fails


class DurableQueue(asyncio.Queue[Any]):
    def __init__(self) -> None:
        super().__init__()
        self.repo: InboxRepo | None = None
        self.clock: Clock | None = None
        self._live: set[int] = set()  # queued or being handled in this process
        self._received: set[int] = set()  # recorded by receive_batch, about to be put
        self._handled_before: set[int] = set()  # skipped by receive_batch, yet still put
        self._quiet: list[int] = []  # handled without a change: to be marked in a batch
        self._flusher: asyncio.Task[None] | None = None
        self.bot: Bot | None = None
        self.skipped = 0

    async def open(self, repo: InboxRepo, clock: Clock, bot: Bot) -> int:
        """Start recording, and queue what a crash left unhandled; returns how many."""
        self.repo, self.clock, self.bot = repo, clock, bot
        await repo.prune(clock.now() - KEEP_HANDLED)
        waiting = await self._adopt(mine_too=True)
        if waiting:
            log.warning("handling %d update(s) received before a crash", waiting)
        self._flusher = asyncio.create_task(self._flush_loop(), name="linli-inbox")
        return waiting

    async def _adopt(self, mine_too: bool = False) -> int:
        """Queue the updates left by an instance that died (on start: by this one's last
        run too); how many."""
        assert self.repo is not None and self.clock is not None
        dead = [c for c in await self.repo.claimers()
                if dead_here(c) or (mine_too and c == INSTANCE)]
        now = self.clock.now()
        adopted = await self.repo.adopt(INSTANCE, now, now + CLAIM, dead)
        count = 0
        for update_id, payload in adopted:
            if update_id in self._live:
                continue
            self._live.add(update_id)
            await super().put(Update.de_json(json.loads(payload), self.bot))
            count += 1
        return count

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
            self._flusher = None
        await self._flush()
        self.repo = None

    async def receive_batch(self, updates: list[Update],
                            raw: dict[int, str] | None = None) -> list[Update]:
        """A getUpdates answer: recorded in one transaction, minus what was handled before.
        ``raw`` is each update's JSON as Telegram sent it (cheaper than re-serialising)."""
        if self.repo is None or self.clock is None or not updates:
            return updates
        raw = raw or {}
        fresh = [u for u in updates if u.update_id not in self._live]
        now = self.clock.now()
        statuses = await self.repo.receive_many(
            [(u.update_id, raw.get(u.update_id) or u.to_json(), chat_key(u)) for u in fresh],
            INSTANCE, now, now + CLAIM,
        )
        keep = []
        for update in fresh:
            if statuses.get(update.update_id) == "done":
                self.skipped += 1
                self._handled_before.add(update.update_id)
                log.info("update %d was handled before; skipped", update.update_id)
            else:
                self._received.add(update.update_id)
                keep.append(update)
        return keep

    async def put(self, item: Any) -> None:
        if isinstance(item, Update) and self.repo is not None and self.clock is not None:
            if item.update_id in self._received:  # recorded with its batch
                self._received.discard(item.update_id)
                self._live.add(item.update_id)
                await super().put(item)
                return
            if item.update_id in self._handled_before:
                self._handled_before.discard(item.update_id)
                return
            if item.update_id in self._live:
                return  # replayed from the inbox and now delivered again by Telegram
            # a webhook request: one update at a time
            metrics.heard_from_telegram()
            now = self.clock.now()
            status = await self.repo.receive(item.update_id, item.to_json(), chat_key(item),
                                             INSTANCE, now, now + CLAIM)
            if status == "done":
                self.skipped += 1
                log.info("update %d was handled before; skipped", item.update_id)
                return
            if status == "elsewhere":  # Telegram retried it to us while another handles it
                self.skipped += 1
                log.info("update %d is being handled by another instance", item.update_id)
                return
            self._live.add(item.update_id)
        await super().put(item)

    def finished(self, handling: HandlingUpdate) -> None:
        """The update processor is done with an update."""
        self._live.discard(handling.update_id)
        if not handling.handled:
            self._quiet.append(handling.update_id)

    async def _flush(self) -> None:
        quiet, self._quiet = self._quiet, []
        if quiet and self.repo is not None and self.clock is not None:
            await self.repo.mark_handled(quiet, self.clock.now())

    async def _flush_loop(self) -> None:
        renewed = adopted = time.monotonic()
        while True:
            await asyncio.sleep(FLUSH_EVERY)
            try:
                await self._flush()
                if time.monotonic() - renewed >= RENEW_EVERY and self._live:
                    assert self.repo is not None and self.clock is not None
                    await self.repo.renew(INSTANCE, self.clock.now() + CLAIM)
                    renewed = time.monotonic()
                if time.monotonic() - adopted >= ADOPT_EVERY:
                    adopted = time.monotonic()
                    if count := await self._adopt():
                        log.warning("handling %d update(s) another instance left", count)
            except Exception:
                log.exception("could not mark handled updates; retrying")


class ChatTurns:
    """Several instances on one PostgreSQL database: a chat's updates are handled one at a
    time and in order, whichever instance received each. Before its turn, an update waits
    (up to WAIT_FOR_EARLIER) while an earlier update of its chat is still being handled
    elsewhere; then it runs holding the chat's advisory lock."""

    WAIT_FOR_EARLIER = 10.0  # seconds: then it goes ahead (that instance may have died)

    def __init__(self, db: Any, repo: InboxRepo, clock: Clock) -> None:
        self.db, self.repo, self.clock = db, repo, clock

    @asynccontextmanager
    async def turn(self, key: int, update_id: int) -> AsyncIterator[None]:
        until = time.monotonic() + self.WAIT_FOR_EARLIER
        while time.monotonic() < until:
            if not await self.repo.earlier_elsewhere(key, update_id, INSTANCE, self.clock.now()):
                break
            await asyncio.sleep(0.02)
        async with self.db.chat_lock(key):
            yield


def _long_poll(timeout: object) -> bool:
    if isinstance(timeout, timedelta):
        return timeout.total_seconds() > 0
    return isinstance(timeout, int | float) and timeout > 0


class RawUpdatesRequest(AiohttpRequest):
    """getUpdates' connection, keeping the last answer's bytes for the inbox."""

    __slots__ = ("last_payload",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last_payload = b""

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        code, payload = await super().do_request(*args, **kwargs)
        self.last_payload = payload  # one getUpdates at a time: no race
        return code, payload


class LinliBot(ExtBot[None]):
    """The bot, recording each getUpdates answer in the inbox before it is confirmed."""

    def __init__(self, *args: Any, inbox: DurableQueue | None = None,
                 get_updates_request: RawUpdatesRequest | None = None, **kwargs: Any) -> None:
        super().__init__(*args, get_updates_request=get_updates_request, **kwargs)
        self._inbox = inbox  # PTB lets an underscored attribute be set on its frozen objects
        self._raw_updates = get_updates_request
        self._pause = 0.0  # seconds between polls while Telegram cannot be reached

    async def answer_callback_query(self, callback_query_id: str, text: str | None = None,
                                    *args: Any, **kwargs: Any) -> bool:
        """Answers come from the catalog, in HTML; Telegram shows them as plain text."""
        return await super().answer_callback_query(
            callback_query_id, plain(text) if text else text, *args, **kwargs)

    async def get_updates(self, *args: Any, **kwargs: Any) -> tuple[Update, ...]:
        try:
            updates = await super().get_updates(*args, **kwargs)
        except NetworkError as exc:
            if isinstance(exc, (BadRequest, TimedOut)) or not _long_poll(kwargs.get("timeout")):
                # PTB polls again at once after a timeout; a bad request is a bug; the short
                # poll PTB makes when stopping (to confirm what it fetched) must not wait
                raise
            # Telegram unreachable or failing (5xx): pause here, inside the long poll, which
            # a stop cuts short; PTB's own pause between polls made SIGTERM wait up to 30 s
            self._pause = min(MAX_PAUSE, self._pause * 1.5 or 1.0)
            log.warning("getUpdates failed (%s); polling again in %.1f s", exc.message,
                        self._pause)
            await asyncio.sleep(self._pause)
            return ()
        self._pause = 0.0
        metrics.heard_from_telegram()
        if self._inbox is None:
            return updates
        raw: dict[int, str] = {}
        if self._raw_updates is not None and updates:
            try:
                for item in json.loads(self._raw_updates.last_payload)["result"]:
                    raw[item["update_id"]] = json.dumps(item, ensure_ascii=False)
            except (ValueError, KeyError, TypeError):
                raw = {}  # fall back to PTB's own serialisation
        kept = await self._inbox.receive_batch(list(updates), raw)
        if len(kept) == len(updates):
            return updates
        last = updates[-1]  # PTB confirms up to the last one returned: it must stay (the
        return tuple(kept) if last in kept else (*kept, last)  # queue then drops it)
