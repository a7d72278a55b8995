"""/stats [本月|上月|本周|2026年11月|month|YYYY-MM]: the assessment of the leader's scope,
in private."""

from __future__ import annotations

import asyncio

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.assess.monthly import deliveries, render_text
from bot.assess.stats import parse_period
from bot.context import LinliContext
from bot.core.errors import BadInput
from handlers.common import args, is_private, open_private, reply


async def stats(update: Update, context: LinliContext) -> None:
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    if not is_private(update):  # names and figures of leaders are not for the group
        await reply(update, context, "stats.private_only", buttons=open_private(context))
        return
    linli = context.linli
    scope = await linli.stats.scope_of(user.id)
    given = " ".join(args(context))  # 「last month」 is two words
    now = linli.clock.now()
    try:
        period = parse_period(linli.settings, given or None, now)
    except BadInput as refused:  # the usage says which periods there are
        raise BadInput("stats.usage", part=refused.params["part"]) from None
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
