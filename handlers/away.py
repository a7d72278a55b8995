"""/away: a leader away names a stand-in (one line, or buttons); /away 结束 when back."""

from __future__ import annotations

import re
from datetime import date, timedelta

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.context import LinliContext
from bot.core.errors import BadInput, NotFound
from bot.core.i18n import esc, t
from bot.core.notifier import Button
from bot.org.away import day_name
from bot.services import PendingInput
from handlers.common import args, edit, reply, rows, tell_user
from handlers.inputs import on_answer

DAYS = "away_days"
DAYS_LIFETIME = timedelta(minutes=30)
END_WORDS = ("结束", "回来了", "取消", "end", "back")
PICK_DATA = re.compile(r"^aw:to:(\d{1,12}):(\d{8}):(\d{8}):(\d{1,12})$")


def _day(text: str) -> date:
    return date(int(text[:4]), int(text[4:6]), int(text[6:]))


async def away(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    linli = context.linli
    words = args(context)
    if not words:
        await _show(update, context)
        return
    if len(words) == 1 and words[0].lower() in END_WORDS:
        await _end(update, context, user.id)
        return
    absent = user.id
    if len(words) >= 3:  # 「/away @王邻长 12-05 12-10 @李楼长」: the secretary, for another
        try:
            absent = await linli.away.find_leader(words[0])
            words = words[1:]
        except NotFound:
            absent = user.id
    await linli.away.may_set(user.id, absent)
    stand_in_word = words[-1] if len(words) >= 2 and not words[-1][:1].isdigit() else None
    if stand_in_word is not None:
        try:
            stand_in = await linli.away.find_leader(stand_in_word)
        except NotFound:
            stand_in = None  # perhaps a day: read them all as days below
        else:
            first, last = linli.away.read_days(" ".join(words[:-1]))
            await _set(update, context, absent, first, last, stand_in)
            return
    first, last = linli.away.read_days(" ".join(words))
    await _offer_stand_ins(update, context, absent, first, last)


async def _show(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    linli, lang = context.linli, context.lang
    await linli.away.may_set(user.id, user.id)
    current = await linli.away.current(user.id)
    if current is None:
        await reply(update, context, "away.none", buttons=[[
            Button(t(lang, "away.btn_set"), data="aw:set")]])
        return
    tz = linli.settings.tz
    await reply(update, context, "away.current",
                first=day_name(current.starts_at.astimezone(tz).date(), lang),
                last=day_name((current.ends_at - timedelta(seconds=1)).astimezone(tz).date(), lang),
                name=await linli.report_notices.person(current.stand_in_id),
                buttons=[[Button(t(lang, "away.btn_change"), data="aw:set"),
                          Button(t(lang, "away.btn_end"), data="aw:end")]])


async def _offer_stand_ins(update: Update, context: LinliContext, absent: int, first: date,
                           last: date) -> None:
    user = update.effective_user
    assert user is not None
    linli = context.linli
    choices = await linli.away.stand_in_choices(absent, user.id)
    if not choices:
        raise BadInput("away.no_stand_in")
    span = f"{first:%Y%m%d}:{last:%Y%m%d}"
    buttons = [Button(esc(ld.name or await linli.report_notices.person(ld.user_id)),
                      data=f"aw:to:{absent}:{span}:{ld.user_id}") for ld in choices]
    await reply(update, context, "away.pick_stand_in", first=day_name(first, context.lang),
                last=day_name(last, context.lang), buttons=rows(buttons, per_row=2))


async def _set(update: Update, context: LinliContext, absent: int, first: date, last: date,
               stand_in: int, *, pressed: bool = False) -> None:
    user = update.effective_user
    assert user is not None
    linli, lang = context.linli, context.lang
    await linli.away.set(user.id, absent, first, last, stand_in)
    notices = linli.report_notices
    params = {"first": day_name(first, lang), "last": day_name(last, lang),
              "name": await notices.person(stand_in), "absent": await notices.person(absent)}
    key = "away.set" if absent == user.id else "away.set_for"
    if pressed:
        await edit(update, context, key, **params)
    else:
        await reply(update, context, key, **params)
    their = {"first": day_name(first, await linli.language_of(stand_in)),
             "last": day_name(last, await linli.language_of(stand_in)),
             "absent": params["absent"]}
    await tell_user(context, stand_in, "away.told_stand_in", **their)
    if absent != user.id:
        await tell_user(context, absent, "away.told_absent", first=params["first"],
                        last=params["last"], name=params["name"])


async def _end(update: Update, context: LinliContext, absent: int,
               *, pressed: bool = False) -> None:
    user = update.effective_user
    assert user is not None
    ended = await context.linli.away.end(user.id, absent)
    name = await context.linli.report_notices.person(ended.stand_in_id)
    if pressed:
        await edit(update, context, "away.ended", name=name)
    else:
        await reply(update, context, "away.ended", name=name)


async def set_pressed(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    linli = context.linli
    await linli.away.may_set(user.id, user.id)
    await query.answer()
    now = linli.clock.now()
    await linli.pending.expect(user.id, user.id, DAYS, {}, now + DAYS_LIFETIME, now)
    await reply(update, context, "away.ask_days")


async def days_answered(update: Update, context: LinliContext, pending: PendingInput) -> None:
    user, message = update.effective_user, update.effective_message
    assert user is not None and message is not None
    first, last = context.linli.away.read_days(message.text or "")  # refused: ask again
    await context.linli.pending.clear(user.id, DAYS)
    await _offer_stand_ins(update, context, user.id, first, last)


async def stand_in_pressed(update: Update, context: LinliContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    match = PICK_DATA.match(query.data)
    if match is None:
        raise BadInput("error.stale_button")
    absent, first, last, stand_in = match.groups()
    try:
        days = _day(first), _day(last)
    except ValueError:
        raise BadInput("error.stale_button") from None
    await _set(update, context, int(absent), *days, int(stand_in), pressed=True)
    await query.answer()  # after: a refusal is the answer


async def end_pressed(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    await query.answer()
    await _end(update, context, user.id, pressed=True)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("away", away))
    app.add_handler(CallbackQueryHandler(set_pressed, pattern=r"^aw:set$"))
    app.add_handler(CallbackQueryHandler(end_pressed, pattern=r"^aw:end$"))
    app.add_handler(CallbackQueryHandler(stand_in_pressed, pattern=r"^aw:to:"))
    on_answer(DAYS, days_answered)
