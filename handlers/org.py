"""/bind, /invite, /join, /org and the buttons that go with them."""

from __future__ import annotations

import re
from datetime import timedelta

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.context import LinliContext
from bot.core.errors import BadInput, NotAllowed, NotFound
from bot.core.i18n import Markup, esc, t
from bot.core.inputs import button_number
from bot.core.notifier import Button
from bot.org.org import Node
from bot.org.units import looks_like_unit
from bot.services import PendingInput
from handlers.common import args, edit, is_private, reply, rows, tell_user
from handlers.inputs import on_answer
from handlers.privacy import consent_first
from handlers.reports import offer_draft

UNIT_QUESTION_LIFETIME = timedelta(minutes=30)
JOIN_DATA = re.compile(r"^jn:(\d{1,9})$")
REMOVE_DATA = re.compile(r"^rr:(\d{1,15}):(\d{1,9})$")


# -- /bind ----------------------------------------------------------------------------


async def bind(update: Update, context: LinliContext) -> None:
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    if is_private(update):
        raise BadInput("org.bind_in_group")
    words = args(context)
    if len(words) != 1:
        raise BadInput("org.bind_usage")
    linli = context.linli
    async with linli.db.write() as tx:  # the group may predate the bot's knowing it
        await linli.org_repo.save_chat(
            tx, chat.id, title=chat.title, type_=chat.type, is_forum=bool(chat.is_forum),
            active=True, now=linli.clock.now(),
        )
    node, previous = await linli.org.bind(user.id, chat.id, words[0])
    await reply(update, context, "org.bound", node=node.name, key=node.key)
    if previous is None:
        return
    for leader in await linli.org.nearest_leaders(previous):  # the group left their node
        if leader.user_id != user.id:
            await tell_user(context, leader.user_id, "org_rights.rebound", chat=chat.title or "",
                            old=previous.name, new=node.name, name=user.full_name)


# -- /invite --------------------------------------------------------------------------


