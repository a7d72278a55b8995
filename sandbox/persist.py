"""The emulator's world kept between runs, so a sandbox reopened shows its chats as they were
and the bot's stored message ids still point at real messages.

Written atomically (a temporary file renamed over the old one). Pending updates are not kept:
the bot confirms what it took, and what it did not take is lost as on a real restart.
"""

from __future__ import annotations

import itertools
import os
import pickle
from pathlib import Path
from typing import Any

from sandbox.fakegram import FakeTelegram, api_polls

_KEPT = ("users", "chats", "messages", "polls", "files", "file_objects", "commands",
         "menu_buttons", "_sent")
_VERSION = 1


def save(tg: FakeTelegram, path: Path) -> None:
    next_file = next(tg._ids)
    tg._ids = itertools.count(next_file)
    state: dict[str, Any] = {name: getattr(tg, name) for name in _KEPT}
    state.update(version=_VERSION, next_file=next_file, next_update=tg.updates._next_id)
    temporary = path.with_suffix(".tmp")
    with temporary.open("wb") as out:
        pickle.dump(state, out, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(temporary, path)


def load(tg: FakeTelegram, path: Path) -> bool:
    """Restore what `save` wrote; False (and `tg` untouched) when there is nothing usable."""
    try:
        with path.open("rb") as source:
            state = pickle.load(source)  # noqa: S301 - our own file in our own folder
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return False
    if not isinstance(state, dict) or state.get("version") != _VERSION:
        return False
    for name in _KEPT:
        setattr(tg, name, state[name])
    tg._ids = itertools.count(state["next_file"])
    tg.updates._next_id = state["next_update"]
    polls = [int(poll_id) for poll_id in tg.polls if poll_id.isdigit()]
    if polls:  # new polls must not reuse an id the bot already knows
        api_polls._poll_ids = itertools.count(max(polls) + 1)
    return True
