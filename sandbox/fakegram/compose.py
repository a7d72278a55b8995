"""The checks and steps every sending method shares: text, keyboard, target, delivery.

The order of checks follows the real server: the request's own content first (text,
HTML, keyboard structure), then the chat, then limits Telegram's backend enforces
(length, button data), then flood control, and only then is anything stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import bad_request
from .protocol import Params, Upload
from .state import JSON, ChatRecord, TelegramState, public
from .text import Entity, HtmlError, auto_entities, parse_html, strip_text, utf16_len

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64  # bytes
_BUTTON_ACTIONS = (
    "url", "callback_data", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
    "callback_game", "pay",
)  # fmt: skip


@dataclass
class Formatted:
    text: str
    entities: list[Entity]
    html: str | None  # the raw HTML when parse_mode was HTML


def formatted(p: Params, field: str, mode_field: str, entities_field: str) -> Formatted:
    """The text of `field` after parse mode and trimming, as Telegram would store it."""
    raw = p.string(field) or ""
    mode = (p.string(mode_field) or "").lower()
    if mode == "html":
        try:
            text, entities = parse_html(raw)
        except HtmlError as error:
            raise bad_request(f"can't parse entities: {error}") from None
    elif mode in ("", "markdown", "markdownv2"):  # Markdown is stored as sent, unparsed
        given = p.get(entities_field) if not mode else None
        text, entities = raw, list(given) if isinstance(given, list) else []
    else:
        raise bad_request("unsupported parse_mode")
    text, entities = strip_text(text, entities)
    return Formatted(text, auto_entities(text, entities), raw if mode == "html" else None)


def text_content(p: Params) -> tuple[JSON, str | None]:
    body = formatted(p, "text", "parse_mode", "entities")
    if not body.text:
        raise bad_request("message text is empty")
    content: JSON = {"text": body.text}
    if body.entities:
        content["entities"] = body.entities
    return content, body.html


def caption_content(p: Params) -> tuple[JSON, str | None]:
    body = formatted(p, "caption", "parse_mode", "caption_entities")
    content: JSON = {}
    if body.text:
        content["caption"] = body.text
    if body.entities:
        content["caption_entities"] = body.entities
    return content, body.html


def check_length(content: JSON) -> None:
    if utf16_len(content.get("text", "")) > MAX_TEXT:
        raise bad_request("message is too long")
    if utf16_len(content.get("caption", "")) > MAX_CAPTION:
        raise bad_request("message caption is too long")


def reply_markup(p: Params) -> JSON | None:
    """The keyboard of the request, checked for the structure the Bot API requires."""
    markup = p.get("reply_markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return markup
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
        )
    for button in (button for row in rows for button in row):
        if not isinstance(button, dict):
            raise bad_request("can't parse inline keyboard button: InlineKeyboardButton "
                              "must be an Object")  # fmt: skip
        if not isinstance(button.get("text"), str):
            raise bad_request(
                'can\'t parse inline keyboard button: Field "text" must be of type String'
            )
        if not any(action in button for action in _BUTTON_ACTIONS):
            raise bad_request("can't parse inline keyboard button: "
                              "Text buttons are unallowed in the inline keyboard")  # fmt: skip
    return markup


def check_buttons(markup: JSON | None) -> None:
    """The limits Telegram's backend puts on inline buttons."""
    for row in (markup or {}).get("inline_keyboard", []):
        for button in row:
            if not button["text"].strip():
                raise bad_request("BUTTON_TEXT_INVALID")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA:
                raise bad_request("BUTTON_DATA_INVALID")


@dataclass
class Outgoing:
    """Where a new message goes, once the request passed the checks on its target."""

    chat: ChatRecord
    thread_id: int | None
    reply_to: JSON | None
    markup: JSON | None


