"""The inbox of updates: what Telegram delivered, and which of them are handled."""

from __future__ import annotations

from datetime import datetime

from storage.db import Database
from storage.timeutil import to_db


class InboxRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def receive(self, update_id: int, payload: str, chat_id: int, me: str,
                      now: datetime, until: datetime) -> str | None:
        """Record an update, claimed by ``me`` until ``until``; None when this instance is
        to handle it (new, or its claimer gave up or died), else its status: ``done``, or
        ``elsewhere`` while another instance handles it (a retry that reached a second one)."""
        async with self.db.write(marks_update=False) as tx:
            added = await tx.update(
                "INSERT INTO updates(update_id, payload, received_at, chat_id, claimed_by,"
                " claimed_until) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(update_id) DO NOTHING",
                (update_id, payload, to_db(now), chat_id, me, to_db(until)),
            )
            if added:
                return None
            taken = await tx.update(
                "UPDATE updates SET claimed_by = ?, claimed_until = ? WHERE update_id = ?"
                " AND status = 'new' AND (claimed_by IS NULL OR claimed_by = ?"
                "  OR claimed_until < ?)", (me, to_db(until), update_id, me, to_db(now)))
            if taken:
                return None
            status = str(await tx.fetchval(
                "SELECT status FROM updates WHERE update_id = ?", (update_id,)))
            return "elsewhere" if status == "new" else status

    async def receive_many(self, updates: list[tuple[int, str, int]], me: str, now: datetime,
                           until: datetime) -> dict[int, str]:
        """Record a batch (id, JSON, chat) in one transaction; returns the status of those
        already known."""
        if not updates:
            return {}
        async with self.db.write(marks_update=False) as tx:
            ids = [update_id for update_id, _, _ in updates]
            marks = ",".join("?" * len(ids))
            known = {r["update_id"]: r["status"] for r in await tx.fetchall(
                f"SELECT update_id, status FROM updates WHERE update_id IN ({marks})", ids
            )}
            await tx.executemany(
                "INSERT INTO updates(update_id, payload, received_at, chat_id, claimed_by,"
                " claimed_until) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(update_id) DO NOTHING",
                [(update_id, payload, to_db(now), chat_id, me, to_db(until))
                 for update_id, payload, chat_id in updates if update_id not in known],
            )
        return known

    async def claimers(self) -> list[str]:
        """The instances holding claims on updates not handled yet."""
        return [r[0] for r in await self.db.fetchall(
            "SELECT DISTINCT claimed_by FROM updates WHERE status = 'new'"
            " AND claimed_by IS NOT NULL")]

    async def adopt(self, me: str, now: datetime, until: datetime,
                    dead: list[str]) -> list[tuple[int, str]]:
        """Claim the updates received but not handled whose claimer is gone (its claim ran
        out, or it is one of ``dead``), and those received before claims existed; oldest
        first."""
        gone = f" OR claimed_by IN ({','.join('?' * len(dead))})" if dead else ""
        async with self.db.write(marks_update=False) as tx:
            rows = await tx.returning_all(
                "UPDATE updates SET claimed_by = ?, claimed_until = ? WHERE status = 'new'"
                f" AND (claimed_by IS NULL OR claimed_until < ?{gone})"
                " RETURNING update_id, payload", (me, to_db(until), to_db(now), *dead))
        return sorted((int(r[0]), str(r[1])) for r in rows)

    async def renew(self, me: str, until: datetime) -> None:
        """Keep this instance's claims on what it is still handling."""
        async with self.db.write(marks_update=False) as tx:
            await tx.execute("UPDATE updates SET claimed_until = ? WHERE claimed_by = ?"
                             " AND status = 'new'", (to_db(until), me))

    async def earlier_elsewhere(self, chat_id: int, update_id: int, me: str,
                                now: datetime) -> bool:
        """An earlier update of this chat is still being handled by another instance."""
        return await self.db.fetchval(
            "SELECT count(*) FROM updates WHERE chat_id = ? AND update_id < ?"
            " AND status = 'new' AND claimed_by != ? AND claimed_until >= ?",
            (chat_id, update_id, me, to_db(now))) > 0

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
