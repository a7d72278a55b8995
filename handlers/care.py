"""The care list (leaders only, private only): /care, /care_add, /care_remove, check-ins."""

from __future__ import annotations

import re
from datetime import timedelta

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.context import LinliContext
from bot.errors import BadInput
from bot.i18n import Markup, number, t
from bot.report_notices import local_time
from handlers.common import args, is_private, reply
from handlers.inputs import on_answer
from storage.pending import PendingInput

NOTE = "care_note"
NOTE_LIFETIME = timedelta(hours=2)
CHECK_IN_DATA = re.compile(r"^cv:in:(\d{1,9})$")


async def _private(update: Update, context: LinliContext) -> bool:
    """Care data is never shown in a group."""
    if is_private(update):
        return True
    await reply(update, context, "care.private_only")
    return False


async def care(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    if not await _private(update, context):
        return
    linli, lang = context.linli, context.lang
    entries = await linli.care.visible_entries(user.id)
    if not entries:
        await reply(update, context, "care.list_empty")
        return
    lines = []
    for entry in entries:
        d = await linli.care.describe(entry, lang)
        lines.append(t(lang, "care.list_line", number=number(entry.id),
                       due=local_time(linli.settings, lang, entry.next_due_at), **d))
    await reply(update, context, "care.list", count=len(entries), lines=Markup("\n".join(lines)))


async def care_add(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    if not await _private(update, context):
        return
    given = args(context)
    if len(given) < 3:
        await context.linli.care.require_leader(user.id)
        raise BadInput("care.usage_add")
    entry, node = await context.linli.care.add(user.id, given[0], given[1], given[2],
                                               " ".join(given[3:]) or None)
    d = await context.linli.care.describe(entry, context.lang)
    await reply(update, context, "care.added", number=number(entry.id),
                due=local_time(context.linli.settings, context.lang, entry.next_due_at), **d)


async def care_remove(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    if not await _private(update, context):
        return
    given = args(context)
    if len(given) != 1 or not given[0].lstrip("#").isdigit():
        await context.linli.care.require_leader(user.id)
        raise BadInput("care.usage_remove")
    entry = await context.linli.care.remove(user.id, int(given[0].lstrip("#")))
    await reply(update, context, "care.removed", number=number(entry.id))


async def check_in_pressed(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    match = CHECK_IN_DATA.match(query.data)
    if match is None:
        raise BadInput("error.stale_button")
    linli = context.linli
    visit = await linli.care.checkable(user.id, int(match.group(1)))  # refuses others
    await query.answer()
    now = linli.clock.now()
    await linli.pending.expect(user.id, user.id, NOTE, {"visit": visit.id},
                               now + NOTE_LIFETIME, now)
    await reply(update, context, "care.ask_note", number=number(visit.id))


async def note_answered(update: Update, context: LinliContext, pending: PendingInput) -> None:
    user, message = update.effective_user, update.effective_message
    assert user is not None and message is not None
    linli = context.linli
    visit, following = await linli.care.check_in(user.id, int(pending.payload["visit"]),
                                                 message.text or "")
    await linli.pending.clear(user.id, NOTE)
    await reply(update, context, "care.checked_in", number=number(visit.id),
                next=local_time(linli.settings, context.lang, following))


def register(app: Application) -> None:
    app.add_handler(CommandHandler("care", care))
    app.add_handler(CommandHandler("care_add", care_add))
    app.add_handler(CommandHandler("care_remove", care_remove))
    app.add_handler(CallbackQueryHandler(check_in_pressed, pattern=r"^cv:"))
    on_answer(NOTE, note_answered)
