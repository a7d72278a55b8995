"""What people do on the Telegram side; each action queues the updates Telegram would send.

Mistakes in a test's script (an unknown user, a button on a message that does not exist)
raise ValueError at once instead of producing updates Telegram could never send.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

from .compose import replied_copy
from .state import GROUP_ANONYMOUS_BOT, JSON, ChatRecord, TelegramState, now, public
from .text import auto_entities

_query_ids = itertools.count(4_382_000_000_000_000_001, 7919)


def chat_instance(chat_id: int, bot_id: int) -> str:
    """A stable global identifier of a chat for one bot, as in CallbackQuery.chat_instance."""
    return str((chat_id * 6364136223846793005 + bot_id) % 2**63 - 2**62)


def _location(value: Any) -> JSON:
    if isinstance(value, dict):
        return {"latitude": float(value["latitude"]), "longitude": float(value["longitude"])}
    latitude, longitude = value
    return {"latitude": float(latitude), "longitude": float(longitude)}


class UserActions(TelegramState):
    def user_sends(
        self,
        user_id: int,
        chat_id: int,
        text: str | None = None,
        *,
        photo: bool = False,
        caption: str | None = None,
        location: Any = None,
        reply_to_message_id: int | None = None,
        message_thread_id: int | None = None,
        voice: int | None = None,
        video_note: int | None = None,
        spoken: str = "",
    ) -> JSON:
        """A message from a user; `chat_id == user_id` is their private chat with the bot.

        `location` is `(latitude, longitude)` or a Location dict. `voice` / `video_note`:
        a voice message or round video note of that many seconds (`spoken`: what it says,
        for a test's speech-to-text engine). Returns the update.
        """
        kinds = [text is not None, photo, location is not None, voice is not None,
                 video_note is not None]
        if sum(kinds) > 1:
            raise ValueError("a message has either text, a photo, a location or a voice")
        if not any(kinds):
            raise ValueError("nothing to send: give text, photo=True, location or a voice")
        if caption is not None and not (photo or voice is not None):
            raise ValueError("only a photo or a voice has a caption")
        user = self.user(user_id)
        chat = self._chat_for_user(user_id, chat_id)
        if message_thread_id is not None and message_thread_id not in chat.topics:
            raise ValueError(f"no topic {message_thread_id} in chat {chat_id}")
        message = self.new_message(chat, user.info, message_thread_id)
        if reply_to_message_id is not None:
            replied = self.stored(chat.id, reply_to_message_id)
            if replied is None:
                raise ValueError(f"no message {reply_to_message_id} in chat {chat_id}")
            message["reply_to_message"] = replied_copy(replied)
        if text is not None:
            message["text"] = text
            if entities := auto_entities(text):
                message["entities"] = entities
        if photo:
            message["photo"] = self.new_photo()
            if caption is not None:
                message["caption"] = caption
                if entities := auto_entities(caption):
                    message["caption_entities"] = entities
        if location is not None:
            message["location"] = _location(location)
        if voice is not None or video_note is not None:
            is_note = video_note is not None
            seconds = video_note if is_note else voice
            assert seconds is not None
            message["video_note" if is_note else "voice"] = self.new_voice(
                seconds, spoken, video_note=is_note)
            if caption is not None and not is_note:
                message["caption"] = caption
        self.store(message)
        return self.queue_update("message", public(message))

    def user_edits(self, user_id: int, chat_id: int, message_id: int, text: str) -> JSON:
        """A user edits the text (or a photo's caption) of their message: an edited_message
        update."""
        message = self.stored(chat_id, message_id)
        field = "text" if message is not None and "text" in message else "caption"
        if message is None or message["from"]["id"] != user_id or (
                field == "caption" and "photo" not in message):
            raise ValueError(f"user {user_id} has no text message {message_id} in {chat_id}")
        message[field] = text
        message.pop("entities" if field == "text" else "caption_entities", None)
        if entities := auto_entities(text):
            message["entities" if field == "text" else "caption_entities"] = entities
        message["edit_date"] = now()
        return self.queue_update("edited_message", public(message))

    def _chat_for_user(self, user_id: int, chat_id: int) -> ChatRecord:
        chat = self.chat(chat_id)
        if chat.type == "private":
            if chat_id != user_id:
                raise ValueError("a private chat's id is the user's id")
            if self.users[user_id].blocked:
                raise ValueError(f"user {user_id} blocked the bot: user_unblocks_bot() first")
            self.users[user_id].started = True
            return chat
        if chat.migrated_to is not None:
            raise ValueError(f"chat {chat_id} became supergroup {chat.migrated_to}")
        if chat.bot_status in ("left", "kicked"):
            raise ValueError(f"the bot is not in chat {chat_id}: it would get no update")
        if chat.statuses.get(user_id) in (None, "left", "kicked"):
            chat.statuses[user_id] = "member"
        return chat

    def press_button(self, user_id: int, chat_id: int, message_id: int, data: str) -> str:
        """A user presses an inline button of a bot message; returns the callback query id.

        `data` is sent as given, so tests can also forge data no button carries.
        """
        user = self.user(user_id)
        if self.chat(chat_id).type == "private" and chat_id != user_id:
            raise ValueError(f"user {user_id} cannot see the private chat {chat_id}")
        message = self.stored(chat_id, message_id)
        if message is None or message["from"]["id"] != self.bot_user["id"]:
            raise ValueError(f"no message {message_id} of the bot in chat {chat_id}")
        query_id = str(next(_query_ids))
        self.callback_answers[query_id] = None
        self.queue_update(
            "callback_query",
            {
                "id": query_id,
                "from": user.info,
                "message": public(message),
                "chat_instance": chat_instance(chat_id, self.bot_user["id"]),
                "data": data,
            },
        )
        return query_id

    def answers_to(self, callback_query_id: str) -> JSON | None:
        """What the bot passed to answerCallbackQuery for this query (None: not answered)."""
        answer = self.callback_answers.get(callback_query_id)
        return dict(answer) if answer is not None else None

    def vote(self, user_id: int, poll_id: str, option_ids: list[int]) -> list[JSON]:
        """A user votes (`[]` retracts). Returns the updates: poll_answer unless the poll is
        anonymous, then poll with the new counts. A closed poll takes no votes: `[]`."""
        user = self.user(user_id)
        record = self.polls.get(poll_id)
        if record is None:
            raise ValueError(f"no poll {poll_id}")
        poll = record.poll
        if poll["is_closed"]:
            return []
        if any(not 0 <= i < len(poll["options"]) for i in option_ids):
            raise ValueError(f"poll {poll_id} has {len(poll['options'])} options")
        if len(option_ids) > 1 and not poll["allows_multiple_answers"]:
            raise ValueError(f"poll {poll_id} takes one answer")
        if user_id in record.votes and not poll.get("allows_revoting", True):
            raise ValueError(f"poll {poll_id} does not allow changing a vote")
        record.votes.pop(user_id, None)
        if option_ids:
            record.votes[user_id] = list(option_ids)
        for index, option in enumerate(poll["options"]):
            option["voter_count"] = sum(index in chosen for chosen in record.votes.values())
        poll["total_voter_count"] = len(record.votes)
        message = self.stored(record.chat_id, record.message_id)
        if message is not None:
            message["poll"] = copy.deepcopy(poll)
        updates = []
        if not poll["is_anonymous"]:
            answer = {
                "poll_id": poll_id,
                "user": user.info,
                "option_ids": list(option_ids),
                "option_persistent_ids": [poll["options"][i]["persistent_id"] for i in option_ids],
            }
            updates.append(self.queue_update("poll_answer", answer))
        updates.append(self.queue_update("poll", poll))
        return updates

    # ----- membership -----

    def add_bot_to_group(self, chat_id: int, by_user_id: int, status: str = "member") -> list[JSON]:
        """`by_user_id` adds the bot: my_chat_member (left, or kicked, -> `status`) and the
        service message with new_chat_members."""
        if status not in ("member", "administrator"):
            raise ValueError("the bot joins as 'member' or 'administrator'")
        chat = self.chat(chat_id)
        actor = self.user(by_user_id).info
        old = "kicked" if chat.bot_status == "kicked" else "left"
        chat.bot_status = status
        if chat.statuses.get(by_user_id) in (None, "left", "kicked"):
            chat.statuses[by_user_id] = "member"
        change = self.queue_update("my_chat_member", self.my_chat_member(chat, actor, old, status))
        service = self.new_message(chat, actor)
        bot = dict(self.bot_user)
        service.update(new_chat_participant=bot, new_chat_member=bot, new_chat_members=[bot])
        self.store(service)
        return [change, self.queue_update("message", public(service))]

    def remove_bot_from_group(self, chat_id: int, by_user_id: int) -> JSON:
        """`by_user_id` removes the bot: my_chat_member to kicked; sends then fail with 403."""
        chat = self.chat(chat_id)
        actor = self.user(by_user_id).info
        old, chat.bot_status = chat.bot_status, "kicked"
        return self.queue_update("my_chat_member", self.my_chat_member(chat, actor, old, "kicked"))

    def member_joins(self, chat_id: int, user_id: int) -> list[JSON]:
        """A user joins a group: chat_member (only when the bot is an administrator, as on
        Telegram) and the service message with new_chat_members."""
        chat = self.chat(chat_id)
        user = self.user(user_id).info
        old = self.status_of(chat, user_id)
        chat.statuses[user_id] = "member"
        updates = []
        if chat.bot_status == "administrator":
            change = {
                "chat": self.chat_json(chat), "from": user, "date": now(),
                "old_chat_member": self.member_json(chat, user, old),
                "new_chat_member": self.member_json(chat, user, "member"),
            }  # fmt: skip
            updates.append(self.queue_update("chat_member", change))
        service = self.new_message(chat, user)
        service.update(new_chat_participant=user, new_chat_member=user, new_chat_members=[user])
        self.store(service)
        updates.append(self.queue_update("message", public(service)))
        return updates

    def migrate_group(
        self, chat_id: int, new_chat_id: int, *, by_user_id: int | None = None
    ) -> list[JSON]:
        """A group becomes a supergroup: migrate_to_chat_id in the old chat, then
        migrate_from_chat_id in the new one; the old id then answers 400 with
        `migrate_to_chat_id`."""
        old = self.chat(chat_id)
        if old.type != "group":
            raise ValueError(f"chat {chat_id} is not a basic group")
        new = ChatRecord(
            new_chat_id, "supergroup", old.title, statuses=dict(old.statuses),
            bot_status=old.bot_status,
        )  # fmt: skip
        self.chats[new_chat_id] = new
        sender = self._migrator(old, by_user_id)
        farewell = self.new_message(old, sender)
        farewell["migrate_to_chat_id"] = new_chat_id
        self.store(farewell)
        old.migrated_to = new_chat_id
        welcome = self.new_message(new, sender)
        welcome["migrate_from_chat_id"] = chat_id
        self.store(welcome)
        return [
            self.queue_update("message", public(farewell)),
            self.queue_update("message", public(welcome)),
        ]

    def _migrator(self, chat: ChatRecord, by_user_id: int | None) -> JSON:
        if by_user_id is not None:
            return self.user(by_user_id).info
        for status in ("creator", "administrator", "member"):
            for user_id, user_status in chat.statuses.items():
                if user_status == status:
                    return self.users[user_id].info
        return GROUP_ANONYMOUS_BOT

    def user_blocks_bot(self, user_id: int) -> JSON:
        """my_chat_member in the private chat (member -> kicked); sends then get 403."""
        return self._set_blocked(user_id, blocked=True)

    def user_unblocks_bot(self, user_id: int) -> JSON:
        """my_chat_member in the private chat (kicked -> member)."""
        return self._set_blocked(user_id, blocked=False)

    def _set_blocked(self, user_id: int, blocked: bool) -> JSON:
        record = self.user(user_id)
        record.blocked = blocked
        record.started = True
        chat = self.private_chat(user_id)
        old, new = ("member", "kicked") if blocked else ("kicked", "member")
        return self.queue_update("my_chat_member", self.my_chat_member(chat, record.info, old, new))
