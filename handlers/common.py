"""Small helpers every handler module shares: replying, parsing arguments."""

from __future__ import annotations

import re

from telegram import Message, Update
from telegram.ext import filters

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


def pressed_in_own_chat(update: Update) -> bool:
    """The pressed message is in the presser's own private chat with the bot: the only
    message a press may redraw with anything personal (a report card, a step of their own
    flow, their answers). A group message is everybody's: a press there (a button shown in
    the group, or data forged onto one) never draws personal content into it."""
    message, user = update.effective_message, update.effective_user
    return (message is not None and user is not None and message.chat.type == "private"
            and message.chat_id == user.id)


async def redraw_pressed(update: Update, context: LinliContext, text: str | None, /, *,
                         buttons: list[list[Button]] | None = None,
                         public: bool = False) -> bool:
    """Redraw the message whose button was pressed (``text`` None: its buttons only).

    Personal content (the default) is drawn only in the presser's own private chat; pressed
    anywhere else it goes to the presser in private instead and the pressed message stays
    as it is. ``public``: the content is the same for everyone (a count, 已取消), so it may
    replace a group message. Returns whether the pressed message was redrawn."""
    message = update.effective_message
    assert message is not None
    if not public and not pressed_in_own_chat(update):
        user = update.effective_user
        if user is not None and text is not None:
            await context.linli.notifier.send(Outgoing(user.id, text, buttons=buttons))
        return False
    method = "edit_text" if text is not None else "edit_buttons"
    await context.linli.notifier.send(
        Outgoing(message.chat_id, text, buttons=buttons, method=method,
                 message_id=message.message_id))
    return True


async def edit(update: Update, context: LinliContext, key: str, /, *,
               buttons: list[list[Button]] | None = None, public: bool = False,
               **params: object) -> None:
    """Replace the text (and buttons) of the message whose button was pressed (see
    :func:`redraw_pressed`: personal unless ``public``)."""
    await redraw_pressed(update, context, t(context.lang, key, **params), buttons=buttons,
                         public=public)


def open_private(context: LinliContext,
                 payload: str = deeplink.WELCOME) -> list[list[Button]] | None:
    """The button under a group message that asks to open the private chat."""
    return deeplink.open_private(context.lang, context.bot.username, payload)


_COMMAND = re.compile(r"/([A-Za-z0-9_]{1,64})(?:@([A-Za-z0-9_]{1,64}))?(?=\s|$)")


def command_for_us(text: str | None, bot_username: str) -> str | None:
    """The command ``text`` starts with, lower-cased, unless it names another bot.

    ``/report`` and ``/report@our_bot`` are ours; ``/report@other_bot`` in a group is not.
    Python-telegram-bot's CommandHandler checks this for text; captions and the unknown
    command fallback ask here.
    """
    match = _COMMAND.match(text or "")
    if match is None or (match.group(2) and match.group(2).lower() != bot_username.lower()):
        return None
    return match.group(1).lower()


class CaptionCommand(filters.MessageFilter):
    """A photo captioned with one of our commands (command handlers read text only)."""

    def __init__(self, command: str) -> None:
        super().__init__(name=f"CaptionCommand({command})")
        self.command = command

    def filter(self, message: Message) -> bool:
        return command_for_us(message.caption, message.get_bot().username) == self.command


def args(context: LinliContext) -> list[str]:
    return list(context.args or [])


def rows(buttons: list[Button], per_row: int = 2) -> list[list[Button]]:
    return [buttons[i:i + per_row] for i in range(0, len(buttons), per_row)]
