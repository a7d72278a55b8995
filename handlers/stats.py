"""/stats [month|week|YYYY-MM]: the assessment of the leader's scope, in private."""

from __future__ import annotations

import asyncio

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.assess.monthly import deliveries, render_text
from bot.assess.stats import parse_period
from bot.context import LinliContext
from handlers.common import args, is_private, open_private, reply


async def stats(update: Update, context: LinliContext) -> None:
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    if not is_private(update):  # names and figures of leaders are not for the group
        await reply(update, context, "stats.private_only", buttons=open_private(context))
        return
    linli = context.linli
    scope = await linli.stats.scope_of(user.id)
    given = args(context)
    if len(given) > 1:
        await reply(update, context, "stats.usage")
        return
    now = linli.clock.now()
    period = parse_period(linli.settings, given[0] if given else None, now)
    assessment = await linli.stats.compute(scope, period, now)
    text = render_text(assessment, context.lang)
    # the chart takes a moment to draw: off the event loop
    messages = await asyncio.to_thread(deliveries, assessment, chat.id, context.lang, text)
    async with linli.db.write() as tx:
        for message in messages:
            await linli.notifier.enqueue(tx, message)
    linli.notifier.kick()


def register(app: Application) -> None:
    app.add_handler(CommandHandler("stats", stats))
