"""Resolution notes a leader saved for reuse, per category (issue 14, item 6)."""

from __future__ import annotations

from datetime import datetime

from storage.db import Database, Tx
from storage.timeutil import to_db

SHOWN = 5


class ReplyRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def save(self, tx: Tx, user_id: int, category: str, text: str, now: datetime) -> bool:
        """False when this leader had saved the same note already."""
        return await tx.update(
            "INSERT INTO saved_replies(user_id, category, text, created_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (user_id, category, text, to_db(now))) > 0

    async def of(self, user_id: int, category: str) -> list[tuple[int, str]]:
        """(id, text), the newest first."""
        rows = await self.db.fetchall(
            "SELECT id, text FROM saved_replies WHERE user_id = ? AND category = ?"
            " ORDER BY id DESC LIMIT ?", (user_id, category, SHOWN))
        return [(r[0], r[1]) for r in rows]

    async def get(self, reply_id: int, user_id: int) -> str | None:
        return await self.db.fetchval(
            "SELECT text FROM saved_replies WHERE id = ? AND user_id = ?", (reply_id, user_id))