def prepare(tg: TelegramState, p: Params) -> Outgoing:
    markup = reply_markup(p)
    chat = tg.writable_chat(p.chat_id())
    thread_id = p.integer("message_thread_id")
    if thread_id is not None:
        topic = chat.topics.get(thread_id)
        if topic is None:
            raise bad_request("message thread not found")
        if topic.closed and not tg.bot_is_admin(chat):
            raise bad_request("TOPIC_CLOSED")
    reply_to = _reply_target(tg, chat, p)
    check_buttons(markup)
    return Outgoing(chat, thread_id, reply_to, markup)


def _reply_target(tg: TelegramState, chat: ChatRecord, p: Params) -> JSON | None:
    message_id = p.integer("reply_to_message_id")
    allow_missing = p.flag("allow_sending_without_reply")
    parameters = p.get("reply_parameters")
    if isinstance(parameters, dict):
        message_id = parameters.get("message_id")
        allow_missing = bool(parameters.get("allow_sending_without_reply", allow_missing))
    if message_id is None:
        return None
    replied = tg.stored(chat.id, int(message_id))
    if replied is None and not allow_missing:
        raise bad_request("message to be replied not found")
    return replied


def deliver(
    tg: TelegramState, out: Outgoing, method: str, content: JSON, html: str | None = None
) -> JSON:
    """Count the send against flood limits, then store the message; returns it as sent."""
    tg.admit(out.chat)
    message = tg.new_message(out.chat, tg.bot_user, out.thread_id)
    if out.reply_to is not None:
        message["reply_to_message"] = replied_copy(out.reply_to)
    message.update(content)
    if out.markup is not None:
        message["reply_markup"] = out.markup
    tg.store(message, method=method, html=html)
    return public(message)


def replied_copy(message: JSON) -> JSON:
    """A message as it appears inside a reply: one level deep."""
    copy = public(message)
    copy.pop("reply_to_message", None)
    return copy


# ----- media -----


def media_source(tg: TelegramState, p: Params, field: str) -> Upload | str:
    """The file of `field`: an upload, a known file_id or an HTTP URL."""
    value = p.get(field)
    if value is None or value == "":
        raise bad_request(f"there is no {field} in the request")
    if isinstance(value, Upload):
        return value
    if not isinstance(value, str):
        raise bad_request(f"wrong type of the {field} parameter")
    if value in tg.file_objects or value.startswith(("http://", "https://")):
        return value
    raise bad_request("wrong file identifier/HTTP URL specified")


def photo_object(tg: TelegramState, source: Upload | str) -> list[JSON]:
    if isinstance(source, Upload):
        return tg.new_photo(source.data)
    known = tg.file_objects.get(source)
    if isinstance(known, list):
        return known
    if known is not None:
        raise bad_request("wrong file identifier/HTTP URL specified")
    return tg.new_photo()  # downloaded from a URL


def document_object(tg: TelegramState, source: Upload | str) -> JSON:
    if isinstance(source, str):
        known = tg.file_objects.get(source)
        if isinstance(known, dict):
            return known
        if known is not None:  # Telegram sends a photo's file_id as a document too
            return _document(tg, tg.files[known[-1]["file_id"]].data, "photo.jpg", "image/jpeg")
        name = source.rstrip("/").rsplit("/", 1)[-1] or "file"
        return _document(tg, b"downloaded " + source.encode(), name, "application/octet-stream")
    return _document(tg, source.data, source.filename or "file", source.content_type)


def _document(tg: TelegramState, data: bytes, name: str, mime_type: str) -> JSON:
    extension = name.rsplit(".", 1)[-1] if "." in name else "bin"
    record = tg.new_file(data, "documents", extension)
    document: JSON = {
        "file_name": name, "mime_type": mime_type, "file_id": record.file_id,
        "file_unique_id": record.file_unique_id, "file_size": len(data),
    }  # fmt: skip
    tg.file_objects[record.file_id] = document
    return document


def as_float(p: Params, name: str, low: float, high: float) -> float:
    value = p.required(name)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise bad_request(f'field "{name}" must be a valid Number') from None
    if not low <= number <= high:
        raise bad_request(f"wrong {name} specified")
    return number


def same_entities(a: list[Any] | None, b: list[Any] | None) -> bool:
    return (a or []) == (b or [])
