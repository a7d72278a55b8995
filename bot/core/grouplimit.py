"""Telegram's limit for one group: 20 messages a minute, counted over any 60 seconds.

PTB's AIORateLimiter meters groups with a bucket that refills (after a quiet minute it
lets 20 through at once and then one every 3 s, so up to about 40 land in one minute);
Telegram answers the excess with 429, and the limiter then holds back every send of the
bot, to every chat, for the wait Telegram names (up to a minute). The notifier asks this
window first and leaves a full group's messages queued, so other chats go on.

Edits (a +1 counter going up) may take at most three quarters of a window: the last
quarter is kept for new messages, so a resident's receipt in a group where 60
neighbours press +1 still goes out within seconds.
"""

from __future__ import annotations

import time
from collections import deque


class GroupWindow:
    def __init__(self, per_window: int | None = 20, seconds: float = 60.0) -> None:
        self.per_window = per_window  # None: no limit (tests of other things)
        self.seconds = seconds
        self._sent: dict[int, deque[tuple[float, bool]]] = {}  # (when, an edit)

    def sent(self, chat_id: int, edit: bool = False) -> None:
        """A message into `chat_id` is on its way (users' private chats are not counted)."""
        if chat_id < 0 and self.per_window is not None:
            self._sent.setdefault(chat_id, deque()).append((time.monotonic(), edit))

    def full(self, for_edits: bool = False) -> list[int]:
        """The groups that must wait (with ``for_edits``: where edits must wait, as edits
        already took three quarters of the window); forgets groups quiet for a window."""
        if self.per_window is None:
            return []
        edits_limit = max(self.per_window - max(self.per_window // 4, 1), 1)
        edge = time.monotonic() - self.seconds
        waiting = []
        for chat_id in list(self._sent):
            window = self._sent[chat_id]
            while window and window[0][0] <= edge:
                window.popleft()
            if not window:
                del self._sent[chat_id]
            elif len(window) >= self.per_window or (
                    for_edits and sum(edit for _, edit in window) >= edits_limit):
                waiting.append(chat_id)
        return waiting
