"""The command menus Telegram shows, per chat type and language."""

from __future__ import annotations

from telegram import (
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
)
from telegram.ext import ExtBot

from bot.core.i18n import LANGUAGES, t

# Commands offered in each kind of chat (descriptions: catalog key "menu.<command>").
PRIVATE = ["report", "myreports", "status", "queue", "join", "cancel", "lang", "help", "org",
           "invite", "propose", "topics", "decide", "events", "nominate", "event", "family",
           "broadcast", "broadcasts", "stats", "care", "volunteer", "help_request", "away",
           "report_for"]
GROUP = ["report", "join", "propose", "events", "help"]
GROUP_ADMINS = ["report", "join", "bind", "propose", "topicpoll", "forum", "events", "help"]

SCOPES: list[tuple[BotCommandScope, list[str]]] = [
    (BotCommandScopeAllPrivateChats(), PRIVATE),
    (BotCommandScopeAllGroupChats(), GROUP),
    (BotCommandScopeAllChatAdministrators(), GROUP_ADMINS),
]


async def publish_commands(bot: ExtBot[None], default_language: str) -> None:
    """Chinese by default; English for users whose Telegram is in English."""
    for scope, names in SCOPES:
        for lang in LANGUAGES:
            commands = [BotCommand(name, t(lang, f"menu.{name}")) for name in names]
            code = None if lang == default_language else lang
            await bot.set_my_commands(commands, scope=scope, language_code=code)

# What /help lists, and for whom ("everyone", or "leader": leaders and admins).
HELP: list[tuple[str, str]] = [
    ("report", "everyone"),
    ("myreports", "everyone"),
    ("status", "everyone"),
    ("cancel", "everyone"),
    ("join", "everyone"),
    ("lang", "everyone"),
    ("help", "everyone"),
    ("events", "everyone"),
    ("nominate", "everyone"),
    ("volunteer", "everyone"),
    ("help_request", "everyone"),
    ("queue", "leader"),
    ("org", "leader"),
    ("invite", "leader"),
    ("bind", "leader"),
    ("propose", "everyone"),
    ("topics", "leader"),
    ("topicpoll", "leader"),
    ("forum", "leader"),
    ("decide", "leader"),
    ("event", "leader"),
    ("family", "leader"),
    ("broadcast", "leader"),
    ("broadcasts", "leader"),
    ("stats", "leader"),
    ("care", "leader"),
    ("away", "leader"),
    ("report_for", "leader"),
]
