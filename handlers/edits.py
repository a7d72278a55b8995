"""What an edited message means: nothing is done again.

Telegram sends an edit as an update of its own, and python-telegram-bot hands it to
command and message handlers like a new message, so an edited /report filed a second
report and an edited /broadcast sent a second broadcast. Here every edit stops before
any command, button or answer to a pending question sees it. The writer hears once per
message (the outbox's dedup key) that edits are not read again, and only in private:
in a private chat whatever they edit; in a group only an edited command of ours, and the
word goes to their private chat, never into the group. Live locations arrive as edits
too and say nothing. Registered first in group 0 (see handlers/__init__.py).
"""

from __future__ import annotations

from telegram import Message, Update
from telegram.ext import Application, ApplicationHandlerStop, MessageHandler, filters

from bot.context import LinliContext
from bot.core.i18n import t
from bot.core.notifier import Outgoing
from handlers.common import command_for_us


def _worth_a_word(message: Message, bot_username: str) -> bool:
    written = message.text if message.text is not None else message.caption
    if written is None or message.from_user is None or message.from_user.is_bot:
        return False  # a live location moving, a poll, a channel
    if message.chat.type == "private":
        return True
    return command_for_us(written, bot_username) is not None


async def _reachable(context: LinliContext, message: Message) -> bool:
    """In private we can answer; from a group, only someone who opened a private chat."""
    assert message.from_user is not None
    if message.chat.type == "private":
        return True
    row = await context.linli.users.get(message.from_user.id)
    return row is not None and row.started and not row.unreachable


async def edited(update: Update, context: LinliContext) -> None:
    message = update.effective_message
    if (message is not None and _worth_a_word(message, context.bot.username)
            and await _reachable(context, message)):
        assert message.from_user is not None
        await context.linli.notifier.send(Outgoing(
            message.from_user.id, t(context.lang, "edited.not_reread"),
            dedup_key=f"edited:{message.chat_id}:{message.message_id}"))
    raise ApplicationHandlerStop  # no later group either


def register(app: Application) -> None:
    app.add_handler(MessageHandler(filters.UpdateType.EDITED, edited))
