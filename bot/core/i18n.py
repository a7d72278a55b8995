"""Message catalogs (bot/locales/*.toml) and the user's language.

Messages are HTML (the bot's parse mode). Values put into a message are escaped,
so a resident's text can never break the markup; pass :class:`Markup` for a
value that is already safe HTML (a rendered list, a link). Where Telegram takes
plain text only (button labels, poll questions and options, callback answers),
:func:`plain` turns such a message into what the reader should see.
"""

from __future__ import annotations

import html
import re
import string
import tomllib
from importlib import resources
from typing import Any

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"


class Markup(str):
    """A string that is already safe HTML."""


class ByLanguage(dict[str, str]):
    """A value that reads differently per language (an example phrase, a date): the
    message it goes into picks the one for its own language."""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=False)


_TAG = re.compile(r"<[^>]*>")


def plain(text: str) -> str:
    """HTML as the reader sees it, for a field Telegram shows as plain text."""
    return html.unescape(_TAG.sub("", text))


def number(n: int) -> str:
    """How every numbered item (report, topic, event, ...) is written: #12."""
    return f"#{n}"


def _flatten(prefix: str, table: dict[str, Any], into: dict[str, str]) -> None:
    for key, value in table.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            _flatten(f"{full}.", value, into)
        else:
            into[full] = str(value)


class Catalog:
    def __init__(self, messages: dict[str, dict[str, str]]) -> None:
        self.messages = messages

    @classmethod
    def load(cls) -> Catalog:
        """Every bot/locales/<lang>/*.toml (one file per feature), merged."""
        messages: dict[str, dict[str, str]] = {}
        for lang in LANGUAGES:
            folder = resources.files("bot") / "locales" / lang
            merged: dict[str, str] = {}
            for entry in sorted(folder.iterdir(), key=lambda e: e.name):
                if not entry.name.endswith(".toml"):
                    continue
                flat: dict[str, str] = {}
                _flatten("", tomllib.loads(entry.read_text("utf-8")), flat)
                clash = set(flat) & set(merged)
                if clash:
                    raise ValueError(f"{lang}/{entry.name} redefines {sorted(clash)[:3]}")
                merged.update(flat)
            messages[lang] = merged
        return cls(messages)

    def has(self, key: str) -> bool:
        return key in self.messages[DEFAULT_LANGUAGE]

    def t(self, lang: str, key: str, /, **params: Any) -> str:
        table = self.messages.get(lang) or self.messages[DEFAULT_LANGUAGE]
        template = table.get(key) or self.messages[DEFAULT_LANGUAGE].get(key)
        if template is None:
            raise KeyError(f"no message {key!r}")
        picked = {
            name: value.get(lang) or value[DEFAULT_LANGUAGE] if isinstance(value, ByLanguage)
            else value for name, value in params.items()
        }
        safe = {
            name: value if isinstance(value, Markup) else esc(value)
            for name, value in picked.items()
        }
        return template.format_map(safe)

    def placeholders(self, lang: str, key: str) -> set[str]:
        return {
            field for _, field, _, _ in string.Formatter().parse(self.messages[lang][key]) if field
        }


CATALOG = Catalog.load()


def t(lang: str, key: str, /, **params: Any) -> str:
    return CATALOG.t(lang, key, **params)


def from_telegram(language_code: str | None) -> str | None:
    """Map Telegram's language_code ("zh-hans", "en-US", ...) to ours, if we have it."""
    if not language_code:
        return None
    base = language_code.lower().split("-")[0]
    return base if base in LANGUAGES else None


def pick_language(choice: str | None, language_code: str | None, default: str) -> str:
    """The /lang choice, else Telegram's language, else the deployment's default."""
    if choice in LANGUAGES:
        return choice
    return from_telegram(language_code) or default
