"""Broadcasts, their runs, and how each chat's copy ended (for the delivery report)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from storage.db import Database, Tx
from storage.timeutil import from_db, to_db


@dataclass(frozen=True, slots=True)
class Broadcast:
    id: int
    sender_id: int
    node_id: int
    text: str
    photo_file_id: str | None
    repeat: str  # once, daily, weekly, monthly
    at_time: str | None
    weekdays: tuple[int, ...]
    month_day: int | None
    next_at: datetime | None
    state: str


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    chat_id: int
    status: str
    error: str | None
    title: str | None


def _broadcast(r: sqlite3.Row) -> Broadcast:
    days = tuple(int(d) for d in (r["weekdays"] or "").split(",") if d)
    return Broadcast(r["id"], r["sender_id"], r["node_id"], r["text"], r["photo_file_id"],
                     r["repeat"], r["at_time"], days, r["month_day"], from_db(r["next_at"]),
                     r["state"])


class BroadcastRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, tx: Tx, *, sender_id: int, node_id: int, text: str,
                     photo_file_id: str | None, repeat: str, at_time: str | None,
                     weekdays: tuple[int, ...], month_day: int | None, next_at: datetime,
                     now: datetime) -> int:
        return await tx.insert(
            "INSERT INTO broadcasts(sender_id, node_id, text, photo_file_id, repeat, at_time,"
            " weekdays, month_day, next_at, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (sender_id, node_id, text, photo_file_id, repeat, at_time,
             ",".join(str(d) for d in weekdays) or None, month_day, to_db(next_at), to_db(now),
             to_db(now)),
        )

    async def get(self, broadcast_id: int, tx: Tx | None = None) -> Broadcast | None:
        r = await (tx or self.db).fetchone("SELECT * FROM broadcasts WHERE id = ?",
                                           (broadcast_id,))
        return None if r is None else _broadcast(r)

    async def scheduled(self, sender_id: int | None) -> list[Broadcast]:
        """Scheduled broadcasts, of one sender or (None) of everyone."""
        sql, params = "SELECT * FROM broadcasts WHERE state = 'scheduled'", []
        if sender_id is not None:
            sql += " AND sender_id = ?"
            params.append(sender_id)
        rows = await self.db.fetchall(sql + " ORDER BY next_at, id", params)
        return [_broadcast(r) for r in rows]

    async def set_next(self, tx: Tx, broadcast_id: int, next_at: datetime | None,
                       now: datetime) -> None:
        await tx.execute(
            "UPDATE broadcasts SET next_at = ?, state = ?, updated_at = ? WHERE id = ?",
            (to_db(next_at) if next_at else None, "scheduled" if next_at else "done", to_db(now),
             broadcast_id),
        )

    async def cancel(self, tx: Tx, broadcast_id: int, now: datetime) -> bool:
        return await tx.update(
            "UPDATE broadcasts SET state = 'cancelled', next_at = NULL, updated_at = ?"
            " WHERE id = ? AND state = 'scheduled'",
            (to_db(now), broadcast_id),
        ) > 0

    # -- runs and deliveries --------------------------------------------------------

    async def start_run(self, tx: Tx, broadcast_id: int, chat_ids: list[int],
                        now: datetime) -> int:
        run_id = await tx.insert(
            "INSERT INTO broadcast_runs(broadcast_id, started_at, chats) VALUES (?, ?, ?)",
            (broadcast_id, to_db(now), len(chat_ids)),
        )
        await tx.executemany(
            "INSERT INTO broadcast_deliveries(run_id, chat_id) VALUES (?, ?)",
            [(run_id, chat_id) for chat_id in chat_ids],
        )
        return run_id

    async def finish_delivery(self, tx: Tx, run_id: int, chat_id: int, status: str,
                              error: str | None, now: datetime) -> None:
        await tx.execute(
            "UPDATE broadcast_deliveries SET status = ?, error = ?, finished_at = ?"
            " WHERE run_id = ? AND chat_id = ?",
            (status, error, to_db(now), run_id, chat_id),
        )

    async def claim_report(self, tx: Tx, run_id: int, now: datetime) -> bool:
        """When every copy has ended, mark the run reported (once); False otherwise."""
        return await tx.update(
            "UPDATE broadcast_runs SET reported_at = ? WHERE id = ? AND reported_at IS NULL"
            " AND NOT EXISTS (SELECT 1 FROM broadcast_deliveries"
            "  WHERE run_id = ? AND status = 'pending')",
            (to_db(now), run_id, run_id),
        ) > 0

    async def run_broadcast(self, run_id: int, tx: Tx | None = None) -> int | None:
        return await (tx or self.db).fetchval(
            "SELECT broadcast_id FROM broadcast_runs WHERE id = ?", (run_id,))

    async def deliveries(self, run_id: int, tx: Tx | None = None) -> list[DeliveryRow]:
        rows = await (tx or self.db).fetchall(
            "SELECT d.chat_id, d.status, d.error, coalesce(c.title, n.name) AS title"
            " FROM broadcast_deliveries d LEFT JOIN chats c ON c.chat_id = d.chat_id"
            " LEFT JOIN nodes n ON n.id = c.node_id WHERE d.run_id = ? ORDER BY d.chat_id",
            (run_id,),
        )
        return [DeliveryRow(r["chat_id"], r["status"], r["error"], r["title"]) for r in rows]

    async def runs(self, broadcast_id: int) -> list[int]:
        rows = await self.db.fetchall(
            "SELECT id FROM broadcast_runs WHERE broadcast_id = ? ORDER BY id", (broadcast_id,))
        return [r[0] for r in rows]
