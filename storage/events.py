"""Community events, RSVPs (with the waiting list) and holiday offers."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from storage.db import Database, Tx
from storage.timeutil import from_db, to_db


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    creator_id: int
    node_id: int
    title: str
    description: str | None
    place: str
    starts_at: datetime
    ends_at: datetime
    capacity: int | None
    recurrence: str
    previous_id: int | None
    state: str
    shown: str | None
    edit_after: datetime | None
    revision: int = 0  # changes made by a leader since it was announced


@dataclass(frozen=True, slots=True)
class Counts:
    going: int = 0
    maybe: int = 0
    no: int = 0
    waiting: int = 0


def _event(r: sqlite3.Row) -> Event:
    starts, ends = from_db(r["starts_at"]), from_db(r["ends_at"])
    assert starts is not None and ends is not None
    return Event(r["id"], r["creator_id"], r["node_id"], r["title"], r["description"], r["place"],
                 starts, ends, r["capacity"], r["recurrence"], r["previous_id"], r["state"],
                 r["shown"], from_db(r["edit_after"]), r["revision"])


class EventRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, tx: Tx, *, creator_id: int, node_id: int, title: str,
                     description: str | None, place: str, starts_at: datetime, ends_at: datetime,
                     capacity: int | None, recurrence: str, previous_id: int | None,
                     now: datetime) -> int:
        return await tx.insert(
            "INSERT INTO events(creator_id, node_id, title, description, place, starts_at,"
            " ends_at, capacity, recurrence, previous_id, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (creator_id, node_id, title, description, place, to_db(starts_at), to_db(ends_at),
             capacity, recurrence, previous_id, to_db(now), to_db(now)),
        )

    async def get(self, event_id: int, tx: Tx | None = None) -> Event | None:
        r = await (tx or self.db).fetchone("SELECT * FROM events WHERE id = ?", (event_id,))
        return None if r is None else _event(r)

    async def upcoming(self, node_ids: list[int], now: datetime, limit: int = 20) -> list[Event]:
        if not node_ids:
            return []
        marks = ",".join("?" * len(node_ids))
        rows = await self.db.fetchall(
            f"SELECT * FROM events WHERE state = 'open' AND ends_at > ? AND node_id IN ({marks})"
            f" ORDER BY starts_at, id LIMIT ?",
            (to_db(now), *node_ids, limit),
        )
        return [_event(r) for r in rows]

    async def following(self, event_id: int, tx: Tx | None = None) -> Event | None:
        r = await (tx or self.db).fetchone("SELECT * FROM events WHERE previous_id = ?",
                                           (event_id,))
        return None if r is None else _event(r)

    async def change(self, tx: Tx, event_id: int, now: datetime, *, revise: bool = False,
                     **fields: object) -> None:
        """``revise``: a leader's change that people must hear of (counts the revision)."""
        sets = ", ".join(f"{name} = ?" for name in fields)
        values = [to_db(v) if isinstance(v, datetime) else v for v in fields.values()]
        bump = ", revision = revision + 1" if revise else ""
        await tx.execute(f"UPDATE events SET {sets}{bump}, updated_at = ? WHERE id = ?",
                         (*values, to_db(now), event_id))

    # -- RSVPs ----------------------------------------------------------------------

    async def answer_of(self, tx: Tx, event_id: int, user_id: int) -> str | None:
        return await tx.fetchval(
            "SELECT answer FROM event_rsvps WHERE event_id = ? AND user_id = ?",
            (event_id, user_id))

    async def set_answer(self, tx: Tx, event_id: int, user_id: int, answer: str,
                         now: datetime) -> None:
        """Record an answer; joining the waiting list (or changing the answer) takes a
        new place at its end."""
        await tx.execute(
            "INSERT INTO event_rsvps(event_id, user_id, answer, seq, updated_at)"
            " VALUES (?, ?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM event_rsvps"
            "  WHERE event_id = ?), ?)"
            " ON CONFLICT(event_id, user_id) DO UPDATE SET answer = excluded.answer,"
            " seq = excluded.seq, updated_at = excluded.updated_at",
            (event_id, user_id, answer, event_id, to_db(now)),
        )

    async def promote(self, tx: Tx, event_id: int, now: datetime) -> int | None:
        """The first on the waiting list takes the free seat; returns who (None: nobody)."""
        user_id = await tx.fetchval(
            "SELECT user_id FROM event_rsvps WHERE event_id = ? AND answer = 'waiting'"
            " ORDER BY seq LIMIT 1", (event_id,))
        if user_id is None:
            return None
        await tx.execute(
            "UPDATE event_rsvps SET answer = 'going', updated_at = ? WHERE event_id = ?"
            " AND user_id = ?", (to_db(now), event_id, user_id))
        return int(user_id)

    async def counts(self, event_id: int, tx: Tx | None = None) -> Counts:
        rows = await (tx or self.db).fetchall(
            "SELECT answer, count(*) FROM event_rsvps WHERE event_id = ? GROUP BY answer",
            (event_id,))
        return Counts(**{r[0]: r[1] for r in rows})

    async def people(self, event_id: int, answer: str, tx: Tx | None = None) -> list[int]:
        rows = await (tx or self.db).fetchall(
            "SELECT user_id FROM event_rsvps WHERE event_id = ? AND answer = ? ORDER BY seq",
            (event_id, answer))
        return [r[0] for r in rows]

    async def waiting_place(self, tx: Tx, event_id: int, user_id: int) -> int:
        return int(await tx.fetchval(
            "SELECT count(*) FROM event_rsvps WHERE event_id = ? AND answer = 'waiting'"
            " AND seq <= (SELECT seq FROM event_rsvps WHERE event_id = ? AND user_id = ?)",
            (event_id, event_id, user_id)))

    # -- holiday offers -------------------------------------------------------------

    async def offer_once(self, tx: Tx, holiday: str, year: int, user_id: int,
                         now: datetime) -> bool:
        return await tx.update(
            "INSERT INTO holiday_offers(holiday, year, user_id, offered_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING", (holiday, year, user_id, to_db(now))) > 0
