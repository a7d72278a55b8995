"""Things that go wrong on Telegram's side: flood limits and injected failures."""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass

from .errors import too_many_requests


class FloodControl:
    """Sliding windows of accepted sends: bot-wide per second, per group chat per minute."""

    def __init__(self) -> None:
        self._overall: deque[float] = deque()
        self._groups: dict[int, deque[float]] = {}

    def admit(self, chat_id: int, per_second: int | None, group_per_minute: int | None,
              group_window: float = 60.0) -> None:
        """Count one send into `chat_id`, or raise 429 with the seconds until a slot frees."""
        now = time.monotonic()
        waits = []
        if per_second is not None:
            waits.append(_wait(self._overall, per_second, 1.0, now))
        group = self._groups.setdefault(chat_id, deque()) if chat_id < 0 else None
        if group is not None and group_per_minute is not None:
            waits.append(_wait(group, group_per_minute, group_window, now))
        wait = max(waits, default=0.0)
        if wait > 0:
            raise too_many_requests(max(1, math.ceil(wait)))
        self._overall.append(now)
        if group is not None:
            group.append(now)


def _wait(window: deque[float], limit: int, span: float, now: float) -> float:
    """Seconds until `window` has room for one more event (0: room now)."""
    while window and window[0] <= now - span:
        window.popleft()
    if len(window) < limit:
        return 0.0
    return window[len(window) - limit] + span - now


@dataclass(frozen=True)
class Fault:
    kind: str  # fail | hang | drop
    status: int = 500
    seconds: float = 0.0


class FaultPlan:
    """Faults queued per Bot API method, used up one call at a time in order."""

    def __init__(self) -> None:
        self._queued: dict[str, deque[Fault]] = {}

    def add(self, method: str, fault: Fault, count: int) -> None:
        self._queued.setdefault(method.lower(), deque()).extend([fault] * count)

    def take(self, method: str) -> Fault | None:
        queue = self._queued.get(method.lower())
        return queue.popleft() if queue else None
