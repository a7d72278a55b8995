"""/start (with deep-link payloads), /help, /lang."""

from __future__ import annotations

import logging
import re

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.context import LinliContext
from bot.core import deeplink
from bot.core.errors import BadInput
from bot.core.i18n import LANGUAGES, Markup, esc, t
from bot.core.inputs import button_number
from bot.core.notifier import Button
from bot.menus import HELP_LEADER, HELP_NEW, HELP_RESIDENT, publish_leader_menus
from handlers.common import args, edit, is_private, reply, reply_private
from handlers.menu import keyboard_for
from handlers.report_actions import queue, show_status
from handlers.reports import start_flow

INVITE_PAYLOAD = re.compile(r"^inv_([A-Za-z0-9_-]{8,40})$")
REPORT_PAYLOAD = re.compile(rf"^{deeplink.REPORT}(\d{{1,9}})$")


async def _arrived(update: Update, context: LinliContext, payload: str) -> bool:
    """A deep link from a group hint: show what it points at. False if it is not one."""
    match = REPORT_PAYLOAD.match(payload)
    if match:
        await show_status(update, context, button_number(match.group(1)),
                          intro="report.reach.arrived")
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
                    title=context.linli.org.role_title(node.level, context.lang),
                    keyboard=await keyboard_for(update, context))
        await _refresh_menu(context, user.id)
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
    menu = await keyboard_for(update, context)
    if roles.led_nodes:
        node = roles.led_nodes[0]
        await reply(update, context, "start.welcome_leader", name=user.first_name, node=node.name,
                    title=context.linli.org.role_title(node.level, context.lang), keyboard=menu)
        return
    key = "start.welcome_resident" if roles.home else "start.welcome_new"
    await reply(update, context, key, name=user.first_name, keyboard=menu)


async def _refresh_menu(context: LinliContext, user_id: int) -> None:
    """This leader's own command menu, as their role and language now are."""
    try:
        await publish_leader_menus(context.bot, context.linli, only=user_id)
    except Exception:  # a menu is a convenience: never fail the user's action over it
        logging.getLogger(__name__).exception("could not refresh the menu of %s", user_id)


async def help_sections(context: LinliContext, user_id: int) -> Markup:
    """What this user may do, short (/help, and the answer to a greeting)."""
    roles = await context.linli.org.roles(user_id)
    lang = context.lang

    def lines(commands: list[str]) -> str:
        # the menu's words, except /lang's bilingual one: Chinese text stays Chinese
        return "\n".join(f"/{cmd} {t(lang, 'help.short.lang' if cmd == 'lang' else f'menu.{cmd}')}"
                         for cmd in commands)

    # short and for this person: a resident's whole help is a few lines
    sections = [lines(HELP_RESIDENT if roles.home or roles.leader else HELP_NEW)]
    if roles.leader:
        sections.append(t(lang, "help.short.leader") + "\n" + lines(HELP_LEADER))
    if roles.admin:
        sections.append(t(lang, "help.admin_note"))
    return Markup("\n\n".join(sections))


async def help_command(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    await reply(update, context, "help.short.text", sections=await help_sections(context, user.id),
                keyboard=await keyboard_for(update, context))


async def whoami(update: Update, context: LinliContext) -> None:
    """The user's Telegram id (the office needs it for the org file) and what they are here."""
    user = update.effective_user
    assert user is not None
    linli, lang = context.linli, context.lang
    roles = await linli.org.roles(user.id)
    lines = []
    if roles.home is not None:
        node = await linli.org_repo.node(roles.home.node_id)
        lines.append(t(lang, "whoami.resident", node=node.name if node else "",
                       unit=f"（{roles.home.unit}）" if roles.home.unit else ""))
    for node in roles.led_nodes:
        lines.append(t(lang, "whoami.leader", node=node.name,
                       title=linli.org.role_title(node.level, lang)))
    for node in await linli.org_repo.all_nodes():
        for partner in await linli.org_repo.partners_of(node.id):
            if user.id in partner.user_ids:
                lines.append(t(lang, "whoami.partner", name=partner.name, node=node.name))
    if roles.admin:
        lines.append(t(lang, "whoami.admin"))
    await reply_private(update, context, "whoami.text", id=user.id,
                        roles=Markup("\n".join(esc(line) for line in lines)
                                     or esc(t(lang, "whoami.nothing"))))


def _language_buttons() -> list[list[Button]]:
    return [[Button(t(lang, "lang.name"), data=f"lang:{lang}") for lang in LANGUAGES]]


async def lang_command(update: Update, context: LinliContext) -> None:
    wanted = args(context)
    if not wanted:
        await reply(update, context, "lang.choose", buttons=_language_buttons())
        return
    await _set_language(update, context, wanted[0].lower())
    await reply(update, context, "lang.set", keyboard=await keyboard_for(update, context))


async def _set_language(update: Update, context: LinliContext, lang: str) -> None:
    if lang not in LANGUAGES:
        raise BadInput("lang.usage")
    user = update.effective_user
    assert user is not None
    await context.linli.users.set_language(user.id, lang, context.linli.clock.now())
    context.lang = lang
    if (await context.linli.org.roles(user.id)).leader:
        await _refresh_menu(context, user.id)


async def lang_pressed(update: Update, context: LinliContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    await _set_language(update, context, query.data.removeprefix("lang:"))
    await query.answer()
    await edit(update, context, "lang.set", public=True)
    menu = await keyboard_for(update, context)
    if menu:  # an edit cannot carry a reply keyboard: the menu in the new language
        await reply(update, context, "lang.menu", keyboard=menu)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("help", help_command))
    app.add_handler(CommandHandler("lang", lang_command))
    app.add_handler(CommandHandler("whoami", whoami))
    app.add_handler(CallbackQueryHandler(lang_pressed, pattern=r"^lang:[a-z]{2}$"))
