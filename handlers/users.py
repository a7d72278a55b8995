"""Runs first for every update: remember the user and settle their language."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, TypeHandler

from bot.context import LinliContext
from bot.core.i18n import pick_language


async def remember_user(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    if user is None or user.is_bot:
        return
    linli = context.linli
    chat = update.effective_chat
    # any update from the private chat shows it is open, except the user blocking us
    private = (
        chat is not None and chat.type == "private" and update.my_chat_member is None
    )
    row = await linli.users.touch(
        user.id, first_name=user.first_name, last_name=user.last_name, username=user.username,
        language_code=user.language_code, private=private, now=linli.clock.now(),
    )
    context.lang = pick_language(row.language, user.language_code, linli.settings.language)


def register(app: Application) -> None:
    app.add_handler(TypeHandler(Update, remember_user), group=-2)
