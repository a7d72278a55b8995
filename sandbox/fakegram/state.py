"""What the fake Telegram knows: users, chats, messages, polls, files, pending updates."""

from __future__ import annotations

import copy
import itertools
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import bad_request, forbidden
from .faults import FloodControl
from .updates import UpdateQueue
from .webhook import WebhookPusher

JSON = dict[str, Any]

# Keys kept next to a stored message for the tests; never sent over the wire.
PRIVATE_KEYS = ("method", "html", "chat_id")
GROUP_ANONYMOUS_BOT: JSON = {
    "id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot",
}  # fmt: skip


@dataclass
class UserRecord:
    info: JSON  # the User object
    started: bool = False  # has written to the bot in private
    blocked: bool = False


@dataclass
class Topic:
    thread_id: int
    name: str
    icon_color: int
    created_message: JSON
    icon_custom_emoji_id: str | None = None
    closed: bool = False


@dataclass
class ChatRecord:
    id: int
    type: str  # private | group | supergroup
    title: str | None = None
    is_forum: bool = False
    statuses: dict[int, str] = field(default_factory=dict)  # user id -> ChatMember status
    bot_status: str = "member"
    migrated_to: int | None = None
    last_message_id: int = 0
    topics: dict[int, Topic] = field(default_factory=dict)
    pinned: list[int] = field(default_factory=list)


@dataclass
class PollRecord:
    chat_id: int
    message_id: int
    poll: JSON  # the Poll object, kept up to date
    votes: dict[int, list[int]] = field(default_factory=dict)  # user id -> option ids


@dataclass
class FileRecord:
    file_id: str
    file_unique_id: str
    path: str
    data: bytes


_clock: Callable[[], float] = time.time  # what "now" is for message dates (see set_clock)


def now() -> int:
    return int(_clock())


def set_clock(clock: Callable[[], float] | None) -> None:
    """Date messages by `clock` (seconds since the epoch) instead of the system's time: the
    sandbox keeps them in step with the bot's clock; None goes back to the system's."""
    global _clock
    _clock = clock or time.time


def public(message: JSON) -> JSON:
    """A stored message as Telegram sends it: without the keys kept for the tests, and
    with reply_markup only when it is an inline keyboard (reply keyboards are not echoed)."""
    result = {k: copy.deepcopy(v) for k, v in message.items() if k not in PRIVATE_KEYS}
    markup = result.get("reply_markup")
    if markup is not None and "inline_keyboard" not in markup:
        del result["reply_markup"]
    return result


