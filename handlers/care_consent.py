"""The resident's consent to the care list (sensitive information, asked separately).

A leader's new entry waits: the answer to /care_add (a command, its form, a button pick or
a pasted list) asks whether the resident agreed in person (the leader records it) or is to
confirm themselves (the resident gets 同意/不同意 in private). Visits start with consent.
"""

from __future__ import annotations

import re

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler

from bot.context import LinliContext
from bot.core.errors import BadInput
from bot.core.i18n import number, t
from bot.core.inputs import button_number
from bot.core.notifier import Button
from bot.core.timing import local_time
from bot.service.care import CareEntry
from handlers.common import edit, reply_private

ONE = re.compile(r"^cc:(in|ask|ok|no):(\d{1,9})$")
RANGE = re.compile(r"^cc:(inall|askall):(\d{1,9}):(\d{1,9})$")


def _one_buttons(lang: str, entry: CareEntry, ask: bool = True) -> list[list[Button]]:
    buttons = [[Button(t(lang, "care.btn_in_person"), data=f"cc:in:{entry.id}")]]
    if ask and entry.user_id > 0:  # a resident with Telegram can confirm themselves
        buttons.append([Button(t(lang, "care.btn_ask_resident"), data=f"cc:ask:{entry.id}")])
    return buttons


LISTED = 10  # buttons under /care for entries still waiting


async def consent_buttons(context: LinliContext,
                          entries: list[CareEntry]) -> list[list[Button]]:
    """Under the list: record in person the consent of those still waiting."""
    linli, lang = context.linli, context.lang
    buttons = []
    for entry in [e for e in entries if e.consent is None][:LISTED]:
        name = (await linli.care.describe(entry, lang))["name"]
        buttons.append([Button(t(lang, "care.btn_in_person_named", number=number(entry.id),
                                 name=name), data=f"cc:in:{entry.id}")])
    return buttons


async def ask_for_consent(update: Update, context: LinliContext,
                          entries: list[CareEntry]) -> None:
    """The answer to a new care entry (or several): recorded, and whose consent is due."""
    linli, lang = context.linli, context.lang
    waiting = [e for e in entries if e.consent is None]
    if len(entries) > 1:
        first, last = min(e.id for e in waiting or entries), max(e.id for e in waiting or entries)
        buttons = [[Button(t(lang, "care.btn_in_person_all"), data=f"cc:inall:{first}:{last}")],
                   [Button(t(lang, "care.btn_ask_all"), data=f"cc:askall:{first}:{last}")]]
        await reply_private(update, context, "care.imported_consent" if waiting
                            else "care.imported", count=len(entries), waiting=len(waiting),
                            buttons=buttons if waiting else None)
        return
    entry = entries[0]
    d = await linli.care.describe(entry, lang)
    if entry.consent is not None:  # changed again: its visits go on
        await reply_private(update, context, "care.updated", number=number(entry.id),
                            due=local_time(linli.settings, lang, entry.next_due_at), **d)
        return
    await reply_private(update, context, "care.added_consent", number=number(entry.id),
                        buttons=_one_buttons(lang, entry), **d)


async def pressed(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    linli, lang = context.linli, context.lang
    if match := RANGE.match(query.data):
        first, last = button_number(match.group(2)), button_number(match.group(3))
        waiting = await linli.care.awaiting_between(user.id, first, last)
        if not waiting:
            raise BadInput("care.consent_none_waiting")
        await query.answer()
        ids = [e.id for e in waiting]
        if match.group(1) == "inall":
            await linli.care.consent_in_person(user.id, ids)
            await edit(update, context, "care.consent_recorded_all", count=len(ids))
            return
        asked, offline = await linli.care.ask_consent(user.id, ids)
        names = "、".join([(await linli.care.describe(e, lang))["name"] for e in offline])
        await edit(update, context, "care.consent_asked_all" if not offline
                   else "care.consent_asked_all_offline", count=len(asked), names=names,
                   buttons=[[Button(t(lang, "care.btn_in_person_all"),
                                    data=f"cc:inall:{first}:{last}")]])
        return
    match = ONE.match(query.data)
    if match is None:
        raise BadInput("error.stale_button")
    action, entry_id = match.group(1), button_number(match.group(2))
    if action in ("ok", "no"):  # the resident's own answer
        entry = await linli.care.resident_answer(user.id, entry_id, action == "ok")
        await query.answer()
        d = await linli.care.describe(entry, lang)
        await edit(update, context, "care.consent_thanks" if action == "ok"
                   else "care.consent_declined", **d)
        return
    if action == "in":
        (entry,) = await linli.care.consent_in_person(user.id, [entry_id])
        await query.answer()
        d = await linli.care.describe(entry, lang)
        await edit(update, context, "care.consent_recorded", number=number(entry.id),
                   due=local_time(linli.settings, lang, entry.next_due_at), **d)
        return
    asked, _ = await linli.care.ask_consent(user.id, [entry_id])
    if not asked:
        raise BadInput("care.consent_no_telegram")
    await query.answer()
    d = await linli.care.describe(asked[0], lang)
    await edit(update, context, "care.consent_asked", number=number(entry_id),
               buttons=_one_buttons(lang, asked[0], ask=False), **d)


def register(app: Application) -> None:
    app.add_handler(CallbackQueryHandler(pressed, pattern=r"^cc:"))
