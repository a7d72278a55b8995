"""The care list (关爱名单) and its visits (走访)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.db import Database, Tx
from storage.timeutil import from_db, to_db


@dataclass(frozen=True, slots=True)
class CareEntry:
    id: int
    user_id: int
    node_id: int
    kind: str
    cadence: timedelta
    note: str | None
    active: bool
    next_due_at: datetime
    # the resident's consent (PIPL: the care list is sensitive): 'in_person' (a leader
    # recorded it), 'pressed' (the resident pressed 同意), None: not yet (no visits armed)
    consent: str | None = None
    created_by: int = 0


@dataclass(frozen=True, slots=True)
class CareVisit:
    id: int
    entry_id: int
    node_id: int
    due_at: datetime
    state: str
    escalations: int
    rung_node_id: int
    visited_by: int | None
    visited_at: datetime | None
    note: str | None


def _entry(r: sqlite3.Row) -> CareEntry:
    return CareEntry(r["id"], r["user_id"], r["node_id"], r["kind"],
                     timedelta(seconds=r["cadence_s"]), r["note"], bool(r["active"]),
                     from_db(r["next_due_at"]),  # type: ignore[arg-type]
                     r["consent"], r["created_by"])


def _visit(r: sqlite3.Row) -> CareVisit:
    return CareVisit(r["id"], r["entry_id"], r["node_id"], from_db(r["due_at"]),  # type: ignore[arg-type]
                     r["state"], r["escalations"], r["rung_node_id"], r["visited_by"],
                     from_db(r["visited_at"]), r["note"])


class CareRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, tx: Tx, *, user_id: int, node_id: int, kind: str, cadence: timedelta,
                  note: str | None, first_due: datetime, by: int, now: datetime) -> int:
        """A new entry, or the same resident and kind again: updated and made active. An
        entry removed earlier comes back without its old consent (asked again)."""
        await tx.execute(
            "INSERT INTO care_entries(user_id, node_id, kind, cadence_s, note, next_due_at,"
            " created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(user_id, kind) DO UPDATE SET node_id = excluded.node_id,"
            " cadence_s = excluded.cadence_s, note = excluded.note, active = 1,"
            " next_due_at = excluded.next_due_at, updated_at = excluded.updated_at,"
            " consent = CASE WHEN care_entries.active = 1 THEN care_entries.consent END,"
            " created_by = CASE WHEN care_entries.active = 1 THEN care_entries.created_by"
            "   ELSE excluded.created_by END",
            (user_id, node_id, kind, int(cadence.total_seconds()), note, to_db(first_due), by,
             to_db(now), to_db(now)),
        )
        return int(await tx.fetchval(
            "SELECT id FROM care_entries WHERE user_id = ? AND kind = ?", (user_id, kind)))

    async def entry(self, entry_id: int, tx: Tx | None = None) -> CareEntry | None:
        r = await (tx or self.db).fetchone("SELECT * FROM care_entries WHERE id = ?",
                                           (entry_id,))
        return None if r is None else _entry(r)

    async def entries_in(self, node_ids: list[int]) -> list[CareEntry]:
        if not node_ids:
            return []
        marks = ",".join("?" * len(node_ids))
        rows = await self.db.fetchall(
            f"SELECT * FROM care_entries WHERE active = 1 AND node_id IN ({marks})"
            " ORDER BY next_due_at, id", node_ids)
        return [_entry(r) for r in rows]

    async def deactivate(self, tx: Tx, entry_id: int, now: datetime) -> bool:
        return await tx.update(
            "UPDATE care_entries SET active = 0, updated_at = ? WHERE id = ? AND active = 1",
            (to_db(now), entry_id)) > 0

    async def set_consent(self, tx: Tx, entry_id: int, how: str, now: datetime) -> bool:
        """Record the resident's consent on an active entry that had none (once)."""
        return await tx.update(
            "UPDATE care_entries SET consent = ?, updated_at = ? WHERE id = ? AND active = 1"
            " AND consent IS NULL", (how, to_db(now), entry_id)) > 0

    async def awaiting_between(self, first: int, last: int) -> list[CareEntry]:
        """Active entries without consent, numbered ``first``..``last`` (one pasted list)."""
        rows = await self.db.fetchall(
            "SELECT * FROM care_entries WHERE id BETWEEN ? AND ? AND active = 1"
            " AND consent IS NULL ORDER BY id", (first, last))
        return [_entry(r) for r in rows]

    async def set_next_due(self, tx: Tx, entry_id: int, due: datetime, now: datetime) -> None:
        await tx.execute("UPDATE care_entries SET next_due_at = ?, updated_at = ? WHERE id = ?",
                         (to_db(due), to_db(now), entry_id))

    async def open_visit(self, tx: Tx, entry: CareEntry, rung_node_id: int) -> int | None:
        """The visit due at the entry's next date (None if it exists already)."""
        return await tx.insert_new(
            "INSERT INTO care_visits(entry_id, node_id, due_at, rung_node_id)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (entry.id, entry.node_id, to_db(entry.next_due_at), rung_node_id))

    async def visit(self, visit_id: int, tx: Tx | None = None) -> CareVisit | None:
        r = await (tx or self.db).fetchone("SELECT * FROM care_visits WHERE id = ?",
                                           (visit_id,))
        return None if r is None else _visit(r)

    async def open_visits_of(self, entry_id: int, tx: Tx | None = None) -> list[CareVisit]:
        rows = await (tx or self.db).fetchall(
            "SELECT * FROM care_visits WHERE entry_id = ? AND state = 'due' ORDER BY id",
            (entry_id,))
        return [_visit(r) for r in rows]

    async def check_in(self, tx: Tx, visit_id: int, by: int, note: str, now: datetime) -> bool:
        return await tx.update(
            "UPDATE care_visits SET state = 'done', visited_by = ?, visited_at = ?, note = ?"
            " WHERE id = ? AND state = 'due'", (by, to_db(now), note, visit_id)) > 0

    async def cancel_visit(self, tx: Tx, visit_id: int) -> None:
        await tx.execute("UPDATE care_visits SET state = 'cancelled' WHERE id = ?"
                         " AND state = 'due'", (visit_id,))

    async def move(self, tx: Tx, visit_id: int, rung_node_id: int) -> None:
        await tx.execute(
            "UPDATE care_visits SET rung_node_id = ?, escalations = escalations + 1"
            " WHERE id = ?", (rung_node_id, visit_id))

    async def last_visits(self, entry_id: int, limit: int = 3) -> list[CareVisit]:
        rows = await self.db.fetchall(
            "SELECT * FROM care_visits WHERE entry_id = ? AND state = 'done'"
            " ORDER BY visited_at DESC LIMIT ?", (entry_id, limit))
        return [_visit(r) for r in rows]

    async def user_by_username(self, username: str) -> int | None:
        return await self.db.fetchval(
            "SELECT user_id FROM users WHERE lower(username) = lower(?)", (username,))
