"""Answers to the bot's questions: a private message while a question is pending.

Features register what each kind of pending question does with the answer;
one handler (registered after every command) routes to them, newest question
first. An answer that is not for its question (a sentence where a door number
was asked) returns False and goes on to the next older question; a message no
question takes is plain text, which the reports feature offers to file. A kind
may name the message for an answer that comes after its question timed out (a
form left for a while: "it expired, start again with /forum"); it is said once,
then forgotten.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from telegram import Update
from telegram.ext import Application, MessageHandler, filters

from bot.context import LinliContext
from bot.services import PendingInput
from handlers.common import reply

# None (or True): answered; False: not an answer to this question, try the next one
Answer = Callable[[Update, LinliContext, PendingInput], Awaitable[bool | None]]
Unanswered = Callable[[Update, LinliContext], Awaitable[None]]
_ANSWERS: dict[str, Answer] = {}
_EXPIRED: dict[str, tuple[str, dict[str, object]]] = {}
_UNANSWERED: list[Unanswered] = []
# an answer this long after the timeout is no longer taken for one (the form is forgotten)
EXPIRED_RECALLED = timedelta(days=1)


def on_answer(kind: str, answer: Answer, *, expired: str | None = None,
              **params: object) -> None:
    _ANSWERS[kind] = answer
    if expired is not None:
        _EXPIRED[kind] = (expired, params)


def on_unanswered(handler: Unanswered) -> None:
    """What a private message that answers no open question is (one feature sets it)."""
    _UNANSWERED[:] = [handler]


async def private_message(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    linli = context.linli
    now = linli.clock.now()
    questions = await linli.pending.open_questions(user.id, user.id, _ANSWERS, now)
    for pending in questions:
        if await _ANSWERS[pending.kind](update, context, pending) is not False:
            return
    if not questions:
        lapsed = await linli.pending.lapsed(user.id, user.id, _EXPIRED, now,
                                            now - EXPIRED_RECALLED)
        if lapsed is not None:
            await linli.pending.clear(user.id, lapsed.kind)
            key, params = _EXPIRED[lapsed.kind]
            await reply(update, context, key, **params)
            return
    await unanswered(update, context)


async def unanswered(update: Update, context: LinliContext) -> None:
    if _UNANSWERED:
        await _UNANSWERED[0](update, context)
    else:
        await reply(update, context, "start.not_understood")


def register(app: Application) -> None:
    # after every command: plain messages in private answer the bot's last question; a
    # caption starting with a command is one (ours, unknown, or another bot's), not an answer
    app.add_handler(MessageHandler(
        filters.ChatType.PRIVATE & ~filters.COMMAND & ~filters.CaptionRegex(r"^/")
        & (filters.TEXT | filters.PHOTO | filters.LOCATION | filters.Document.ALL),
        private_message,
    ))
