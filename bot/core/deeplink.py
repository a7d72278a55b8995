"""Deep links into the private chat: https://t.me/<bot>?start=<payload>.

Wherever the bot asks someone in a group to open a private chat, it attaches one of
these as a URL button; the payload tells the bot what to show on arrival (handlers/
start.py): ``r12`` report #12 (its status, and the rating if it waits for one), ``q``
the leader's queue, ``report`` the guided report flow, ``hi`` the welcome.
"""

from __future__ import annotations

from bot.core.i18n import t
from bot.core.notifier import Button, Notifier

REPORT = "r"  # followed by the number
QUEUE = "q"
NEW_REPORT = "report"
WELCOME = "hi"


def username(notifier: Notifier) -> str | None:
    """The bot's username, once the notifier runs with a bot that knows itself."""
    try:
        return notifier.bot.username if notifier.bot is not None else None
    except RuntimeError:  # ExtBot not initialised yet
        return None


def start_url(bot_username: str, payload: str) -> str:
    return f"https://t.me/{bot_username}?start={payload}"


def open_private(lang: str, bot_username: str | None,
                 payload: str = WELCOME) -> list[list[Button]] | None:
    """The one button under a group message asking someone to open the private chat."""
    if not bot_username:
        return None
    return [[Button(t(lang, "deeplink.open"), url=start_url(bot_username, payload))]]
