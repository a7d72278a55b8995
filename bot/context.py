"""The callback context handlers receive: typed access to Linli's services."""

from __future__ import annotations

from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.services import Linli

# where the language settled for a user is kept: in PTB's user_data, which every context
# built for that user's updates shares, including the fresh one the error handler gets
LANG_KEY = "linli.lang"


class LinliContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    def __init__(self, application: Application[Any, Any, Any, Any, Any, Any],
                 chat_id: int | None = None, user_id: int | None = None) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self._lang: str = application.bot_data["settings"].language

    @property
    def lang(self) -> str:
        """The language of the user behind the current update (settled by handlers/users.py
        before any handler runs, so the error handler reads the same)."""
        data = self.user_data
        if data is not None and LANG_KEY in data:
            return str(data[LANG_KEY])
        return self._lang

    @lang.setter
    def lang(self, value: str) -> None:
        self._lang = value
        data = self.user_data
        if data is not None:
            data[LANG_KEY] = value

    @property
    def linli(self) -> Linli:
        return self.bot_data["linli"]
