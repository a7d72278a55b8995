"""The update queue behind getUpdates: ids, offsets, allowed_updates and long polling."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
from typing import Any

from .errors import GET_UPDATES_CONFLICT, ApiError

JSON = dict[str, Any]

# What a bot receives when it never passed allowed_updates (or passed []): chat_member is
# opt-in on Telegram. Only the types the fake produces are listed.
DEFAULT_UPDATE_TYPES = frozenset(
    {"message", "edited_message", "callback_query", "poll", "poll_answer", "my_chat_member"}
)


def update_type(update: JSON) -> str:
    return next(key for key in update if key != "update_id")


class UpdateQueue:
    def __init__(self) -> None:
        self.allowed_updates: list[str] | None = None  # as the bot last passed it
        self.closing = False
        self._queued: list[JSON] = []
        self._next_id = 1
        self._arrived = asyncio.Event()
        self._poller = 0  # which getUpdates call is the current one

    def push(self, kind: str, payload: JSON) -> JSON:
        update = {"update_id": self._next_id, kind: copy.deepcopy(payload)}
        self._next_id += 1
        self._queued.append(update)
        self._arrived.set()
        return update

    def redeliver(self, update: JSON) -> None:
        """Deliver an update again, as Telegram does when the bot died before confirming it
        (its offset never came): same update_id, ahead of anything newer."""
        self._queued = [u for u in self._queued if u["update_id"] != update["update_id"]]
        self._queued.insert(0, copy.deepcopy(update))
        self._queued.sort(key=lambda u: u["update_id"])
        self._arrived.set()

    def pending(self) -> int:
        """Updates queued and not yet confirmed by an offset."""
        return len(self._queued)

    def confirm(self, offset: int) -> None:
        """getUpdates' `offset`: forget what came before (negative: keep only the last -N)."""
        if offset < 0:
            self._queued = self._queued[offset:]
        else:
            self._queued = [u for u in self._queued if u["update_id"] >= offset]

    def drop_all(self) -> None:
        self._queued.clear()

    def close(self) -> None:
        """Let a waiting long poll return now (the server is stopping)."""
        self.closing = True
        self._arrived.set()

    def deliverable(self) -> list[JSON]:
        """What a webhook delivers next: every queued update of the allowed types."""
        return self._deliverable(len(self._queued))

    def done_with(self, update_id: int) -> None:
        """The webhook answered 2xx: the update is not delivered again."""
        self._queued = [u for u in self._queued if u["update_id"] != update_id]

    def wake(self) -> None:
        """Let a waiting webhook deliverer look again (a chat's update was answered)."""
        self._arrived.set()

    async def arrival(self, timeout: float) -> None:
        """Wait until an update is queued (or the time is up). asyncio.timeout, not
        wait_for: on Python 3.11 wait_for may swallow a cancellation."""
        self._arrived.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._arrived.wait()

    def _deliverable(self, limit: int) -> list[JSON]:
        """The next updates of the allowed types; the others are dropped as Telegram does."""
        allowed = frozenset(self.allowed_updates or DEFAULT_UPDATE_TYPES)
        self._queued = [u for u in self._queued if update_type(u) in allowed]
        return copy.deepcopy(self._queued[:limit])

    async def poll(self, limit: int, timeout: float) -> list[JSON]:
        """Long polling: return at once when updates wait, else when one arrives or time is up.

        A newer getUpdates call ends an older one with 409 Conflict, as on Telegram.
        """
        self._poller += 1
        me = self._poller
        self._arrived.set()  # wake an older poller so it can step aside
        deadline = time.monotonic() + timeout
        while True:
            if me != self._poller:
                raise ApiError(409, GET_UPDATES_CONFLICT)
            updates = self._deliverable(limit)
            remaining = deadline - time.monotonic()
            if updates or remaining <= 0 or self.closing:
                return updates
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)
