"""The inbox of updates: what Telegram delivered, and which of them are handled."""

from __future__ import annotations

from datetime import datetime

from storage.db import Database
from storage.timeutil import to_db


class InboxRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def receive(self, update_id: int, payload: str, now: datetime) -> str | None:
        """Record an update; None when it is new, else the status it already has."""
        async with self.db.write(marks_update=False) as tx:
            added = await tx.update(
                "INSERT INTO updates(update_id, payload, received_at) VALUES (?, ?, ?)"
                " ON CONFLICT(update_id) DO NOTHING",
                (update_id, payload, to_db(now)),
            )
            if added:
                return None
            return str(await tx.fetchval(
                "SELECT status FROM updates WHERE update_id = ?", (update_id,)
            ))

    async def receive_many(self, updates: list[tuple[int, str]],
                           now: datetime) -> dict[int, str]:
        """Record a batch in one transaction; returns the status of those already known."""
        if not updates:
            return {}
        async with self.db.write(marks_update=False) as tx:
            ids = [update_id for update_id, _ in updates]
            marks = ",".join("?" * len(ids))
            known = {r["update_id"]: r["status"] for r in await tx.fetchall(
                f"SELECT update_id, status FROM updates WHERE update_id IN ({marks})", ids
            )}
            await tx.executemany(
                "INSERT INTO updates(update_id, payload, received_at) VALUES (?, ?, ?)"
                " ON CONFLICT(update_id) DO NOTHING",
                [(update_id, payload, to_db(now)) for update_id, payload in updates
                 if update_id not in known],
            )
        return known

    async def waiting(self) -> list[tuple[int, str]]:
        """Updates received but not handled (a crash came first), oldest first."""
        rows = await self.db.fetchall(
            "SELECT update_id, payload FROM updates WHERE status = 'new' ORDER BY update_id"
        )
        return [(r["update_id"], r["payload"]) for r in rows]

    async def mark_handled(self, update_ids: list[int], now: datetime) -> None:
        if not update_ids:
            return
        async with self.db.write(marks_update=False) as tx:
            await tx.executemany(
                "UPDATE updates SET status = 'done', payload = NULL, done_at = ?"
                " WHERE update_id = ? AND status = 'new'",
                [(to_db(now), update_id) for update_id in update_ids],
            )

    async def prune(self, before: datetime) -> int:
        """Forget handled updates older than Telegram would ever deliver again."""
        async with self.db.write(marks_update=False) as tx:
            return await tx.update(
                "DELETE FROM updates WHERE status = 'done' AND done_at < ?", (to_db(before),)
            )
