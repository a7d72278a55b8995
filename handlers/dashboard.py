"""/dashboard: the community desk in the browser or as a Mini App, signed in by the bot."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.context import LinliContext
from bot.core.errors import NotAllowed
from bot.core.i18n import t
from bot.core.notifier import Button
from handlers.common import is_private, reply


async def dashboard(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    if not is_private(update):  # a sign-in link is a key: never in a group
        await reply(update, context, "web.chat.private_only")
        return
    desk = context.bot_data.get("dashboard")
    if desk is None:
        await reply(update, context, "web.chat.off")
        return
    try:
        await context.linli.stats.scope_of(user.id)  # the same rule as every page
    except NotAllowed:
        raise NotAllowed("web.refused.not_leader") from None
    link = await desk.login_link_for(user.id)
    lang = context.lang
    buttons = []
    if desk.url.startswith("https://"):  # Telegram opens Mini Apps and links over HTTPS only
        buttons = [[Button(t(lang, "web.chat.open"), web_app=f"{desk.url}/app")],
                   [Button(t(lang, "web.chat.browser"), url=link)]]
    await reply(update, context, "web.chat.text", link=link, buttons=buttons or None)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("dashboard", dashboard))
