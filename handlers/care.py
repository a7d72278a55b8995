"""The care list (leaders only, private only): /care, /care_add, /care_remove, check-ins."""

from __future__ import annotations

import re
from datetime import timedelta

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.context import LinliContext
from bot.core.errors import BadInput, LinliError
from bot.core.i18n import Markup, esc, number, t
from bot.core.inputs import button_number, record_number
from bot.core.notifier import Button
from bot.core.timing import local_time
from bot.services import PendingInput
from handlers.care_consent import ask_for_consent, consent_buttons
from handlers.common import args, is_private, open_private, reply, rows
from handlers.inputs import on_answer
from handlers.service_forms import CARE

NOTE = "care_note"
NOTE_LIFETIME = timedelta(hours=2)
CHECK_IN_DATA = re.compile(r"^cv:in:(\d{1,9})$")
PICK_DATA = re.compile(r"^ca:p:(-?\d{1,12}):([a-z_]{1,20}):(\S{1,24})$")
PICKS_SHOWN = 24


async def _private(update: Update, context: LinliContext) -> bool:
    """Care data is never shown in a group."""
    if is_private(update):
        return True
    await reply(update, context, "care.private_only", buttons=open_private(context))
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
        if entry.consent is None:  # no visits until the resident agrees
            lines.append(t(lang, "care.list_line_waiting", number=number(entry.id), **d))
            continue
        lines.append(t(lang, "care.list_line", number=number(entry.id),
                       due=local_time(linli.settings, lang, entry.next_due_at),
                       consent=t(lang, f"care.consent_state.{entry.consent}"), **d))
    await reply(update, context, "care.list", count=len(entries), lines=Markup("\n".join(lines)),
                buttons=await consent_buttons(context, entries) or None)


def _replied_to(update: Update) -> int | None:
    """The author of the message this command replies to (a resident), if any."""
    message, user = update.effective_message, update.effective_user
    replied = message.reply_to_message if message else None
    author = replied.from_user if replied else None
    if author is None or author.is_bot or user is None or author.id == user.id:
        return None
    return author.id


async def care_add(update: Update, context: LinliContext) -> None:
    """One entry, or several pasted at once (one per line after the command). The
    resident may also be the author of the message replied to (in a group too: the answer
    goes to the leader in private), or picked from buttons (kind and cadence given only)."""
    user, message = update.effective_user, update.effective_message
    assert user is not None and message is not None
    replied = _replied_to(update)
    if replied is None and not " ".join((message.text or "").split()[1:]):
        await CARE.start(update, context)  # step by step, in private
        return
    if replied is None and not await _private(update, context):
        return
    linli, lang = context.linli, context.lang
    first, *more = (message.text or "").split("\n")
    lines = [ln.split() for ln in [" ".join(first.split()[1:]), *more]]
    lines = [ln for ln in lines if ln]
    if replied is not None and len(lines) == 1:
        lines[0].insert(0, str(replied))
    elif len(lines) == 1 and len(lines[0]) == 2 and linli.care.is_kind(lines[0][0]):
        await _offer_residents(update, context, lines[0][0], lines[0][1])
        return
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
    await ask_for_consent(update, context, [entry for entry, _ in added])


async def _offer_residents(update: Update, context: LinliContext, kind_text: str,
                           cadence_text: str) -> None:
    """Kind and cadence without a resident: the residents of the leader's area as buttons."""
    user = update.effective_user
    assert user is not None
    linli = context.linli
    kind = linli.care.parse_kind(kind_text)
    linli.care.parse_cadence(cadence_text)  # refused now rather than on the press
    residents = await linli.org_repo.residents_in(await linli.care.scope_ids(user.id),
                                                  limit=PICKS_SHOWN)
    buttons = []
    for r in residents:
        data = f"ca:p:{r.user_id}:{kind}:{cadence_text}"
        if len(data.encode()) <= 64 and PICK_DATA.match(data):
            label = r.name or await linli.report_notices.person(r.user_id)
            buttons.append(Button(esc(label + (f"（{r.unit}）" if r.unit else "")), data=data))
    if not buttons:
        raise BadInput("care.no_residents_to_pick")
    await reply(update, context, "care.pick_resident", buttons=rows(buttons, per_row=2))


async def resident_picked(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    match = PICK_DATA.match(query.data)
    if match is None:
        raise BadInput("error.stale_button")
    linli = context.linli
    who, kind, cadence = match.groups()
    draft = await linli.care.prepare(user.id, who, kind, cadence, None)  # refuses others
    added = await linli.care.add_all(user.id, [draft])
    await query.answer()
    await ask_for_consent(update, context, [added[0][0]])


async def care_remove(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    if not await _private(update, context):
        return
    given = args(context)
    wanted = record_number(given[0]) if len(given) == 1 else None
    if wanted is None:
        await context.linli.care.require_leader(user.id)
        raise BadInput("care.usage_remove")
    entry = await context.linli.care.remove(user.id, wanted)
    await reply(update, context, "care.removed", number=number(entry.id))


async def check_in_pressed(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    match = CHECK_IN_DATA.match(query.data)
    if match is None:
        raise BadInput("error.stale_button")
    linli = context.linli
    visit = await linli.care.checkable(user.id, button_number(match.group(1)))  # refuses others
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
    app.add_handler(CallbackQueryHandler(resident_picked, pattern=r"^ca:p:"))
    on_answer(NOTE, note_answered)
