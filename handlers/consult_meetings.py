"""/forum (schedule a consultation meeting), its RSVP buttons, /decide and follow-ups."""

from __future__ import annotations

import re
from datetime import timedelta

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.consult.followups import parse_entries
from bot.context import LinliContext
from bot.core.errors import BadInput
from bot.core.i18n import number, t
from bot.core.inputs import button_number, record_number
from bot.core.notifier import Outgoing
from bot.core.timeparse import describe, parse_moment
from bot.services import PendingInput
from handlers.common import is_private, reply, thread_of
from handlers.consult_forms import DECIDE, FORUM
from handlers.consultation import command_text
from handlers.inputs import on_answer

DONE_NOTE = "consult_done_note"
NOTE_LIFETIME = timedelta(minutes=30)
DONE_DATA = re.compile(r"^cd:done:(\d{1,9})$")
RSVP_DATA = re.compile(r"^cf:(go|may|no):(\d{1,9})$")
FIELDS = re.compile(r"[|｜]")
ITEMS = re.compile(r"[;；\n]")


async def forum(update: Update, context: LinliContext) -> None:
    """/forum TIME | TITLE | PLACE [| ITEM; ITEM]: in the bound group the meeting is for."""
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    linli = context.linli
    if not command_text(update).strip():  # step by step, in private
        await FORUM.start(update, context)
        return
    await linli.consultation.require_leader(user.id)
    if is_private(update):
        raise BadInput("consult.forum_in_group")
    parts = [p.strip() for p in FIELDS.split(command_text(update))]
    if len(parts) < 3 or not all(parts[:3]):
        raise BadInput("consult.forum_usage")
    # past_ok: the meeting's own refusal names it (开会时间 … 已经过去了)
    starts_at = parse_moment(parts[0], linli.clock.now(), linli.settings.tz, past_ok=True)
    agenda = ITEMS.split(parts[3]) if len(parts) > 3 else None
    meeting = await linli.meetings.schedule(user.id, chat.id, bool(chat.is_forum),
                                            thread_of(update), starts_at, parts[1], parts[2],
                                            agenda)
    await reply(update, context, "consult.meeting_scheduled", number=number(meeting.id),
                title=meeting.title,
                at=describe(meeting.starts_at, linli.clock.now(), linli.settings.tz, context.lang))


async def rsvp_pressed(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    match = RSVP_DATA.match(query.data)
    if match is None:
        raise BadInput("error.stale_button")
    meeting, answer = await context.linli.meetings.rsvp(user.id, button_number(match.group(2)),
                                                        match.group(1))
    await query.answer(t(context.lang, f"consult.rsvp_{answer}", number=number(meeting.id)))


def register(app: Application) -> None:
    app.add_handler(CommandHandler("forum", forum))
    app.add_handler(CallbackQueryHandler(rsvp_pressed, pattern=r"^cf:"))
    register_followups(app)


# -- decisions and follow-ups ---------------------------------------------------------


async def decide(update: Update, context: LinliContext) -> None:
    """/decide MEETING, then one line per decision: ITEM | DECISION | OWNER | DUE."""
    user = update.effective_user
    assert user is not None
    linli = context.linli
    if not command_text(update).strip():  # step by step, in private
        await DECIDE.start(update, context)
        return
    await linli.consultation.require_leader(user.id)
    lines = command_text(update).split("\n")
    head = lines[0].split(maxsplit=1)
    meeting_id = record_number(head[0]) if head else None
    if meeting_id is None:
        raise BadInput("consult.decide_usage")
    rest = ([head[1]] if len(head) > 1 else []) + lines[1:]
    entries = parse_entries(rest, first_line=1)
    ids = await linli.followups.record(user.id, meeting_id, entries)
    await reply(update, context, "consult.decided", count=len(ids),
                numbers="、".join(number(i) for i in ids))


async def done_pressed(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    match = DONE_DATA.match(query.data)
    if match is None:
        raise BadInput("error.stale_button")
    linli = context.linli
    decision = await linli.followups.actionable(user.id, button_number(match.group(1)))
    await query.answer()
    now = linli.clock.now()
    await linli.pending.expect(user.id, user.id, DONE_NOTE, {"decision": decision.id},
                               now + NOTE_LIFETIME, now)
    await linli.notifier.send(Outgoing(user.id, t(context.lang, "consult.ask_done_note",
                                                  number=number(decision.id))))


async def done_answered(update: Update, context: LinliContext, pending: PendingInput) -> None:
    user, message = update.effective_user, update.effective_message
    assert user is not None and message is not None
    linli = context.linli
    decision = await linli.followups.done(user.id, int(pending.payload["decision"]),
                                         message.text or "")
    await linli.pending.clear(user.id, DONE_NOTE)
    await reply(update, context, "consult.marked_done", number=number(decision.id))


def register_followups(app: Application) -> None:
    app.add_handler(CommandHandler("decide", decide))
    app.add_handler(CallbackQueryHandler(done_pressed, pattern=r"^cd:"))
    on_answer(DONE_NOTE, done_answered)
