"""The command menus Telegram shows, per chat type, role and language, and /help's lists.

Residents see only their own commands: the default private menu. Each leader's private
chat gets a menu of its own (BotCommandScopeChat) with the commands of their role,
published at start and when they become a leader or change language; the menu of
someone who is no longer a leader is taken away (storage/menus.py remembers which).
"""

from __future__ import annotations

import logging

from telegram import (
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
)
from telegram.error import TelegramError
from telegram.ext import ExtBot

from bot.core.i18n import LANGUAGES, t
from bot.services import Linli
from storage.menus import MenuRepo

log = logging.getLogger(__name__)

# Commands offered in each kind of chat (descriptions: catalog key "menu.<command>").
RESIDENT = ["report", "myreports", "status", "events", "help_request", "volunteer", "propose",
            "nominate", "join", "cancel", "lang", "help", "whoami", "mydata", "forget"]
PRIVATE = RESIDENT
LEADER = ["queue", "topics", "topicpoll", "forum", "decide", "event", "family", "broadcast",
          "broadcasts", "stats", "care", "away", "report_for", "unit"]
ABOVE_GRID = ["invite", "remove_leader"]  # leaders above the lowest level invite (and
# remove) the leaders below
ADMIN = ["org", "invite"]
GROUP = ["report", "join", "propose", "events", "help"]
GROUP_ADMINS = ["report", "join", "bind", "propose", "topicpoll", "forum", "events", "help"]

SCOPES: list[tuple[BotCommandScope, list[str]]] = [
    (BotCommandScopeAllPrivateChats(), PRIVATE),
    (BotCommandScopeAllGroupChats(), GROUP),
    (BotCommandScopeAllChatAdministrators(), GROUP_ADMINS),
]

# What /help lists: a resident sees a handful of lines; a leader also their role's commands.
HELP_RESIDENT = ["report", "myreports", "events", "help_request", "volunteer", "lang"]
HELP_NEW = ["join", "report", "events", "lang"]  # not registered yet
HELP_LEADER = ["queue", "stats", "care", "event", "broadcast", "topics", "forum", "decide",
               "family", "away", "report_for", "unit"]


def leader_commands(levels: set[str], lowest_level: str, admin: bool) -> list[str]:
    """The commands a leader's own menu holds: the residents' first, then their role's."""
    names = ["queue", *[n for n in RESIDENT if n != "help"], *LEADER[1:]]
    if admin or levels - {lowest_level}:
        names += ABOVE_GRID
    if admin:
        names += [n for n in ADMIN if n not in names]
    return [*names, "help"]


async def publish_commands(bot: ExtBot[None], default_language: str) -> None:
    """Chinese by default; English for users whose Telegram is in English."""
    for scope, names in SCOPES:
        for lang in LANGUAGES:
            commands = [BotCommand(name, t(lang, f"menu.{name}")) for name in names]
            code = None if lang == default_language else lang
            await bot.set_my_commands(commands, scope=scope, language_code=code)


async def publish_leader_menus(bot: ExtBot[None], linli: Linli,
                               only: int | None = None) -> None:
    """Bring every leader's own menu up to date (``only``: just this user's)."""
    settings, org = linli.settings, linli.org_repo
    lowest = settings.levels[-1].key
    levels: dict[int, set[str]] = {}
    for node in await org.all_nodes():
        for leader in await org.leaders_of(node.id):
            levels.setdefault(leader.user_id, set()).add(node.level)
    for admin in settings.admin_ids:
        levels.setdefault(admin, set())
    repo = MenuRepo(linli.db)
    published = await repo.published()
    now = linli.clock.now()
    for user_id, led in levels.items():
        if only is not None and user_id != only:
            continue
        lang = await linli.language_of(user_id)
        names = leader_commands(led, lowest, settings.is_bootstrap_admin(user_id))
        signature = lang + ":" + ",".join(names)
        if published.get(user_id) == signature:
            continue
        try:
            await bot.set_my_commands([BotCommand(n, t(lang, f"menu.{n}")) for n in names],
                                      scope=BotCommandScopeChat(user_id))
        except TelegramError as exc:  # never started the bot, say: next time
            log.info("no menu for leader %s yet: %s", user_id, exc)
            continue
        await repo.record(user_id, signature, now)
    for user_id in published.keys() - levels.keys():
        if only is not None and user_id != only:
            continue
        try:
            await bot.delete_my_commands(scope=BotCommandScopeChat(user_id))
        except TelegramError as exc:
            log.info("could not take the menu of %s away: %s", user_id, exc)
            continue
        await repo.forget(user_id)
