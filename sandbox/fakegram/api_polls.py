"""Bot API methods for native polls."""

from __future__ import annotations

import copy
import itertools
from typing import Any

from .compose import deliver, prepare, reply_markup
from .errors import bad_request
from .protocol import Params, api_method
from .state import JSON, PollRecord, TelegramState
from .text import HtmlError, parse_html, utf16_len

MIN_OPTIONS = 2
MAX_OPTIONS = 12
MAX_OPTION_LENGTH = 100
MAX_QUESTION_LENGTH = 300
_poll_ids = itertools.count(5_300_000_000_000_000_001)


def _plain(text: str, parse_mode: Any) -> str:
    """Poll texts allow only custom emoji entities, so formatting is parsed away."""
    if str(parse_mode or "").lower() != "html":
        return text
    try:
        return parse_html(text)[0]
    except HtmlError as error:
        raise bad_request(f"can't parse entities: {error}") from None


def _options(p: Params) -> list[str]:
    raw = p.get("options")
    if not isinstance(raw, list):
        raise bad_request("can't parse options JSON object")
    texts = []
    for option in raw:
        if isinstance(option, dict):
            texts.append(_plain(str(option.get("text", "")), option.get("text_parse_mode")))
        else:
            texts.append(str(option))
    if len(texts) < MIN_OPTIONS:
        raise bad_request(f"poll must have at least {MIN_OPTIONS} option")
    if len(texts) > MAX_OPTIONS:
        raise bad_request(f"poll can't have more than {MAX_OPTIONS} options")
    if any(not text.strip() for text in texts):
        raise bad_request("poll options must be non-empty")
    if any(utf16_len(text) > MAX_OPTION_LENGTH for text in texts):
        raise bad_request(f"poll options length must not exceed {MAX_OPTION_LENGTH}")
    return [text.strip() for text in texts]


def _question(p: Params) -> str:
    question = _plain(p.string("question") or "", p.get("question_parse_mode")).strip()
    if not question:
        raise bad_request("poll question must be non-empty")
    if utf16_len(question) > MAX_QUESTION_LENGTH:
        raise bad_request(f"poll question length must not exceed {MAX_QUESTION_LENGTH}")
    return question


def _correct_options(p: Params, option_count: int) -> list[int]:
    ids = p.get("correct_option_ids")
    if ids is None and p.has("correct_option_id"):
        ids = [p.integer("correct_option_id")]
    if not isinstance(ids, list) or not ids:
        raise bad_request("correct_option_ids must be specified for quiz polls")
    if any(not isinstance(i, int) or not 0 <= i < option_count for i in ids):
        raise bad_request("wrong correct option identifier specified")
    return ids


@api_method("sendPoll")
def send_poll(tg: TelegramState, p: Params) -> JSON:
    question = _question(p)
    options = _options(p)
    kind = p.string("type") or "regular"
    if kind not in ("regular", "quiz"):
        raise bad_request("unsupported poll type specified")
    poll: JSON = {
        "id": str(next(_poll_ids)),
        "question": question,
        "options": [
            {"text": text, "voter_count": 0, "persistent_id": str(index)}
            for index, text in enumerate(options)
        ],
        "total_voter_count": 0,
        "is_closed": p.flag("is_closed"),
        "is_anonymous": p.flag("is_anonymous", default=True),
        "type": kind,
        "allows_multiple_answers": p.flag("allows_multiple_answers"),
        "allows_revoting": p.flag("allows_revoting", default=kind == "regular"),
        "members_only": p.flag("members_only"),
    }
    if kind == "quiz":
        poll["correct_option_ids"] = _correct_options(p, len(options))
        if p.has("explanation"):
            poll["explanation"] = p.string("explanation")
    for timing in ("open_period", "close_date"):
        if p.has(timing):
            poll[timing] = p.integer(timing)
    out = prepare(tg, p)
    message = deliver(tg, out, "sendPoll", {"poll": poll})
    tg.polls[poll["id"]] = PollRecord(out.chat.id, message["message_id"], poll)
    return message


@api_method("stopPoll")
def stop_poll(tg: TelegramState, p: Params) -> JSON:
    markup = reply_markup(p)
    chat = tg.writable_chat(p.chat_id())
    message_id = p.integer("message_id")
    message = tg.stored(chat.id, message_id) if message_id is not None else None
    if message is None or "poll" not in message or message["from"]["id"] != tg.bot_user["id"]:
        raise bad_request("message with poll to stop not found")
    record = tg.polls[message["poll"]["id"]]
    if record.poll["is_closed"]:
        raise bad_request("poll has already been closed")
    record.poll["is_closed"] = True
    message["poll"] = copy.deepcopy(record.poll)
    if markup is not None:
        message["reply_markup"] = markup
    else:
        message.pop("reply_markup", None)
    tg.queue_update("poll", record.poll)
    return copy.deepcopy(record.poll)