async def invite(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    if not is_private(update):
        raise BadInput("org.invite_in_private")
    words = args(context)
    if not words or (len(words) == 1 and context.linli.org.role_level(words[0])):
        raise BadInput("org.invite_usage_named",
                       roles="、".join(lv.title_zh for lv in context.linli.settings.levels))
    # 「/invite 邻长 3号楼1单元」, 「/invite grid_leader b3-u1」 or just 「/invite 3号楼1单元」
    role = words[0] if len(words) > 1 and context.linli.org.role_level(words[0]) else None
    place = " ".join(words[1:] if role else words)
    token, node = await context.linli.org.create_invite(user.id, role, place)
    link = f"https://t.me/{context.linli.bot_username}?start=inv_{token}"
    await reply(update, context, "org.invite_link", link=link, node=node.name,
                title=context.linli.org.role_title(node.level, context.lang))


# -- /join ----------------------------------------------------------------------------


def _node_buttons(nodes: list[Node]) -> list[list[Button]]:
    return rows([Button(esc(n.name), data=f"jn:{n.id}") for n in nodes], per_row=2)


async def join(update: Update, context: LinliContext) -> None:
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    linli = context.linli
    if is_private(update):
        await _join_private(update, context)
        return
    bound = await linli.org_repo.chat(chat.id)
    if bound is None or bound.node_id is None or not bound.active:
        raise BadInput("org.chat_not_bound")
    node = await linli.org_repo.node(bound.node_id)
    assert node is not None
    await _offer_or_join(update, context, node)


async def _join_private(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    linli = context.linli
    roots = await linli.org_repo.children(None)
    if not roots:
        raise BadInput("org.empty")
    # a single community: start one level down, there is nothing to choose at the top
    choices = await linli.org_repo.children(roots[0].id) if len(roots) == 1 else roots
    home = await linli.org_repo.resident(user.id)
    if home is not None:
        node = await linli.org_repo.node(home.node_id)
        assert node is not None
        await _expect_unit(context, user.id)
        await reply(update, context, "org.join_current", node=node.name,
                    unit=home.unit or t(context.lang, "org.no_unit"),
                    buttons=_node_buttons(choices))
        return
    await reply(update, context, "org.join_pick", buttons=_node_buttons(choices))


async def _offer_or_join(update: Update, context: LinliContext, node: Node) -> None:
    """Register at ``node`` if residents live there directly, else ask one level down."""
    choices = await context.linli.org.join_choices(node)
    if choices:
        await reply(update, context, "org.join_pick_in", node=node.name,
                    buttons=_node_buttons(choices))
        return
    if not context.linli.org.is_home_level(node):
        raise BadInput("org.join_pick_lower")
    await _register(update, context, node)


async def _register(update: Update, context: LinliContext, node: Node) -> None:
    if not await consent_first(update, context, node):
        return  # the notice first; 同意 comes back here (handlers/privacy.py)
    user = update.effective_user
    assert user is not None
    linli = context.linli
    result = await linli.org.join(user.id, node)
    if is_private(update):
        await _expect_unit(context, user.id)
        await reply(update, context, "org.joined_private", node=node.name,
                    buttons=[[Button(t(context.lang, "org.skip"), data="ju:skip")]])
    else:
        await reply(update, context, "org.joined_group", name=user.first_name, node=node.name)
    await offer_draft(update, context)
    for leader in result.leaders:
        if leader.user_id == user.id:
            continue
        remove = [[Button(t(await linli.language_of(leader.user_id), "org.remove_button"),
                          data=f"rr:{user.id}:{node.id}")]]
        await tell_user(context, leader.user_id, "org.new_resident", name=user.full_name,
                        node=node.name, buttons=remove)


async def _expect_unit(context: LinliContext, user_id: int) -> None:
    linli = context.linli
    now = linli.clock.now()
    await linli.pending.expect(user_id, user_id, "unit", {}, now + UNIT_QUESTION_LIFETIME, now)


async def join_pressed(update: Update, context: LinliContext) -> None:
    query, chat = update.callback_query, update.effective_chat
    assert query is not None and query.data is not None and chat is not None
    match = JOIN_DATA.match(query.data)
    if match is None:
        raise BadInput("error.stale_button")
    linli = context.linli
    node = await linli.org_repo.node(button_number(match.group(1)))
    if node is None:
        raise NotFound("error.stale_button")
    if not is_private(update):
        # in a group, only the nodes under the group's own node may be picked
        bound = await linli.org_repo.chat(chat.id)
        if bound is None or bound.node_id is None or bound.node_id not in {
            n.id for n in await linli.org_repo.ancestors(node.id)
        }:
            raise NotAllowed()
    await query.answer()
    choices = await linli.org.join_choices(node)
    if choices and is_private(update):
        await edit(update, context, "org.join_pick_in", node=node.name,
                   buttons=_node_buttons(choices))
    elif choices:
        await reply(update, context, "org.join_pick_in", node=node.name,
                    buttons=_node_buttons(choices))
    else:
        if not linli.org.is_home_level(node):
            raise BadInput("org.join_pick_lower")
        await _register(update, context, node)


async def unit_skipped(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    await context.linli.pending.clear(user.id, "unit")
    await query.answer()
    await edit(update, context, "org.unit_skipped")


async def unit_answered(update: Update, context: LinliContext, _pending: PendingInput) -> bool:
    """Only what looks like a door number answers the question; a sentence is a new message."""
    user, message = update.effective_user, update.effective_message
    assert user is not None and message is not None
    if not looks_like_unit(message.text):
        return False
    linli = context.linli
    resident = await linli.org.set_unit(user.id, message.text or "")
    await linli.pending.clear(user.id, "unit")
    node = await linli.org_repo.node(resident.node_id)
    assert node is not None
    await reply(update, context, "org.unit_saved", unit=resident.unit or "", node=node.name)
    return True


async def remove_pressed(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    match = REMOVE_DATA.match(query.data)
    if match is None:
        raise BadInput("error.stale_button")
    resident_id, node_id = button_number(match.group(1)), button_number(match.group(2))
    node = await context.linli.org.remove_resident(user.id, resident_id, node_id)
    await query.answer()
    await edit(update, context, "org.removed", node=node.name)
    await tell_user(context, resident_id, "org.removed_notice", node=node.name)


# -- /org -----------------------------------------------------------------------------


async def org_tree(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    linli, lang = context.linli, context.lang
    entries = await linli.org.tree(user.id)
    if not entries:
        raise BadInput("org.empty")
    users = await linli.users.names(list({ld.user_id for e in entries for ld in e.leaders}))
    lines = []
    for e in entries:
        leaders = "、".join(
            ld.name or (users[ld.user_id].display_name if ld.user_id in users else str(ld.user_id))
            for ld in e.leaders
        ) or t(lang, "org.no_leader")
        chats = "、".join(
            (c.title or str(c.chat_id)) + ("" if c.active else t(lang, "org.chat_inactive"))
            for c in e.chats
        )
        lines.append(t(
            lang, "org.tree_line", indent=Markup("　" * e.depth), name=e.node.name, key=e.node.key,
            level=linli.org.level_name(e.node.level, lang),
            title=linli.org.role_title(e.node.level, lang), leaders=leaders,
            chats=chats or t(lang, "org.no_chat"), residents=e.residents,
        ))
    await reply(update, context, "org.tree", lines=Markup("\n".join(lines)))


register_at = _register  # where 同意 continues (handlers/privacy.py)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("bind", bind))
    app.add_handler(CommandHandler("invite", invite))
    app.add_handler(CommandHandler("join", join))
    app.add_handler(CommandHandler("org", org_tree))
    app.add_handler(CallbackQueryHandler(join_pressed, pattern=r"^jn:"))
    app.add_handler(CallbackQueryHandler(unit_skipped, pattern=r"^ju:skip$"))
    app.add_handler(CallbackQueryHandler(remove_pressed, pattern=r"^rr:"))
    on_answer("unit", unit_answered)


