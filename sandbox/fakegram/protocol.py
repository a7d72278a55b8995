"""How Bot API requests arrive: decoding parameters and finding the method."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .errors import bad_request

if TYPE_CHECKING:
    from .state import TelegramState

# Parameters that are strings even when they look like JSON ("123", "true").
STRING_PARAMS = frozenset(
    """text caption parse_mode question question_parse_mode explanation explanation_parse_mode
    description description_parse_mode callback_query_id inline_message_id name title url
    file_id icon_custom_emoji_id emoji address language_code custom_title short_description
    business_connection_id message_effect_id action secret_token photo document video audio
    voice animation sticker thumbnail poll_id""".split()
)


@dataclass(frozen=True)
class Upload:
    """A file sent in a multipart request."""

    filename: str | None
    content_type: str
    data: bytes


def decode_value(name: str, value: Any) -> Any:
    """A form value as the Bot API reads it: JSON where it parses, else the string."""
    if not isinstance(value, str) or name in STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def read_params(request: web.Request) -> dict[str, Any]:
    """Query string plus an urlencoded, multipart or JSON body, decoded."""
    raw: dict[str, Any] = dict(request.query)
    if request.body_exists:
        if request.content_type == "application/json":
            body = await request.json()
            raw.update(body if isinstance(body, dict) else {})
        else:
            for key, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    raw[key] = Upload(value.filename, value.content_type, value.file.read())
                else:
                    raw[key] = value
    return {key: decode_value(key, value) for key, value in raw.items()}


class Params:
    """The parameters of one call, with the Bot API's checks on reading them."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def get(self, name: str, default: Any = None) -> Any:
        value = self.values.get(name)
        return default if value is None else value

    def has(self, name: str) -> bool:
        return self.values.get(name) is not None

    def string(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

    def integer(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return int(value)
        raise bad_request(f'field "{name}" must be of type Integer')

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.values.get(name)
        if value is None:
            return default
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def chat_id(self) -> Any:
        value = self.values.get("chat_id")
        if value is None or value == "":
            raise bad_request("chat_id is empty")
        return value

    def required(self, name: str) -> Any:
        value = self.values.get(name)
        if value is None or value == "":
            raise bad_request(f'parameter "{name}" is required')
        return value


Result = Any
Handler = Callable[["TelegramState", Params], Result | Awaitable[Result]]
METHODS: dict[str, tuple[str, Handler]] = {}  # lower-case name -> (name, handler)


def api_method(name: str) -> Callable[[Handler], Handler]:
    """Register a Bot API method; Telegram matches method names case-insensitively."""

    def register(handler: Handler) -> Handler:
        METHODS[name.lower()] = (name, handler)
        return handler

    return register
