"""Questions the bot asked a user and awaits an answer to (kept across restarts)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Database
from storage.timeutil import to_db


@dataclass(frozen=True, slots=True)
class PendingInput:
    user_id: int
    chat_id: int
    kind: str
    payload: dict[str, Any]


class PendingRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def expect(
        self, user_id: int, chat_id: int, kind: str, payload: dict[str, Any], expires_at: datetime
    ) -> None:
        async with self.db.write() as tx:
            await tx.execute(
                "INSERT INTO pending_inputs(user_id, chat_id, kind, payload, expires_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT(user_id, chat_id) DO UPDATE SET"
                " kind = excluded.kind, payload = excluded.payload,"
                " expires_at = excluded.expires_at",
                (user_id, chat_id, kind, json.dumps(payload, ensure_ascii=False),
                 to_db(expires_at)),
            )

    async def current(self, user_id: int, chat_id: int, now: datetime) -> PendingInput | None:
        r = await self.db.fetchone(
            "SELECT * FROM pending_inputs WHERE user_id = ? AND chat_id = ? AND expires_at > ?",
            (user_id, chat_id, to_db(now)),
        )
        if r is None:
            return None
        return PendingInput(r["user_id"], r["chat_id"], r["kind"], json.loads(r["payload"]))

    async def clear(self, user_id: int, chat_id: int, kind: str | None = None) -> bool:
        async with self.db.write() as tx:
            if kind is None:
                sql, params = "DELETE FROM pending_inputs WHERE user_id = ? AND chat_id = ?", (
                    user_id, chat_id)
            else:
                sql, params = (
                    "DELETE FROM pending_inputs WHERE user_id = ? AND chat_id = ? AND kind = ?",
                    (user_id, chat_id, kind),
                )
            return await tx.update(sql, params) > 0
