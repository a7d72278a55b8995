"""The private menu of big buttons, for residents who do not type commands.

A persistent reply keyboard: 反映问题 · 我的诉求 · 社区活动 · 我要求助 · 使用说明, and
待我处理 for leaders. Each button's text comes back as a message; it does what its
command does. Registered before the private catch-all (handlers/__init__.py), so a
button is never taken for the answer to a question or for a report.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.ext import Application, MessageHandler, filters

from bot.context import LinliContext
from bot.core.i18n import LANGUAGES, t

Action = Callable[[Update, LinliContext], Awaitable[None]]
RESIDENT_ROWS = [["report", "myreports"], ["events", "help_request"], ["help"]]
LEADER_ROWS = [["report", "myreports"], ["events", "help_request"], ["queue", "help"]]


def keyboard(lang: str, leader: bool) -> list[list[str]]:
    return [[t(lang, f"keyboard.{name}") for name in row]
            for row in (LEADER_ROWS if leader else RESIDENT_ROWS)]


async def keyboard_for(update: Update, context: LinliContext) -> list[list[str]] | None:
    """The menu for this user, in private chat only (a group keeps its own keyboard)."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or chat.type != "private" or user is None:
        return None
    return keyboard(context.lang, (await context.linli.org.roles(user.id)).leader)


def _actions() -> dict[str, Action]:
    # imported here: these modules import handlers.common, as this one's users do
    from handlers.events import list_events
    from handlers.report_actions import my_reports, queue
    from handlers.reports import start_flow
    from handlers.start import help_command
    from handlers.volunteers import help_request
    return {"report": start_flow, "myreports": my_reports, "events": list_events,
            "help_request": help_request, "help": help_command, "queue": queue}


_LABELS = {t(lang, f"keyboard.{name}"): name for lang in LANGUAGES
           for name in ("report", "myreports", "events", "help_request", "help", "queue")}


async def pressed(update: Update, context: LinliContext) -> None:
    message = update.effective_message
    assert message is not None and message.text is not None
    await _actions()[_LABELS[message.text.strip()]](update, context)


def register(app: Application) -> None:
    app.add_handler(MessageHandler(
        filters.ChatType.PRIVATE & filters.Text(list(_LABELS)), pressed))
