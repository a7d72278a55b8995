"""Group life: the bot added or removed, a group migrated, a user blocking the bot."""

from __future__ import annotations

import logging

from telegram import ChatMember, ChatMemberUpdated, Update
from telegram.ext import Application, ChatMemberHandler, MessageHandler, filters

from bot.context import LinliContext
from handlers.common import reply

log = logging.getLogger(__name__)

_PRESENT = {ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER, ChatMember.RESTRICTED}


def _joined_and_left(change: ChatMemberUpdated) -> tuple[bool, bool]:
    was = change.old_chat_member.status in _PRESENT
    now = change.new_chat_member.status in _PRESENT
    if change.new_chat_member.status == ChatMember.RESTRICTED:
        now = bool(getattr(change.new_chat_member, "is_member", True))
    return (not was and now), (was and not now)


async def bot_membership(update: Update, context: LinliContext) -> None:
    change = update.my_chat_member
    assert change is not None
    linli = context.linli
    chat = change.chat
    now = linli.clock.now()
    added, removed = _joined_and_left(change)
    if chat.type == "private":  # the user blocked or unblocked the bot
        if added or removed:
            await linli.users.set_reachable(chat.id, added, now)
        return
    if not (added or removed):
        return
    before = await linli.org_repo.chat(chat.id)
    async with linli.db.write() as tx:
        await linli.org_repo.save_chat(
            tx, chat.id, title=chat.title, type_=chat.type, is_forum=bool(chat.is_forum),
            active=added, now=now,
        )
    if removed:
        log.info("removed from chat %s (%s); binding kept inactive", chat.id, chat.title)
        return
    if before is not None and before.node_id is not None:
        node = await linli.org_repo.node(before.node_id)
        assert node is not None
        returning = not before.active and before.title is not None
        await reply(update, context, "group.welcome_back" if returning else "group.greeting_bound",
                    node=node.name)
    else:
        await reply(update, context, "group.greeting")


async def migrated(update: Update, context: LinliContext) -> None:
    """Telegram posts both "migrated to" (old group) and "migrated from" (new supergroup)."""
    message = update.effective_message
    assert message is not None
    if message.migrate_to_chat_id:
        old, new = message.chat_id, message.migrate_to_chat_id
    elif message.migrate_from_chat_id:
        old, new = message.migrate_from_chat_id, message.chat_id
    else:
        return
    linli = context.linli
    async with linli.db.write() as tx:
        if await linli.org_repo.migrate_chat(tx, old, new, linli.clock.now()):
            await linli.outbox.retarget(tx, old, new)
            log.info("group %s became supergroup %s; binding moved", old, new)


async def member_joined(update: Update, context: LinliContext) -> None:
    """Welcome a newcomer to a bound group and show them /join."""
    change = update.chat_member
    assert change is not None
    added, _ = _joined_and_left(change)
    user = change.new_chat_member.user
    if not added or user.is_bot:
        return
    linli = context.linli
    bound = await linli.org_repo.chat(change.chat.id)
    if bound is None or bound.node_id is None or not bound.active:
        return
    if await linli.org_repo.resident(user.id) is not None:
        return
    await reply(update, context, "group.newcomer", name=user.first_name)


def register(app: Application) -> None:
    app.add_handler(ChatMemberHandler(bot_membership, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(ChatMemberHandler(member_joined, ChatMemberHandler.CHAT_MEMBER))
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, migrated))
