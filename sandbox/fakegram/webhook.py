"""Webhook delivery, as Telegram does it once setWebhook has a URL.

Updates are POSTed to the webhook (JSON, with ``X-Telegram-Bot-Api-Secret-Token`` when a
secret was set), oldest first, over at most ``max_connections`` connections at once
(Telegram's default: 40). As Telegram does, a chat's next update waits until the bot
answered its previous one: one chat's updates arrive in order, different chats' at once.
An update is done with once the bot answered 2xx; any other answer, a refused connection
or a time-out, and it is delivered again after a pause (the same ``update_id``): what a
bot answered 200 for is never sent again.

The fake cannot reach the https URL the bot registers: a test says where that URL is
served (``FakeTelegram.webhook_target``, e.g. a local proxy in front of the instances).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from .state import TelegramState

log = logging.getLogger(__name__)

RETRY_AFTER = 0.5  # seconds before a failed delivery is tried again
TIMEOUT = 10.0  # seconds Telegram waits for the bot's answer


class WebhookPusher:
    def __init__(self, tg: TelegramState, target: str, secret: str | None,
                 max_connections: int) -> None:
        self.tg, self.target, self.secret = tg, target, secret
        self.max_connections = max(1, min(max_connections, 100))
        self.delivered: list[int] = []  # update ids the bot answered 2xx for, in order
        self.attempts = 0
        self._task: asyncio.Task[None] | None = None
        self._deliveries: set[asyncio.Task[None]] = set()
        self._busy: set[int] = set()  # chats with an update on its way

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="fake-webhook")

    def cancel(self) -> None:
        for task in (self._task, *self._deliveries):
            if task is not None:
                task.cancel()

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._deliveries) if t is not None]
        self.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._task = None

    async def _run(self) -> None:
        headers = {"Content-Type": "application/json"}
        if self.secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.secret
        timeout = aiohttp.ClientTimeout(total=TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout, headers=headers) as http:
            slots = asyncio.Semaphore(self.max_connections)
            tasks = self._deliveries
            while True:
                queue = self.tg.updates
                waiting, seen = [], set()
                for update in queue.deliverable():  # each chat's oldest, unless it is out
                    chat = _chat_of(update)
                    if chat not in seen and chat not in self._busy:
                        waiting.append(update)
                    seen.add(chat)
                for update in waiting:
                    self._busy.add(_chat_of(update))
                    await slots.acquire()
                    task = asyncio.create_task(self._deliver(http, update, slots))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                await queue.arrival(1.0)

    async def _deliver(self, http: aiohttp.ClientSession, update: dict[str, Any],
                       slots: asyncio.Semaphore) -> None:
        try:
            while True:
                self.attempts += 1
                try:
                    async with http.post(self.target, data=json.dumps(update)) as answer:
                        if 200 <= answer.status < 300:
                            self.delivered.append(update["update_id"])
                            self.tg.updates.done_with(update["update_id"])
                            return
                except (aiohttp.ClientError, TimeoutError, OSError):
                    pass
                await asyncio.sleep(RETRY_AFTER)
        finally:
            self._busy.discard(_chat_of(update))
            slots.release()
            self.tg.updates.wake()


def _chat_of(update: dict[str, Any]) -> int:
    """The chat whose order an update keeps (a poll answer: its voter's)."""
    body = next(v for k, v in update.items() if k != "update_id")
    if not isinstance(body, dict):
        return 0
    chat = body.get("chat") or (body.get("message") or {}).get("chat")
    if chat:
        return int(chat["id"])
    who = body.get("from") or body.get("user") or {}
    return int(who.get("id", 0))
