"""/broadcast (leader), /broadcasts (list and cancel)."""

from __future__ import annotations

import re

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.context import LinliContext
from bot.core.errors import BadInput
from bot.core.i18n import Markup, number, t
from bot.core.inputs import button_number, visible
from bot.core.notifier import Button
from handlers.common import CaptionCommand, edit, reply, thread_of
from handlers.service_forms import BROADCAST

CANCEL_DATA = re.compile(r"^bc:x:(\d{1,9})$")


def _request(update: Update) -> str:
    message = update.effective_message
    assert message is not None
    raw = message.text or message.caption or ""
    parts = raw.split(maxsplit=1)
    return parts[1] if len(parts) > 1 else ""


async def broadcast(update: Update, context: LinliContext) -> None:
    user, message = update.effective_user, update.effective_message
    assert user is not None and message is not None
    linli = context.linli
    request = _request(update)
    if not visible(request) and not message.photo:  # step by step, in private
        await BROADCAST.start(update, context)
        return
    if not visible(request):
        if not (await linli.org.roles(user.id)).leader:
            raise BadInput("broadcast.leaders_only")
        await reply(update, context, "broadcast.usage")
        return
    photo = message.photo[-1].file_id if message.photo else None
    await linli.broadcasts.create(user.id, request, photo, lang=context.lang,
                                  reply_to=message.chat_id, thread_id=thread_of(update))


async def list_broadcasts(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    linli, lang = context.linli, context.lang
    if not (await linli.org.roles(user.id)).leader:
        raise BadInput("broadcast.leaders_only")
    scheduled = await linli.broadcasts.scheduled(user.id)
    if not scheduled:
        await reply(update, context, "broadcast.none_scheduled")
        return
    lines, buttons = [], []
    for b in scheduled[:20]:
        lines.append(t(lang, "broadcast.list_line", number=number(b.id),
                       when=linli.broadcasts.describe_schedule(b, lang), text=b.text[:40]))
        buttons.append([Button(t(lang, "broadcast.btn_cancel_n", number=number(b.id)),
                               data=f"bc:x:{b.id}")])
    await reply(update, context, "broadcast.list", lines=Markup("\n".join(lines)), buttons=buttons)


async def cancel_pressed(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    match = CANCEL_DATA.match(query.data)
    if match is None:
        raise BadInput("error.stale_button")
    b = await context.linli.broadcasts.cancel(user.id, button_number(match.group(1)))
    await query.answer()
    await edit(update, context, "broadcast.cancelled", number=number(b.id), public=True)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("broadcast", broadcast))
    app.add_handler(MessageHandler(filters.PHOTO & CaptionCommand("broadcast"), broadcast))
    app.add_handler(CommandHandler("broadcasts", list_broadcasts))
    app.add_handler(CallbackQueryHandler(cancel_pressed, pattern=r"^bc:x:"))
