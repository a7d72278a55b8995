"""Small helpers every handler module shares: replying, parsing arguments."""

from __future__ import annotations

from telegram import Update

from bot.context import LinliContext
from bot.core import deeplink
from bot.core.i18n import t
from bot.core.notifier import Button, Outgoing


def thread_of(update: Update) -> int | None:
    """Answer inside the forum topic the user wrote in."""
    message = update.effective_message
    if message is not None and message.is_topic_message:
        return message.message_thread_id
    return None


def is_private(update: Update) -> bool:
    return update.effective_chat is not None and update.effective_chat.type == "private"


async def reply(
    update: Update, context: LinliContext, key: str, /, *,
    buttons: list[list[Button]] | None = None, keyboard: list[list[str]] | None = None,
    **params: object,
) -> None:
    """Answer in the chat the update came from, in the user's language (``keyboard``: the
    private menu of big buttons, handlers/menu.py)."""
    chat = update.effective_chat
    assert chat is not None
    await context.linli.notifier.send(
        Outgoing(chat.id, t(context.lang, key, **params), buttons=buttons,
                 thread_id=thread_of(update), keyboard=keyboard)
    )


async def reply_private(
    update: Update, context: LinliContext, key: str, /, *,
    buttons: list[list[Button]] | None = None, **params: object,
) -> None:
    """Answer what is personal (lists, histories) only in private.

    Typed in a group, the answer goes to the user's private chat; the group sees at most a
    hint to open that chat (when the user never started the bot), never the content.
    """
    if is_private(update):
        await reply(update, context, key, buttons=buttons, **params)
        return
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    hint = Outgoing(chat.id, t(context.lang, "group.open_private_for_details"),
                    buttons=open_private(context), thread_id=thread_of(update))
    await context.linli.notifier.send(
        Outgoing(user.id, t(context.lang, key, **params), buttons=buttons, fallback=hint))


async def tell_user(context: LinliContext, user_id: int, key: str, /, *,
                    buttons: list[list[Button]] | None = None, **params: object) -> None:
    """A private message to a user, in their language (no update at hand)."""
    lang = await context.linli.language_of(user_id)
    await context.linli.notifier.send(Outgoing(user_id, t(lang, key, **params), buttons=buttons))


async def edit(update: Update, context: LinliContext, key: str, /, *,
               buttons: list[list[Button]] | None = None, **params: object) -> None:
    """Replace the text (and buttons) of the message whose button was pressed."""
    message = update.effective_message
    assert message is not None
    await context.linli.notifier.send(
        Outgoing(message.chat_id, t(context.lang, key, **params), buttons=buttons,
                 method="edit_text", message_id=message.message_id)
    )


def open_private(context: LinliContext,
                 payload: str = deeplink.WELCOME) -> list[list[Button]] | None:
    """The button under a group message that asks to open the private chat."""
    return deeplink.open_private(context.lang, context.bot.username, payload)


def args(context: LinliContext) -> list[str]:
    return list(context.args or [])


def rows(buttons: list[Button], per_row: int = 2) -> list[list[Button]]:
    return [buttons[i:i + per_row] for i in range(0, len(buttons), per_row)]
