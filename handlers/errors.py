"""The one place errors become words: domain errors translated, the rest apologised for."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, MessageHandler, filters

from bot.context import LinliContext
from bot.core.errors import LinliError
from bot.core.i18n import t
from bot.core.notifier import Outgoing
from handlers.common import command_for_us, is_private, reply, thread_of

log = logging.getLogger(__name__)


async def on_error(update: object, context: LinliContext) -> None:
    error = context.error
    if not isinstance(update, Update):
        log.error("error outside an update", exc_info=error)
        return
    if isinstance(error, LinliError):
        # the key only: the parameters may quote what the user typed (a unit, a text)
        log.info("refused update %s: %s", update.update_id, error.key)
        key, params = error.key, error.params
    else:
        log.error("update %s failed", update.update_id, exc_info=error)
        key, params = "error.internal", {}
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(t(context.lang, key, **params), show_alert=True)
        elif isinstance(error, LinliError) and await _leader_in_group(update, context):
            await _tell_leader_privately(update, context, key, params)
        elif update.effective_chat is not None and update.effective_message is not None:
            await reply(update, context, key, **params)
    except Exception:
        log.exception("could not tell the user about an error")


async def _leader_in_group(update: Update, context: LinliContext) -> bool:
    user = update.effective_user
    if is_private(update) or user is None or update.effective_message is None:
        return False
    roles = await context.linli.org.roles(user.id)
    return roles.leader or roles.admin


async def _tell_leader_privately(update: Update, context: LinliContext, key: str,
                                 params: dict[str, object]) -> None:
    """A leader's mistake typed in a group (wrong syntax, a refusal) is answered in private;
    the group sees it only if the private chat cannot be reached."""
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    text = t(context.lang, key, **params)
    await context.linli.notifier.send(Outgoing(
        user.id, text, fallback=Outgoing(chat.id, text, thread_id=thread_of(update))))


async def unknown_command(update: Update, context: LinliContext) -> None:
    message = update.effective_message
    assert message is not None and message.text is not None
    command = message.text.split()[0]
    if "@" in command and command_for_us(command, context.bot.username) is None:
        return  # addressed to another bot in the group
    await reply(update, context, "error.unknown_command", command=command.split("@")[0])


def register(app: Application) -> None:
    app.add_error_handler(on_error)


async def unknown_button(update: Update, context: LinliContext) -> None:
    """Data no button of ours carries (an old client, a forged press): say so, change nothing."""
    query = update.callback_query
    assert query is not None
    log.info("unknown callback data %r from %s", query.data, query.from_user.id)
    await query.answer(t(context.lang, "error.stale_button"), show_alert=True)


def register_fallbacks(app: Application) -> None:
    # group 0, registered after every other handler: runs only when none matched
    app.add_handler(MessageHandler(filters.COMMAND, unknown_command))
    app.add_handler(CallbackQueryHandler(unknown_button))
