"""Answers to the bot's questions: a private message while a question is pending.

Features register what each kind of pending question does with the answer;
one handler (registered after every command) routes to them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.ext import Application, MessageHandler, filters

from bot.context import LinliContext
from bot.services import PendingInput
from handlers.common import reply

Answer = Callable[[Update, LinliContext, PendingInput], Awaitable[None]]
_ANSWERS: dict[str, Answer] = {}


def on_answer(kind: str, answer: Answer) -> None:
    _ANSWERS[kind] = answer


async def private_message(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    linli = context.linli
    pending = await linli.pending.newest(user.id, user.id, _ANSWERS, linli.clock.now())
    answer = _ANSWERS.get(pending.kind) if pending else None
    if pending is None or answer is None:
        await reply(update, context, "start.not_understood")
        return
    await answer(update, context, pending)


def register(app: Application) -> None:
    # after every command: plain messages in private answer the bot's last question
    app.add_handler(MessageHandler(
        filters.ChatType.PRIVATE & ~filters.COMMAND
        & (filters.TEXT | filters.PHOTO | filters.LOCATION | filters.Document.ALL),
        private_message,
    ))
