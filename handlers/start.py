"""/start (with deep-link payloads), /help, /lang."""

from __future__ import annotations

import re

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.context import LinliContext
from bot.core.errors import BadInput
from bot.core.i18n import LANGUAGES, Markup, t
from bot.core.notifier import Button
from bot.core import deeplink
from bot.menus import HELP
from handlers.common import args, edit, is_private, reply
from handlers.report_actions import queue, show_status
from handlers.reports import start_flow

INVITE_PAYLOAD = re.compile(r"^inv_([A-Za-z0-9_-]{8,40})$")
REPORT_PAYLOAD = re.compile(rf"^{deeplink.REPORT}(\d{{1,9}})$")


async def _arrived(update: Update, context: LinliContext, payload: str) -> bool:
    """A deep link from a group hint: show what it points at. False if it is not one."""
    match = REPORT_PAYLOAD.match(payload)
    if match:
        await show_status(update, context, int(match.group(1)), intro="report.reach.arrived")
    elif payload == deeplink.QUEUE:
        await queue(update, context)
    elif payload == deeplink.NEW_REPORT:
        await start_flow(update, context)
    elif payload != deeplink.WELCOME:
        return False
    else:
        await _welcome(update, context)
    return True


async def start(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    payload = args(context)[0] if args(context) else ""
    match = INVITE_PAYLOAD.match(payload)
    if match and is_private(update):
        node = await context.linli.org.accept_invite(user.id, match.group(1), user.full_name)
        await reply(update, context, "start.leader_welcome", node=node.name,
                    title=context.linli.org.role_title(node.level, context.lang))
        return
    if payload and not (is_private(update) and await _arrived(update, context, payload)):
        raise BadInput("start.bad_link")
    if not payload:
        await _welcome(update, context)
    if is_private(update):  # a rating that could not reach them before is asked now
        await context.linli.reports.ask_missed_ratings(user.id)


async def _welcome(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    roles = await context.linli.org.roles(user.id)
    if roles.led_nodes:
        node = roles.led_nodes[0]
        await reply(update, context, "start.welcome_leader", name=user.first_name, node=node.name,
                    title=context.linli.org.role_title(node.level, context.lang))
        return
    key = "start.welcome_resident" if roles.home else "start.welcome_new"
    await reply(update, context, key, name=user.first_name)


async def help_command(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    roles = await context.linli.org.roles(user.id)
    lang = context.lang
    shown = ["everyone", "leader"] if roles.leader else ["everyone"]
    sections = []
    for who in shown:
        lines = [f"/{cmd} — {t(lang, f'help.cmd.{cmd}')}" for cmd, role in HELP if role == who]
        sections.append(t(lang, f"help.section.{who}") + "\n" + "\n".join(lines))
    if roles.admin:
        sections.append(t(lang, "help.admin_note"))
    await reply(update, context, "help.text", sections=Markup("\n\n".join(sections)))


def _language_buttons() -> list[list[Button]]:
    return [[Button(t(lang, "lang.name"), data=f"lang:{lang}") for lang in LANGUAGES]]


async def lang_command(update: Update, context: LinliContext) -> None:
    wanted = args(context)
    if not wanted:
        await reply(update, context, "lang.choose", buttons=_language_buttons())
        return
    await _set_language(update, context, wanted[0].lower())
    await reply(update, context, "lang.set")


async def _set_language(update: Update, context: LinliContext, lang: str) -> None:
    if lang not in LANGUAGES:
        raise BadInput("lang.usage")
    user = update.effective_user
    assert user is not None
    await context.linli.users.set_language(user.id, lang, context.linli.clock.now())
    context.lang = lang


async def lang_pressed(update: Update, context: LinliContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    await _set_language(update, context, query.data.removeprefix("lang:"))
    await query.answer()
    await edit(update, context, "lang.set")


def register(app: Application) -> None:
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("help", help_command))
    app.add_handler(CommandHandler("lang", lang_command))
    app.add_handler(CallbackQueryHandler(lang_pressed, pattern=r"^lang:[a-z]{2}$"))
