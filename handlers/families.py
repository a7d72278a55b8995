"""最美家庭: /family (leader opens nominations), /nominate (residents), vote buttons."""

from __future__ import annotations

import re

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.context import LinliContext
from bot.core.errors import BadInput
from bot.core.i18n import t
from bot.core.inputs import button_number, visible
from handlers.common import edit, reply

OPEN_VOTE = re.compile(r"^fm:v:(\d{1,9})$")
CLOSE = re.compile(r"^fm:r:(\d{1,9})$")
VOTE = re.compile(r"^fm:x:(\d{1,9}):(\d{1,9})$")


def _rest(update: Update) -> str:
    message = update.effective_message
    assert message is not None
    parts = (message.text or "").split(maxsplit=1)
    return parts[1] if len(parts) > 1 else ""


def _match(update: Update, pattern: re.Pattern[str]) -> re.Match[str]:
    query = update.callback_query
    assert query is not None
    match = pattern.match(query.data or "")
    if match is None:
        raise BadInput("error.stale_button")
    return match


async def open_selection(update: Update, context: LinliContext) -> None:
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    await context.linli.families.open(user.id, _rest(update), context.lang, chat.id)


async def nominate(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    text = _rest(update)
    if not visible(text):
        raise BadInput("family.nominate_usage")
    selection, household, replaced = await context.linli.families.nominate(user.id, text)
    await reply(update, context, "family.nominated_again" if replaced else "family.nominated",
                household=household, title=selection.title)


async def open_vote_pressed(update: Update, context: LinliContext) -> None:
    user, query = update.effective_user, update.callback_query
    assert user is not None and query is not None
    families = context.linli.families
    selection = await families.open_vote(user.id, button_number(_match(update, OPEN_VOTE).group(1)))
    await query.answer()
    await edit(update, context, "family.voting", title=selection.title, public=True,
               buttons=families.leader_buttons(selection, context.lang))


async def close_pressed(update: Update, context: LinliContext) -> None:
    user, query = update.effective_user, update.callback_query
    assert user is not None and query is not None
    selection_id = button_number(_match(update, CLOSE).group(1))
    winners = await context.linli.families.close(user.id, selection_id)
    await query.answer()
    await edit(update, context, "family.closed", count=len(winners), public=True)


async def vote_pressed(update: Update, context: LinliContext) -> None:
    user, query = update.effective_user, update.callback_query
    assert user is not None and query is not None
    match = _match(update, VOTE)
    key = await context.linli.families.vote(user.id, button_number(match.group(1)),
                                            button_number(match.group(2)))
    await query.answer(t(context.lang, key))


def register(app: Application) -> None:
    app.add_handler(CommandHandler("family", open_selection))
    app.add_handler(CommandHandler("nominate", nominate))
    app.add_handler(CallbackQueryHandler(open_vote_pressed, pattern=r"^fm:v:"))
    app.add_handler(CallbackQueryHandler(close_pressed, pattern=r"^fm:r:"))
    app.add_handler(CallbackQueryHandler(vote_pressed, pattern=r"^fm:x:"))
