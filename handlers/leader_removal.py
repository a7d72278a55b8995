"""/remove_leader: those who may invite a leader may remove one, picked from buttons."""

from __future__ import annotations

import logging
import re

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.context import LinliContext
from bot.core.errors import BadInput
from bot.core.i18n import t
from bot.core.inputs import button_number
from bot.core.notifier import Button
from bot.menus import publish_leader_menus
from handlers.common import edit, is_private, reply, tell_user

PICK_DATA = re.compile(r"^rl:(p|y):(\d{1,9}):(\d{1,15})$")
log = logging.getLogger(__name__)
SHOWN = 40  # buttons at most; a bigger tree is narrowed by the org file


async def remove_leader(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    linli, lang = context.linli, context.lang
    found = await linli.org.removable_leaders(user.id)  # refuses those who may not
    if not is_private(update):
        raise BadInput("leader_removal.in_private")
    if not found:
        await reply(update, context, "leader_removal.none")
        return
    buttons = [[Button(t(lang, "leader_removal.btn_pick", name=ld.name or str(ld.user_id),
                         node=node.name), data=f"rl:p:{node.id}:{ld.user_id}")]
               for node, ld in found[:SHOWN]]
    await reply(update, context, "leader_removal.pick", buttons=buttons)


async def pressed(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    linli, lang = context.linli, context.lang
    if query.data == "rl:n":
        await query.answer()
        await edit(update, context, "leader_removal.kept")
        return
    match = PICK_DATA.match(query.data or "")
    if match is None:
        raise BadInput("error.stale_button")
    step = match.group(1)
    node_id, leader_id = button_number(match.group(2)), button_number(match.group(3))
    node, leader = await linli.org.leader_at(user.id, node_id, leader_id)  # rights first
    name = leader.name or str(leader.user_id)
    title = linli.org.role_title(node.level, lang)
    if step == "p":
        await query.answer()
        await edit(update, context, "leader_removal.confirm", name=name, node=node.name,
                   title=title, buttons=[[
                       Button(t(lang, "leader_removal.btn_yes"),
                              data=f"rl:y:{node.id}:{leader.user_id}"),
                       Button(t(lang, "leader_removal.btn_no"), data="rl:n")]])
        return
    await linli.org.remove_leader(user.id, node.id, leader.user_id)
    await query.answer()
    await edit(update, context, "leader_removal.done", name=name, node=node.name, title=title)
    await tell_user(context, leader.user_id, "leader_removal.told_removed", node=node.name,
                    title=linli.org.role_title(node.level, await linli.language_of(
                        leader.user_id)))
    await linli.scheduler.sweep()  # hand on what they held now, not at the next sweep
    try:  # no leader's menu any more (unless they lead another node)
        await publish_leader_menus(context.bot, linli, only=leader.user_id)
    except Exception:  # a menu is a convenience: never fail the removal over it
        log.exception("could not refresh the menu of %s", leader.user_id)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("remove_leader", remove_leader))
    app.add_handler(CallbackQueryHandler(pressed, pattern=r"^rl:"))
