"""Bot API methods about the bot itself: identity, updates, files, commands, menu button."""

from __future__ import annotations

import re

from .errors import bad_request
from .protocol import Params, api_method
from .state import JSON, TelegramState

_SCOPE_TYPES = (
    "default", "all_private_chats", "all_group_chats", "all_chat_administrators",
    "chat", "chat_administrators", "chat_member",
)  # fmt: skip
MAX_POLL_TIMEOUT = 50


@api_method("getMe")
def get_me(tg: TelegramState, p: Params) -> JSON:
    return {
        **tg.bot_user,
        "can_join_groups": True, "can_read_all_group_messages": False,
        "supports_inline_queries": False, "can_connect_to_business": False,
        "has_main_web_app": False,
    }  # fmt: skip


@api_method("getUpdates")
async def get_updates(tg: TelegramState, p: Params) -> list[JSON]:
    allowed = p.get("allowed_updates")
    if allowed is not None:
        if not isinstance(allowed, list):
            raise bad_request("can't parse allowed_updates JSON object")
        tg.updates.allowed_updates = [str(kind) for kind in allowed]
    offset = p.integer("offset")
    if offset:
        tg.updates.confirm(offset)
    limit = min(max(p.integer("limit") or 100, 1), 100)
    timeout = min(max(p.integer("timeout") or 0, 0), MAX_POLL_TIMEOUT)
    return await tg.updates.poll(limit, timeout)


@api_method("setWebhook")
def set_webhook(tg: TelegramState, p: Params) -> bool:
    url = p.get("url") or ""
    if url and not str(url).startswith("https://"):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    allowed = p.get("allowed_updates")
    tg.webhook = {"url": str(url), "secret_token": p.get("secret_token"),
                  "allowed_updates": allowed, "max_connections": p.integer("max_connections")}
    if allowed is not None:
        tg.updates.allowed_updates = [str(kind) for kind in allowed]
    if p.flag("drop_pending_updates"):
        tg.updates.drop_all()
    tg.restart_pusher()
    return True


@api_method("deleteWebhook")
def delete_webhook(tg: TelegramState, p: Params) -> bool:
    tg.webhook = {}
    if p.flag("drop_pending_updates"):
        tg.updates.drop_all()
    tg.restart_pusher()
    return True


@api_method("getWebhookInfo")
def get_webhook_info(tg: TelegramState, p: Params) -> JSON:
    pending = tg.pending_updates()
    url = tg.webhook.get("url", "")
    return {"url": url, "has_custom_certificate": False, "pending_update_count": pending}


@api_method("getFile")
def get_file(tg: TelegramState, p: Params) -> JSON:
    record = tg.files.get(p.string("file_id") or "")
    if record is None:
        raise bad_request("invalid file_id")
    return {
        "file_id": record.file_id, "file_unique_id": record.file_unique_id,
        "file_size": len(record.data), "file_path": record.path,
    }  # fmt: skip


# ----- command menus -----


def _scope_key(p: Params) -> tuple[str, str]:
    """`commands` key: (scope type, language); chat scopes carry their ids after a colon."""
    scope = p.get("scope") or {"type": "default"}
    if not isinstance(scope, dict) or scope.get("type") not in _SCOPE_TYPES:
        raise bad_request("can't parse BotCommandScope JSON object")
    kind = scope["type"]
    if kind in ("chat", "chat_administrators"):
        kind = f"{kind}:{scope.get('chat_id')}"
    elif kind == "chat_member":
        kind = f"{kind}:{scope.get('chat_id')}:{scope.get('user_id')}"
    language = p.string("language_code") or ""
    if language and not re.fullmatch(r"[a-z]{2}", language):
        raise bad_request("invalid language code specified")
    return kind, language


def _commands(p: Params) -> list[JSON]:
    raw = p.get("commands")
    if not isinstance(raw, list) or not all(isinstance(c, dict) for c in raw):
        raise bad_request("can't parse commands JSON object")
    if len(raw) > 100:
        raise bad_request("too many commands specified")
    commands = []
    for entry in raw:
        command = str(entry.get("command", "")).removeprefix("/")
        description = str(entry.get("description", ""))
        if not re.fullmatch(r"[a-z0-9_]{1,32}", command):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(description.strip()) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        commands.append({"command": command, "description": description})
    return commands


@api_method("setMyCommands")
def set_my_commands(tg: TelegramState, p: Params) -> bool:
    commands = _commands(p)
    key = _scope_key(p)
    if commands:
        tg.commands[key] = commands
    else:
        tg.commands.pop(key, None)
    return True


@api_method("getMyCommands")
def get_my_commands(tg: TelegramState, p: Params) -> list[JSON]:
    return [dict(command) for command in tg.commands.get(_scope_key(p), [])]


@api_method("deleteMyCommands")
def delete_my_commands(tg: TelegramState, p: Params) -> bool:
    tg.commands.pop(_scope_key(p), None)
    return True


# ----- menu button -----


@api_method("setChatMenuButton")
def set_chat_menu_button(tg: TelegramState, p: Params) -> bool:
    chat_id = p.integer("chat_id")
    if chat_id is not None:
        tg.resolve_chat(chat_id)
    button = p.get("menu_button") or {"type": "default"}
    if not isinstance(button, dict) or button.get("type") not in ("commands", "web_app", "default"):
        raise bad_request("can't parse MenuButton JSON object")
    tg.menu_buttons[chat_id] = button
    return True


@api_method("getChatMenuButton")
def get_chat_menu_button(tg: TelegramState, p: Params) -> JSON:
    chat_id = p.integer("chat_id")
    default = tg.menu_buttons.get(None, {"type": "commands"})
    return dict(tg.menu_buttons.get(chat_id, default))
