"""The callback context handlers receive: typed access to Linli's services."""

from __future__ import annotations

from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.services import Linli


class LinliContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    def __init__(self, application: Application[Any, Any, Any, Any, Any, Any],
                 chat_id: int | None = None, user_id: int | None = None) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        # the language of the user behind the current update (set by handlers/users.py)
        self.lang: str = application.bot_data["settings"].language

    @property
    def linli(self) -> Linli:
        return self.bot_data["linli"]
