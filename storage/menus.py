"""Which leaders' private chats have their own command menu, and what it holds."""

from __future__ import annotations

from datetime import datetime

from storage.db import Database
from storage.timeutil import to_db


class MenuRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def published(self) -> dict[int, str]:
        rows = await self.db.fetchall("SELECT user_id, signature FROM leader_menus")
        return {r["user_id"]: r["signature"] for r in rows}

    async def record(self, user_id: int, signature: str, now: datetime) -> None:
        async with self.db.write() as tx:
            await tx.execute(
                "INSERT INTO leader_menus(user_id, signature, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT(user_id) DO UPDATE SET signature = excluded.signature,"
                " updated_at = excluded.updated_at",
                (user_id, signature, to_db(now)),
            )

    async def forget(self, user_id: int) -> None:
        async with self.db.write() as tx:
            await tx.execute("DELETE FROM leader_menus WHERE user_id = ?", (user_id,))
