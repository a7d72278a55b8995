"""/forum (schedule a consultation meeting), its RSVP buttons, /decide and follow-ups."""

from __future__ import annotations

import re

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.context import LinliContext
from bot.errors import BadInput
from bot.i18n import number, t
from bot.report_notices import local_time
from bot.when import parse_when
from handlers.common import is_private, reply, thread_of
from handlers.consultation import command_text

RSVP_DATA = re.compile(r"^cf:(go|may|no):(\d{1,9})$")
FIELDS = re.compile(r"[|｜]")
ITEMS = re.compile(r"[;；\n]")


async def forum(update: Update, context: LinliContext) -> None:
    """/forum TIME | TITLE | PLACE [| ITEM; ITEM]: in the bound group the meeting is for."""
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    linli = context.linli
    await linli.consultation.require_leader(user.id)
    if is_private(update):
        raise BadInput("consult.forum_in_group")
    parts = [p.strip() for p in FIELDS.split(command_text(update))]
    if len(parts) < 3 or not all(parts[:3]):
        raise BadInput("consult.forum_usage")
    starts_at = parse_when(parts[0], linli.clock.now(), linli.settings.tz)
    agenda = ITEMS.split(parts[3]) if len(parts) > 3 else None
    meeting = await linli.meetings.schedule(user.id, chat.id, bool(chat.is_forum),
                                            thread_of(update), starts_at, parts[1], parts[2],
                                            agenda)
    await reply(update, context, "consult.meeting_scheduled", number=number(meeting.id),
                title=meeting.title,
                at=local_time(linli.settings, context.lang, meeting.starts_at))


async def rsvp_pressed(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    match = RSVP_DATA.match(query.data)
    if match is None:
        raise BadInput("error.stale_button")
    meeting, answer = await context.linli.meetings.rsvp(user.id, int(match.group(2)),
                                                        match.group(1))
    await query.answer(t(context.lang, f"consult.rsvp_{answer}", number=number(meeting.id)))


def register(app: Application) -> None:
    app.add_handler(CommandHandler("forum", forum))
    app.add_handler(CallbackQueryHandler(rsvp_pressed, pattern=r"^cf:"))
