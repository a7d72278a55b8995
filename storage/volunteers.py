"""Volunteers (志愿者) with their skills, help requests (求助) and the offers made for them."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from storage.db import Database, Tx
from storage.timeutil import from_db, to_db


@dataclass(frozen=True, slots=True)
class Volunteer:
    user_id: int
    node_id: int
    hours: str | None
    state: str
    skills: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HelpRequest:
    id: int
    requester_id: int
    node_id: int
    skill: str
    text: str
    state: str
    volunteer_id: int | None
    consent: bool
    requester_done: bool
    volunteer_done: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Offer:
    volunteer_id: int
    rank: int
    state: str


def _request(r: sqlite3.Row) -> HelpRequest:
    return HelpRequest(r["id"], r["requester_id"], r["node_id"], r["skill"], r["text"],
                       r["state"], r["volunteer_id"], bool(r["consent"]),
                       bool(r["requester_done"]), bool(r["volunteer_done"]),
                       from_db(r["created_at"]))  # type: ignore[arg-type]


class VolunteerRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- volunteers ---------------------------------------------------------------------

    async def register(self, tx: Tx, user_id: int, node_id: int, skills: list[str],
                       hours: str | None, now: datetime) -> None:
        await tx.execute(
            "INSERT INTO volunteers(user_id, node_id, hours, state, created_at, updated_at)"
            " VALUES (?, ?, ?, 'active', ?, ?) ON CONFLICT(user_id) DO UPDATE SET"
            " node_id = excluded.node_id, hours = excluded.hours, state = 'active',"
            " updated_at = excluded.updated_at",
            (user_id, node_id, hours, to_db(now), to_db(now)))
        await tx.execute("DELETE FROM volunteer_skills WHERE user_id = ?", (user_id,))
        await tx.executemany("INSERT INTO volunteer_skills(user_id, skill) VALUES (?, ?)",
                             [(user_id, s) for s in skills])

    async def set_state(self, tx: Tx, user_id: int, state: str, now: datetime) -> bool:
        return await tx.update(
            "UPDATE volunteers SET state = ?, updated_at = ? WHERE user_id = ? AND state != ?",
            (state, to_db(now), user_id, state)) > 0

    async def get(self, user_id: int) -> Volunteer | None:
        r = await self.db.fetchone("SELECT * FROM volunteers WHERE user_id = ?", (user_id,))
        if r is None:
            return None
        skills = await self.db.fetchall(
            "SELECT skill FROM volunteer_skills WHERE user_id = ? ORDER BY skill", (user_id,))
        return Volunteer(r["user_id"], r["node_id"], r["hours"], r["state"],
                         tuple(s[0] for s in skills))

    async def matching(self, skill: str) -> list[tuple[int, int]]:
        """(user id, node id) of active volunteers with this skill."""
        rows = await self.db.fetchall(
            "SELECT v.user_id, v.node_id FROM volunteer_skills s"
            " JOIN volunteers v ON v.user_id = s.user_id"
            " WHERE s.skill = ? AND v.state = 'active' ORDER BY v.user_id", (skill,))
        return [(r[0], r[1]) for r in rows]

    # -- help requests ------------------------------------------------------------------

    async def create_request(self, tx: Tx, requester_id: int, node_id: int, skill: str,
                             text: str, now: datetime) -> int:
        return await tx.insert(
            "INSERT INTO help_requests(requester_id, node_id, skill, text, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            (requester_id, node_id, skill, text, to_db(now), to_db(now)))

    async def request(self, request_id: int, tx: Tx | None = None) -> HelpRequest | None:
        r = await (tx or self.db).fetchone("SELECT * FROM help_requests WHERE id = ?",
                                           (request_id,))
        return None if r is None else _request(r)

    async def add_offers(self, tx: Tx, request_id: int, volunteer_ids: list[int]) -> None:
        await tx.executemany(
            "INSERT INTO help_offers(request_id, volunteer_id, rank) VALUES (?, ?, ?)",
            [(request_id, v, rank) for rank, v in enumerate(volunteer_ids)])

    async def offers(self, request_id: int, tx: Tx | None = None) -> list[Offer]:
        rows = await (tx or self.db).fetchall(
            "SELECT volunteer_id, rank, state FROM help_offers WHERE request_id = ?"
            " ORDER BY rank", (request_id,))
        return [Offer(r[0], r[1], r[2]) for r in rows]

    async def accept(self, tx: Tx, request_id: int, volunteer_id: int, now: datetime) -> bool:
        """The first acceptance wins: only an open request offered to this volunteer."""
        taken = await tx.update(
            "UPDATE help_requests SET state = 'accepted', volunteer_id = ?, accepted_at = ?,"
            " updated_at = ? WHERE id = ? AND state = 'open' AND EXISTS (SELECT 1 FROM"
            " help_offers WHERE request_id = ? AND volunteer_id = ? AND state = 'offered')",
            (volunteer_id, to_db(now), to_db(now), request_id, request_id, volunteer_id))
        if not taken:
            return False
        await tx.execute(
            "UPDATE help_offers SET state = CASE WHEN volunteer_id = ? THEN 'accepted'"
            " ELSE 'withdrawn' END WHERE request_id = ? AND state = 'offered'",
            (volunteer_id, request_id))
        return True

    async def hand_over(self, tx: Tx, request_id: int, now: datetime) -> bool:
        """Nobody took it (or the requester declined contact): the grid leader takes over."""
        changed = await tx.update(
            "UPDATE help_requests SET state = 'handed_over', updated_at = ? WHERE id = ?"
            " AND state IN ('open', 'accepted')", (to_db(now), request_id))
        await tx.execute("UPDATE help_offers SET state = 'withdrawn' WHERE request_id = ?"
                         " AND state = 'offered'", (request_id,))
        return changed > 0

    async def set_consent(self, tx: Tx, request_id: int, now: datetime) -> bool:
        return await tx.update(
            "UPDATE help_requests SET consent = 1, updated_at = ? WHERE id = ?"
            " AND state = 'accepted' AND consent = 0", (to_db(now), request_id)) > 0

    async def mark_done(self, tx: Tx, request_id: int, side: str, now: datetime) -> bool:
        """One side confirms; True once both have (the request is then done)."""
        column = "requester_done" if side == "requester" else "volunteer_done"
        await tx.execute(
            f"UPDATE help_requests SET {column} = 1, updated_at = ? WHERE id = ?"
            " AND state = 'accepted'", (to_db(now), request_id))
        return await tx.update(
            "UPDATE help_requests SET state = 'done', done_at = ? WHERE id = ?"
            " AND state = 'accepted' AND requester_done = 1 AND volunteer_done = 1",
            (to_db(now), request_id)) > 0
