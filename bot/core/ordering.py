"""Updates run concurrently across chats, but in order within one chat.

A resident who sends /report and then /cancel, or a photo and then a location,
must see them handled in that order; a leader's button press in one chat must
not wait for a slow update in another.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.core import metrics
from storage.db import HandlingUpdate, handling_update

log = logging.getLogger(__name__)
KEEP_TIMINGS = 200_000  # the most recent handler times kept for the shutdown summary


def chat_key(update: object) -> int:
    """Whose order an update keeps: its chat's (or, without a chat, its user's)."""
    if isinstance(update, Update):
        if update.effective_chat is not None:
            return update.effective_chat.id
        if update.effective_user is not None:
            return update.effective_user.id
    return 0


class PerChatUpdateProcessor(BaseUpdateProcessor):
    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}  # how many updates hold or wait for each lock
        # told when an update is done with (the inbox marks it handled)
        self.on_finished: Callable[[HandlingUpdate], None] | None = None
        self.handled = 0
        # several instances on PostgreSQL: a chat's turn across them (bot.core.inbox)
        self.turns: Any = None
        self._timings: list[float] = []  # seconds in the handlers, waiting for the chat excluded

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = chat_key(update)
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        handling = HandlingUpdate(update.update_id) if isinstance(update, Update) else None
        token = handling_update.set(handling)  # the handlers' transactions see it
        try:
            async with lock:
                if self.turns is not None and handling is not None:
                    async with self.turns.turn(key, handling.update_id):
                        began = time.perf_counter()
                        await coroutine
                else:
                    began = time.perf_counter()
                    await coroutine
                self._timed(time.perf_counter() - began)
        finally:
            handling_update.reset(token)
            self._users[key] -= 1
            if not self._users[key]:  # forget idle chats: memory stays flat
                del self._users[key], self._locks[key]
            if handling is not None and self.on_finished is not None:
                self.on_finished(handling)

    @property
    def busy(self) -> bool:
        """Some update is being handled or waits for its chat."""
        return bool(self._users)

    def _timed(self, seconds: float) -> None:
        self.handled += 1
        metrics.UPDATES.inc()
        metrics.HANDLER_SECONDS.observe(seconds)
        if len(self._timings) >= KEEP_TIMINGS:
            del self._timings[:KEEP_TIMINGS // 2]
        self._timings.append(seconds)

    def latency_ms(self, *shares: float) -> list[float]:
        """The handler times (ms) that these shares of recent updates stayed within."""
        ordered = sorted(self._timings) or [0.0]
        return [ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000
                for share in shares]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        if self.handled:  # one line for the operator (and bench/district.py) at each stop
            log.info("handled %d updates: handler time p50 %.1f ms, p99 %.1f ms, max %.1f ms",
                     self.handled, *self.latency_ms(0.5, 0.99, 1.0))
