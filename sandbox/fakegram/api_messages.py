"""Bot API methods that send, edit and delete messages, and answer button presses."""

from __future__ import annotations

import copy

from .compose import (
    as_float,
    caption_content,
    check_buttons,
    check_length,
    deliver,
    document_object,
    media_source,
    photo_object,
    prepare,
    reply_markup,
    same_entities,
    text_content,
)
from .errors import CALLBACK_QUERY_TOO_OLD, MESSAGE_NOT_MODIFIED, bad_request
from .protocol import Params, api_method
from .state import JSON, ChatRecord, TelegramState, now, public


@api_method("sendMessage")
def send_message(tg: TelegramState, p: Params) -> JSON:
    content, html = text_content(p)
    out = prepare(tg, p)
    check_length(content)
    return deliver(tg, out, "sendMessage", content, html)


@api_method("sendPhoto")
def send_photo(tg: TelegramState, p: Params) -> JSON:
    source = media_source(tg, p, "photo")
    content, html = caption_content(p)
    out = prepare(tg, p)
    check_length(content)
    return deliver(tg, out, "sendPhoto", {"photo": photo_object(tg, source), **content}, html)


@api_method("sendDocument")
def send_document(tg: TelegramState, p: Params) -> JSON:
    source = media_source(tg, p, "document")
    content, html = caption_content(p)
    out = prepare(tg, p)
    check_length(content)
    document = document_object(tg, source)
    return deliver(tg, out, "sendDocument", {"document": document, **content}, html)


@api_method("sendLocation")
def send_location(tg: TelegramState, p: Params) -> JSON:
    location = {
        "latitude": as_float(p, "latitude", -90, 90),
        "longitude": as_float(p, "longitude", -180, 180),
    }
    out = prepare(tg, p)
    return deliver(tg, out, "sendLocation", {"location": location})


def _editable(tg: TelegramState, p: Params) -> tuple[ChatRecord, JSON]:
    if p.has("inline_message_id"):
        raise bad_request("MESSAGE_ID_INVALID")  # the fake has no inline messages
    chat = tg.writable_chat(p.chat_id())
    message_id = p.integer("message_id")
    if message_id is None:
        raise bad_request("message identifier is not specified")
    message = tg.stored(chat.id, message_id)
    if message is None:
        raise bad_request("message to edit not found")
    if message["from"]["id"] != tg.bot_user["id"]:
        raise bad_request("message can't be edited")
    return chat, message


def _apply_edit(
    tg: TelegramState, chat: ChatRecord, message: JSON, changes: JSON, html: str | None,
    method: str,
) -> JSON:
    tg.admit(chat)
    for key, value in changes.items():
        if value:
            message[key] = value
        else:
            message.pop(key, None)
    if html is not None:
        message["html"] = html
    elif "text" in changes or "caption" in changes:
        message.pop("html", None)
    message["edit_date"] = now()
    tg._edits.append({**copy.deepcopy(message), "method": method})
    return public(message)


@api_method("editMessageText")
def edit_message_text(tg: TelegramState, p: Params) -> JSON:
    content, html = text_content(p)
    markup = reply_markup(p)
    chat, message = _editable(tg, p)
    if "text" not in message:
        raise bad_request("there is no text in the message to edit")
    check_length(content)
    check_buttons(markup)
    if (
        content["text"] == message["text"]
        and same_entities(content.get("entities"), message.get("entities"))
        and markup == message.get("reply_markup")
    ):
        raise bad_request(MESSAGE_NOT_MODIFIED)
    changes = {"entities": None, **content, "reply_markup": markup}
    return _apply_edit(tg, chat, message, changes, html, "editMessageText")


@api_method("editMessageCaption")
def edit_message_caption(tg: TelegramState, p: Params) -> JSON:
    content, html = caption_content(p)
    markup = reply_markup(p)
    chat, message = _editable(tg, p)
    if not any(kind in message for kind in ("photo", "document")):
        raise bad_request("there is no caption in the message to edit")
    check_length(content)
    check_buttons(markup)
    if (
        content.get("caption") == message.get("caption")
        and same_entities(content.get("caption_entities"), message.get("caption_entities"))
        and markup == message.get("reply_markup")
    ):
        raise bad_request(MESSAGE_NOT_MODIFIED)
    changes = {"caption": None, "caption_entities": None, **content, "reply_markup": markup}
    return _apply_edit(tg, chat, message, changes, html, "editMessageCaption")


@api_method("editMessageReplyMarkup")
def edit_message_reply_markup(tg: TelegramState, p: Params) -> JSON:
    markup = reply_markup(p)
    chat, message = _editable(tg, p)
    check_buttons(markup)
    if markup == message.get("reply_markup"):
        raise bad_request(MESSAGE_NOT_MODIFIED)
    return _apply_edit(tg, chat, message, {"reply_markup": markup}, None,
                       "editMessageReplyMarkup")


@api_method("deleteMessage")
def delete_message(tg: TelegramState, p: Params) -> bool:
    chat = tg.member_chat(p.chat_id())
    message_id = p.integer("message_id")
    message = tg.stored(chat.id, message_id) if message_id is not None else None
    if message is None:
        raise bad_request("message to delete not found")
    own = message["from"]["id"] == tg.bot_user["id"]
    if chat.type != "private" and not own and not tg.bot_is_admin(chat):
        raise bad_request("message can't be deleted")
    del tg.messages[(chat.id, message["message_id"])]
    if message["message_id"] in chat.pinned:
        chat.pinned.remove(message["message_id"])
    return True


@api_method("answerCallbackQuery")
def answer_callback_query(tg: TelegramState, p: Params) -> bool:
    query_id = p.string("callback_query_id") or ""
    if query_id not in tg.callback_answers or tg.callback_answers[query_id] is not None:
        raise bad_request(CALLBACK_QUERY_TOO_OLD)
    text = p.string("text")
    if text is not None and len(text) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    answer = {"text": text, "show_alert": p.flag("show_alert")}
    for optional in ("url", "cache_time"):
        if p.has(optional):
            answer[optional] = p.get(optional)
    tg.callback_answers[query_id] = answer
    return True


_CHAT_ACTIONS = frozenset(
    "typing upload_photo record_video upload_video record_voice upload_voice upload_document "
    "choose_sticker find_location record_video_note upload_video_note".split()
)


@api_method("sendChatAction")
def send_chat_action(tg: TelegramState, p: Params) -> bool:
    tg.writable_chat(p.chat_id())
    if p.string("action") not in _CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    return True