class TelegramState:
    """The world behind the fake Bot API. Subclasses add user actions and HTTP."""

    def __init__(self, bot_id: int, bot_username: str, bot_first_name: str) -> None:
        self.bot_user: JSON = {
            "id": bot_id, "is_bot": True, "first_name": bot_first_name, "username": bot_username,
        }  # fmt: skip
        self.users: dict[int, UserRecord] = {}
        self.chats: dict[int, ChatRecord] = {}
        self.messages: dict[tuple[int, int], JSON] = {}
        self.polls: dict[str, PollRecord] = {}
        self.files: dict[str, FileRecord] = {}
        # file_id -> what it is: a PhotoSize list (any size's id) or a Document
        self.file_objects: dict[str, list[JSON] | JSON] = {}
        self.file_kinds: dict[str, str] = {}  # file_id -> voice | video_note
        self.callback_answers: dict[str, JSON | None] = {}  # query id -> answer (None: not yet)
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.webhook: JSON = {}  # what setWebhook was last given (url, secret_token, ...)
        # where the registered webhook URL is served (a test's local address); None: the
        # fake delivers nothing by webhook (a test posts updates itself)
        self.webhook_target: str | None = None
        self.pusher: WebhookPusher | None = None
        self.menu_buttons: dict[int | None, JSON] = {}
        self.overall_per_second: int | None = 30
        self.group_per_minute: int | None = 20
        self.group_window = 60.0  # seconds over which group_per_minute is counted
        self.flood = FloodControl()
        self._sent: list[JSON] = []
        self._edits: list[JSON] = []  # every edit a message took, as it was right after it
        self.updates = UpdateQueue()
        self._ids = itertools.count(1)

    def restart_pusher(self) -> None:
        """(Re)start webhook delivery for the current setWebhook, or stop it."""
        if self.pusher is not None:
            self.pusher.cancel()
            self.pusher = None
        url = self.webhook.get("url")
        if url and self.webhook_target:
            self.pusher = WebhookPusher(self, self.webhook_target, self.webhook.get("secret_token"),
                                        int(self.webhook.get("max_connections") or 40))
            self.pusher.start()

    # ----- the world -----

    def add_user(
        self,
        user_id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "zh-hans",
    ) -> JSON:
        info: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        optional = {"last_name": last_name, "username": username, "language_code": language_code}
        info.update({k: v for k, v in optional.items() if v is not None})
        self.users[user_id] = UserRecord(info)
        return dict(info)

    def add_group(
        self,
        chat_id: int,
        title: str,
        type: str = "group",
        is_forum: bool = False,
        members: list[int] | None = None,
        admins: list[int] | None = None,
        *,
        creator: int | None = None,
        bot_status: str = "member",
    ) -> JSON:
        """A group the bot is already in (`bot_status`); returns its Chat object."""
        if type not in ("group", "supergroup"):
            raise ValueError(f"a group is 'group' or 'supergroup', not {type!r}")
        if is_forum and type != "supergroup":
            raise ValueError("only a supergroup can be a forum")
        chat = ChatRecord(chat_id, type, title, is_forum, bot_status=bot_status)
        for user_id in members or []:
            chat.statuses[user_id] = "member"
        for user_id in admins or []:
            chat.statuses[user_id] = "administrator"
        if creator is not None:
            chat.statuses[creator] = "creator"
        for user_id in chat.statuses:
            self.user(user_id)
        self.chats[chat_id] = chat
        return self.chat_json(chat)

    def user(self, user_id: int) -> UserRecord:
        record = self.users.get(user_id)
        if record is None:
            raise ValueError(f"unknown user {user_id}: call add_user() first")
        return record

    def chat(self, chat_id: int) -> ChatRecord:
        """The chat a test refers to (a private chat is the user's id)."""
        if chat_id in self.chats:
            return self.chats[chat_id]
        if chat_id in self.users:
            return self.private_chat(chat_id)
        raise ValueError(f"unknown chat {chat_id}: call add_group() or add_user() first")

    def private_chat(self, user_id: int) -> ChatRecord:
        if user_id not in self.chats:
            self.chats[user_id] = ChatRecord(user_id, "private")
        return self.chats[user_id]

    def chat_json(self, chat: ChatRecord) -> JSON:
        if chat.type == "private":
            info = self.users[chat.id].info
            names = ("first_name", "last_name", "username")
            return {"id": chat.id, "type": "private", **{k: info[k] for k in names if k in info}}
        result: JSON = {"id": chat.id, "type": chat.type, "title": chat.title}
        if chat.is_forum:
            result["is_forum"] = True
        return result

    def member_json(self, chat: ChatRecord, user: JSON, status: str) -> JSON:
        """A ChatMember object of the right kind for `status`."""
        member: JSON = {"user": dict(user), "status": status}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "kicked":
            member["until_date"] = 0
        elif status == "administrator":
            member.update(
                can_be_edited=False, is_anonymous=False, can_manage_chat=True,
                can_delete_messages=True, can_manage_video_chats=True,
                can_restrict_members=True, can_promote_members=False, can_change_info=True,
                can_invite_users=True, can_post_stories=False, can_edit_stories=False,
                can_delete_stories=False, can_pin_messages=True,
            )  # fmt: skip
            if chat.type == "supergroup":
                member["can_manage_topics"] = True
        return member

    def status_of(self, chat: ChatRecord, user_id: int) -> str:
        if user_id == self.bot_user["id"]:
            return chat.bot_status
        if chat.type == "private":
            return "member" if user_id == chat.id else "left"
        return chat.statuses.get(user_id, "left")

    # ----- access rules of the Bot API -----

    def resolve_chat(self, chat_id: Any) -> ChatRecord:
        chat = self.chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None and isinstance(chat_id, int) and chat_id in self.users:
            chat = self.private_chat(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        if chat.migrated_to is not None:
            raise bad_request(
                "group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        return chat

    def member_chat(self, chat_id: Any) -> ChatRecord:
        """A chat the bot is in (a private chat: any user the bot has seen)."""
        chat = self.resolve_chat(chat_id)
        if chat.bot_status == "kicked" and chat.type != "private":
            raise forbidden(f"bot was kicked from the {chat.type} chat")
        if chat.bot_status == "left":
            raise forbidden(f"bot is not a member of the {chat.type} chat")
        return chat

    def writable_chat(self, chat_id: Any) -> ChatRecord:
        """A chat the bot may send to, or the error Telegram gives."""
        chat = self.member_chat(chat_id)
        if chat.type == "private":
            user = self.users[chat.id]
            if user.blocked:
                raise forbidden("bot was blocked by the user")
            if not user.started:
                raise forbidden("bot can't initiate conversation with a user")
        return chat

    def admit(self, chat: ChatRecord) -> None:
        """Count a send or edit into `chat` against the flood limits (429 when over)."""
        self.flood.admit(chat.id, self.overall_per_second, self.group_per_minute,
                         self.group_window)

    def bot_is_admin(self, chat: ChatRecord) -> bool:
        return chat.type == "private" or chat.bot_status in ("administrator", "creator")

    # ----- messages -----

    def next_message_id(self, chat: ChatRecord) -> int:
        chat.last_message_id += 1
        return chat.last_message_id

    def new_message(self, chat: ChatRecord, sender: JSON, thread_id: int | None = None) -> JSON:
        message: JSON = {
            "message_id": self.next_message_id(chat),
            "from": dict(sender),
            "chat": self.chat_json(chat),
            "date": now(),
        }
        topic = chat.topics.get(thread_id) if thread_id else None
        if topic is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
            message["reply_to_message"] = public(topic.created_message)
        return message

    def store(self, message: JSON, *, method: str | None = None, html: str | None = None) -> JSON:
        message["chat_id"] = message["chat"]["id"]
        message["method"] = method
        if html is not None:
            message["html"] = html
        self.messages[(message["chat_id"], message["message_id"])] = message
        if method is not None and not message.get("forum_topic_created"):
            self._sent.append(copy.deepcopy(message))
        return message

    def stored(self, chat_id: int, message_id: int) -> JSON | None:
        return self.messages.get((chat_id, message_id))

    # ----- files -----

    def new_file(self, data: bytes, folder: str, extension: str) -> FileRecord:
        n = next(self._ids)
        kind = {"photos": "AgACAgUAAxkBAA", "documents": "BQACAgUAAxkBAA",
                "voice": "AwACAgUAAxkBAA", "video_notes": "DQACAgUAAxkBAA"}.get(folder, "CAACAgA")
        record = FileRecord(
            file_id=f"{kind}{n:06d}{zlib.crc32(data):010d}",
            file_unique_id=f"AQAD{n:06d}",
            path=f"{folder}/file_{n}.{extension}",
            data=data,
        )
        self.files[record.file_id] = record
        return record

    def new_photo(self, data: bytes | None = None) -> list[JSON]:
        """A PhotoSize list (three sizes) for one picture, biggest last."""
        sizes = []
        for side in (90, 320, 800):
            body = data if data is not None else _fake_jpeg(side)
            record = self.new_file(body, "photos", "jpg")
            sizes.append({
                "file_id": record.file_id, "file_unique_id": record.file_unique_id,
                "file_size": len(body), "width": side, "height": side,
            })  # fmt: skip
        for size in sizes:
            self.file_objects[size["file_id"]] = sizes
        return sizes

    def new_voice(self, duration: int, spoken: str = "", *, video_note: bool = False) -> JSON:
        """A Voice (OGG/Opus) or VideoNote (MP4) object. The bytes carry `spoken` after a
        header, so a test's speech-to-text engine can "hear" it."""
        header = b"\x00\x00\x00\x18ftypmp42" if video_note else b"OggS\x00\x02"
        data = header + b"|" + spoken.encode()
        folder, extension = ("video_notes", "mp4") if video_note else ("voice", "oga")
        record = self.new_file(data, folder, extension)
        media: JSON = {"file_id": record.file_id, "file_unique_id": record.file_unique_id,
                       "duration": int(duration), "file_size": len(data)}
        if video_note:
            media["length"] = 240
        else:
            media["mime_type"] = "audio/ogg"
        self.file_objects[record.file_id] = media
        self.file_kinds[record.file_id] = "video_note" if video_note else "voice"
        return media

    # ----- updates -----

    def queue_update(self, kind: str, payload: JSON) -> JSON:
        return self.updates.push(kind, payload)

    def redeliver(self, update: JSON) -> None:
        """Telegram delivers `update` (as returned by user_sends etc.) a second time."""
        self.updates.redeliver(update)

    def pending_updates(self) -> int:
        """Updates queued and not yet confirmed by an offset."""
        return self.updates.pending()

    @property
    def allowed_updates(self) -> list[str] | None:
        """The allowed_updates the bot last passed to getUpdates (None: never passed)."""
        return self.updates.allowed_updates

    def my_chat_member(self, chat: ChatRecord, actor: JSON, old: str, new: str) -> JSON:
        """The ChatMemberUpdated payload of a change of the bot's status in `chat`."""
        return {
            "chat": self.chat_json(chat),
            "from": dict(actor),
            "date": now(),
            "old_chat_member": self.member_json(chat, self.bot_user, old),
            "new_chat_member": self.member_json(chat, self.bot_user, new),
        }


def _fake_jpeg(side: int) -> bytes:
    """Bytes that start and end like a JPEG; enough for a download test."""
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + f"fakegram {side}x{side}".encode() + b"\xff\xd9"
