"""Leaders away and their stand-ins (issue 14, item 5)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from weakref import WeakKeyDictionary

from storage.db import Database, Tx
from storage.timeutil import from_db, to_db


@dataclass(frozen=True, slots=True)
class Away:
    user_id: int
    stand_in_id: int
    starts_at: datetime
    ends_at: datetime
    set_by: int


@dataclass(frozen=True, slots=True)
class ActedFor:
    report_id: int
    action: str
    actor_id: int


def _away(r: sqlite3.Row) -> Away:
    starts, ends = from_db(r["starts_at"]), from_db(r["ends_at"])
    assert starts is not None and ends is not None
    return Away(r["user_id"], r["stand_in_id"], starts, ends, r["set_by"])


class AwayRepo:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._ahead: WeakKeyDictionary[Tx, list[Away]] = WeakKeyDictionary()  # see read_ahead

    async def set(self, tx: Tx, away: Away, now: datetime) -> None:
        self._ahead.pop(tx, None)
        await tx.execute(
            "INSERT INTO leader_away(user_id, stand_in_id, starts_at, ends_at, set_by, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(user_id) DO UPDATE SET"
            " stand_in_id = excluded.stand_in_id, starts_at = excluded.starts_at,"
            " ends_at = excluded.ends_at, set_by = excluded.set_by,"
            " created_at = excluded.created_at",
            (away.user_id, away.stand_in_id, to_db(away.starts_at), to_db(away.ends_at),
             away.set_by, to_db(now)))

    async def end(self, tx: Tx, user_id: int, now: datetime) -> None:
        self._ahead.pop(tx, None)
        await tx.execute("UPDATE leader_away SET ends_at = ? WHERE user_id = ? AND ends_at > ?",
                         (to_db(now), user_id, to_db(now)))

    async def of(self, user_id: int, tx: Tx | None = None) -> Away | None:
        r = await (tx or self.db).fetchone("SELECT * FROM leader_away WHERE user_id = ?",
                                           (user_id,))
        return None if r is None else _away(r)

    async def read_ahead(self, tx: Tx, now: datetime) -> None:
        """Every absence not over at ``now``, read once for the transaction (a batch of
        deadlines): ``active`` in it is then answered from them, until this repository
        changes one in it."""
        rows = await tx.fetchall("SELECT * FROM leader_away WHERE ends_at > ?", (to_db(now),))
        self._ahead[tx] = [_away(r) for r in rows]

    async def active(self, user_ids: list[int], now: datetime,
                     tx: Tx | None = None) -> dict[int, Away]:
        """The leaders among these who are away right now."""
        if not user_ids:
            return {}
        if tx is not None and tx in self._ahead:
            wanted = set(user_ids)
            return {a.user_id: a for a in self._ahead[tx]
                    if a.user_id in wanted and a.starts_at <= now < a.ends_at}
        marks = ",".join("?" * len(user_ids))
        rows = await (tx or self.db).fetchall(
            f"SELECT * FROM leader_away WHERE user_id IN ({marks}) AND starts_at <= ?"
            f" AND ends_at > ?", (*user_ids, to_db(now), to_db(now)))
        return {r["user_id"]: _away(r) for r in rows}

    async def acted_for(self, user_id: int, start: datetime, end: datetime,
                        tx: Tx | None = None) -> list[ActedFor]:
        """What stand-ins did on this leader's behalf in [start, end], in order."""
        rows = await (tx or self.db).fetchall(
            "SELECT report_id, action, actor_id FROM report_events WHERE on_behalf_of = ?"
            " AND at >= ? AND at <= ? ORDER BY id", (user_id, to_db(start), to_db(end)))
        return [ActedFor(r[0], r[1], r[2]) for r in rows]
