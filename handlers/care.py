"""The care list (leaders only, private only): /care, /care_add, /care_remove, check-ins."""

from __future__ import annotations

import re
from datetime import timedelta

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.context import LinliContext
from bot.core.errors import BadInput, LinliError
from bot.core.i18n import Markup, number, t
from bot.core.timing import local_time
from bot.services import PendingInput
from handlers.common import args, is_private, reply
from handlers.inputs import on_answer

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
    """One entry, or several pasted at once (one per line after the command)."""
    user, message = update.effective_user, update.effective_message
    assert user is not None and message is not None
    if not await _private(update, context):
        return
    linli, lang = context.linli, context.lang
    first, *more = (message.text or "").split("\n")
    lines = [ln.split() for ln in [" ".join(first.split()[1:]), *more]]
    lines = [ln for ln in lines if ln]
    if not lines or any(len(ln) < 3 for ln in lines):
        await linli.care.require_leader(user.id)
        raise BadInput("care.usage_add")
    drafts = []
    for n, words in enumerate(lines, start=1):
        try:
            # 「刘奶奶 1-302 独居老人 P7D」: a resident without Telegram, by name and unit
            offline = (len(words) >= 4 and not linli.care.is_kind(words[1])
                       and linli.care.is_kind(words[2]))
            unit = words.pop(1) if offline else None
            drafts.append(await linli.care.prepare(user.id, words[0], words[1], words[2],
                                                   " ".join(words[3:]) or None, unit=unit))
        except LinliError as problem:
            if len(lines) == 1:
                raise
            await reply(update, context, "care.import_rejected", line=n, text=" ".join(words),
                        reason=Markup(t(lang, problem.key, **problem.params)))
            return
    added = await linli.care.add_all(user.id, drafts)
    if len(added) > 1:
        await reply(update, context, "care.imported", count=len(added))
        return
    entry = added[0][0]
    d = await linli.care.describe(entry, lang)
    await reply(update, context, "care.added", number=number(entry.id),
                due=local_time(linli.settings, lang, entry.next_due_at), **d)


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
