"""Presses in groups: only the buttons the bot shows there act there.

Telegram sends whatever callback data a client puts on a press, and a group's messages are
everybody's: data forged onto a group message (a report's 受理 on its group receipt, by the
reporter or a leader) must neither act nor draw anything personal into the group. Buttons
that live only in private chats are refused here, before any handler reads them.
"""

from __future__ import annotations

import logging
import re

from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, CallbackQueryHandler

from bot.context import LinliContext
from bot.core.i18n import t
from handlers.common import pressed_in_own_chat

log = logging.getLogger(__name__)

# The buttons the bot shows in group chats, by the start of their data: answers everyone
# may give (RSVP, +1, a 最美家庭 ballot, an .ics file, picking one's building, the language),
# the offer of one's own draft report to someone the bot cannot write to in private, and
# the controls a leader gets where they typed /broadcast or /family. Their handlers
# check who presses and redraw the pressed message only with what everyone may read.
# Every other button lives in someone's private chat.
SHOWN_IN_GROUPS = re.compile(
    r"^(?:cp:sup|ev:r|ev:ics|cf|fm|bc:x|jn|lang|rf:draft|rf:no|pv:ok|pv:no)(?::|$)")


def may_press_here(update: Update) -> bool:
    query = update.callback_query
    assert query is not None
    return pressed_in_own_chat(update) or bool(SHOWN_IN_GROUPS.match(query.data or ""))


async def refuse_outside_private(update: Update, context: LinliContext) -> None:
    if may_press_here(update):
        return
    query = update.callback_query
    assert query is not None
    message = update.effective_message
    log.info("refused a press of %r by %s outside their private chat (chat %s)", query.data,
             query.from_user.id, message.chat_id if message else None)
    await query.answer(t(context.lang, "press.private_only"), show_alert=True)
    raise ApplicationHandlerStop


def register(app: Application) -> None:
    # after the user is remembered (group -2), before any button's handler (group 0)
    app.add_handler(CallbackQueryHandler(refuse_outside_private), group=-1)
