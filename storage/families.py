"""最美家庭 selections: nominations and votes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.db import Database, Tx
from storage.timeutil import to_db


@dataclass(frozen=True, slots=True)
class Selection:
    id: int
    creator_id: int
    node_id: int
    title: str
    state: str  # nominating, voting, closed


@dataclass(frozen=True, slots=True)
class Nomination:
    id: int
    household: str
    reason: str
    votes: int = 0


class FamilyRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, tx: Tx, creator_id: int, node_id: int, title: str,
                     now: datetime) -> int:
        return await tx.insert(
            "INSERT INTO family_selections(creator_id, node_id, title, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?)", (creator_id, node_id, title, to_db(now), to_db(now)))

    async def get(self, selection_id: int, tx: Tx | None = None) -> Selection | None:
        r = await (tx or self.db).fetchone(
            "SELECT * FROM family_selections WHERE id = ?", (selection_id,))
        return None if r is None else Selection(r["id"], r["creator_id"], r["node_id"],
                                                r["title"], r["state"])

    async def open_for(self, node_ids: list[int], state: str) -> Selection | None:
        """The newest selection in this state at one of these nodes."""
        if not node_ids:
            return None
        marks = ",".join("?" * len(node_ids))
        r = await self.db.fetchone(
            f"SELECT * FROM family_selections WHERE state = ? AND node_id IN ({marks})"
            f" ORDER BY id DESC LIMIT 1", (state, *node_ids))
        return None if r is None else Selection(r["id"], r["creator_id"], r["node_id"],
                                                r["title"], r["state"])

    async def move(self, tx: Tx, selection_id: int, from_state: str, to_state: str,
                   now: datetime) -> bool:
        return await tx.update(
            "UPDATE family_selections SET state = ?, updated_at = ? WHERE id = ? AND state = ?",
            (to_state, to_db(now), selection_id, from_state)) > 0

    async def nominate(self, tx: Tx, selection_id: int, nominator_id: int, household: str,
                       reason: str, now: datetime) -> tuple[int, bool]:
        """(nomination id, whether it replaced the resident's earlier one)."""
        earlier = await tx.fetchval(
            "SELECT id FROM family_nominations WHERE selection_id = ? AND nominator_id = ?",
            (selection_id, nominator_id))
        if earlier is not None:
            await tx.execute(
                "UPDATE family_nominations SET household = ?, reason = ?, created_at = ?"
                " WHERE id = ?", (household, reason, to_db(now), earlier))
            return int(earlier), True
        return await tx.insert(
            "INSERT INTO family_nominations(selection_id, nominator_id, household, reason,"
            " created_at) VALUES (?, ?, ?, ?, ?)",
            (selection_id, nominator_id, household, reason, to_db(now))), False

    async def nominations(self, selection_id: int, tx: Tx | None = None) -> list[Nomination]:
        rows = await (tx or self.db).fetchall(
            "SELECT n.id, n.household, n.reason, count(v.voter_id) AS votes"
            " FROM family_nominations n LEFT JOIN family_votes v ON v.nomination_id = n.id"
            " WHERE n.selection_id = ? GROUP BY n.id ORDER BY votes DESC, n.id",
            (selection_id,))
        return [Nomination(r["id"], r["household"], r["reason"], r["votes"]) for r in rows]

    async def vote(self, tx: Tx, selection_id: int, voter_id: int, nomination_id: int,
                   now: datetime) -> bool:
        """One vote per resident: False when they have voted already."""
        return await tx.update(
            "INSERT INTO family_votes(selection_id, voter_id, nomination_id, voted_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (selection_id, voter_id, nomination_id, to_db(now))) > 0
