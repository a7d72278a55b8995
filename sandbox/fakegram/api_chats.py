"""Bot API methods about chats: information, members, leaving, pins and forum topics."""

from __future__ import annotations

from .errors import bad_request
from .protocol import Params, api_method
from .state import JSON, ChatRecord, TelegramState, Topic, public

_ADMIN_STATUSES = ("creator", "administrator")
_PRESENT_STATUSES = ("creator", "administrator", "member", "restricted")
TOPIC_COLORS = (7322096, 16766590, 13338331, 9367192, 16749490, 16478047)


@api_method("getChat")
def get_chat(tg: TelegramState, p: Params) -> JSON:
    chat = tg.member_chat(p.chat_id())
    info = tg.chat_json(chat)
    info.update(
        accent_color_id=0,
        max_reaction_count=11,
        accepted_gift_types={
            "unlimited_gifts": False, "limited_gifts": False, "unique_gifts": False,
            "premium_subscription": False, "gifts_from_channels": False,
        },
    )  # fmt: skip
    if chat.type != "private":
        info["permissions"] = {"can_send_messages": True, "can_send_polls": True}
    return info


def _known_user(tg: TelegramState, p: Params) -> JSON:
    user_id = p.integer("user_id")
    if user_id == tg.bot_user["id"]:
        return tg.bot_user
    if user_id is None or user_id not in tg.users:
        raise bad_request("user not found")
    return tg.users[user_id].info


@api_method("getChatMember")
def get_chat_member(tg: TelegramState, p: Params) -> JSON:
    chat = tg.member_chat(p.chat_id())
    user = _known_user(tg, p)
    return tg.member_json(chat, user, tg.status_of(chat, user["id"]))


@api_method("getChatAdministrators")
def get_chat_administrators(tg: TelegramState, p: Params) -> list[JSON]:
    chat = tg.member_chat(p.chat_id())
    if chat.type == "private":
        raise bad_request("there are no administrators in the private chat")
    ranked = sorted(chat.statuses.items(), key=lambda item: item[1] != "creator")
    admins = [
        tg.member_json(chat, tg.users[user_id].info, status)
        for user_id, status in ranked
        if status in _ADMIN_STATUSES
    ]
    if chat.bot_status == "administrator":
        admins.append(tg.member_json(chat, tg.bot_user, "administrator"))
    return admins


@api_method("getChatMemberCount")
def get_chat_member_count(tg: TelegramState, p: Params) -> int:
    chat = tg.member_chat(p.chat_id())
    if chat.type == "private":
        return 2
    people = sum(status in _PRESENT_STATUSES for status in chat.statuses.values())
    return people + (chat.bot_status in _PRESENT_STATUSES)


@api_method("leaveChat")
def leave_chat(tg: TelegramState, p: Params) -> bool:
    chat = tg.member_chat(p.chat_id())
    if chat.type == "private":
        raise bad_request("chat member status can't be changed in private chats")
    old_status, chat.bot_status = chat.bot_status, "left"
    tg.queue_update("my_chat_member", tg.my_chat_member(chat, tg.bot_user, old_status, "left"))
    return True


def _pinnable(tg: TelegramState, p: Params) -> ChatRecord:
    chat = tg.writable_chat(p.chat_id())
    if not tg.bot_is_admin(chat):
        raise bad_request("not enough rights to manage pinned messages in the chat")
    return chat


@api_method("pinChatMessage")
def pin_chat_message(tg: TelegramState, p: Params) -> bool:
    chat = _pinnable(tg, p)
    message_id = p.integer("message_id")
    if message_id is None or tg.stored(chat.id, message_id) is None:
        raise bad_request("message to pin not found")
    if message_id in chat.pinned:
        chat.pinned.remove(message_id)
    chat.pinned.append(message_id)
    return True


@api_method("unpinChatMessage")
def unpin_chat_message(tg: TelegramState, p: Params) -> bool:
    chat = _pinnable(tg, p)
    message_id = p.integer("message_id")
    if message_id is None:
        if chat.pinned:
            chat.pinned.pop()
        return True
    if message_id not in chat.pinned:
        raise bad_request("message to unpin not found")
    chat.pinned.remove(message_id)
    return True


@api_method("unpinAllChatMessages")
def unpin_all_chat_messages(tg: TelegramState, p: Params) -> bool:
    _pinnable(tg, p).pinned.clear()
    return True


# ----- forum topics -----


def _forum(tg: TelegramState, p: Params) -> ChatRecord:
    chat = tg.writable_chat(p.chat_id())
    if not chat.is_forum:
        raise bad_request("the chat is not a forum")
    if not tg.bot_is_admin(chat):
        raise bad_request("not enough rights to manage topics")
    return chat


def _topic(tg: TelegramState, p: Params) -> Topic:
    chat = _forum(tg, p)
    topic = chat.topics.get(p.integer("message_thread_id") or 0)
    if topic is None:
        raise bad_request("message thread not found")
    return topic


def _topic_name(p: Params) -> str:
    name = (p.string("name") or "").strip()
    if not name:
        raise bad_request("TOPIC_TITLE_EMPTY")
    if len(name) > 128:
        raise bad_request("TOPIC_TITLE_TOO_LONG")
    return name


@api_method("createForumTopic")
def create_forum_topic(tg: TelegramState, p: Params) -> JSON:
    name = _topic_name(p)
    color = p.integer("icon_color") or TOPIC_COLORS[0]
    if color not in TOPIC_COLORS:
        raise bad_request("TOPIC_ICON_COLOR_INVALID")
    chat = _forum(tg, p)
    created: JSON = {"name": name, "icon_color": color}
    if p.has("icon_custom_emoji_id"):
        created["icon_custom_emoji_id"] = p.string("icon_custom_emoji_id")
    service = tg.new_message(chat, tg.bot_user)
    service.update(
        message_thread_id=service["message_id"], forum_topic_created=created,
        is_topic_message=True,
    )  # fmt: skip
    tg.store(service, method="createForumTopic")
    topic = Topic(service["message_id"], name, color, public(service))
    topic.icon_custom_emoji_id = created.get("icon_custom_emoji_id")
    chat.topics[topic.thread_id] = topic
    return {"message_thread_id": topic.thread_id, **created}


@api_method("editForumTopic")
def edit_forum_topic(tg: TelegramState, p: Params) -> bool:
    topic = _topic(tg, p)
    name = _topic_name(p) if p.has("name") else topic.name
    emoji = p.string("icon_custom_emoji_id") if p.has("icon_custom_emoji_id") else None
    if name == topic.name and (emoji is None or emoji == topic.icon_custom_emoji_id):
        raise bad_request("TOPIC_NOT_MODIFIED")
    topic.name = name
    if emoji is not None:
        topic.icon_custom_emoji_id = emoji or None
    return True


def _set_topic_closed(tg: TelegramState, p: Params, closed: bool) -> bool:
    topic = _topic(tg, p)
    if topic.closed == closed:
        raise bad_request("TOPIC_NOT_MODIFIED")
    topic.closed = closed
    return True


@api_method("closeForumTopic")
def close_forum_topic(tg: TelegramState, p: Params) -> bool:
    return _set_topic_closed(tg, p, closed=True)


@api_method("reopenForumTopic")
def reopen_forum_topic(tg: TelegramState, p: Params) -> bool:
    return _set_topic_closed(tg, p, closed=False)
