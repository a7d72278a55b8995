"""Deadlines of every feature, claimed exactly once before anyone acts on them."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from storage.db import Database, Tx
from storage.timeutil import from_db, to_db

# a deadline to arm: subject, subject id, kind, when it falls due, the holidays that pushed it
Arming = tuple[str, int, str, datetime, str | None]


@dataclass(frozen=True, slots=True)
class Deadline:
    id: int
    subject: str
    subject_id: int
    kind: str
    due_at: datetime
    failures: int = 0  # how many times its action raised (it is tried again later each time)
    # the holidays that pushed a working-time deadline later, joined by "、" (None: none)
    deferred_by: str | None = None


def _row(r: sqlite3.Row) -> Deadline:
    due = from_db(r["due_at"])
    assert due is not None
    return Deadline(r["id"], r["subject"], r["subject_id"], r["kind"], due, r["failures"],
                    r["deferred_by"])


class DeadlineRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def arm_all(self, tx: Tx, armed: list[Arming], now: datetime) -> None:
        """Deadlines to arm (one, or a batch of reports moved up's), in one statement."""
        created = to_db(now)
        await tx.execute_rows(
            "INSERT INTO deadlines(subject, subject_id, kind, due_at, created_at,"
            " deferred_by) VALUES", [(subject, subject_id, kind, to_db(due_at), created, by)
                                     for subject, subject_id, kind, due_at, by in armed])

    async def cancel(self, tx: Tx, subject: str, subject_id: int, *kinds: str) -> None:
        """Disarm a subject's deadlines (all of them, or only these kinds)."""
        await self.cancel_all(tx, subject, [subject_id], *kinds)

    async def cancel_all(self, tx: Tx, subject: str, subject_ids: list[int],
                         *kinds: str) -> None:
        """The same for several objects of the subject, in one statement."""
        await tx.execute_rows(
            "UPDATE deadlines SET state = 'cancelled' WHERE subject = ? AND state = 'armed'"
            + (f" AND kind IN ({','.join('?' * len(kinds))})" if kinds else "")
            + " AND subject_id IN (", [(subject_id,) for subject_id in subject_ids],
            params=(subject, *kinds), tail=")")

    async def due(self, now: datetime, limit: int = 500) -> list[Deadline]:
        """Armed deadlines whose time has come (for one that failed: its next try)."""
        rows = await self.db.fetchall(
            "SELECT * FROM deadlines WHERE state = 'armed' AND coalesce(retry_at, due_at) <= ?"
            " ORDER BY coalesce(retry_at, due_at), id LIMIT ?",
            (to_db(now), limit),
        )
        return [_row(r) for r in rows]

    async def next_due_at(self) -> datetime | None:
        return from_db(await self.db.fetchval(
            "SELECT min(coalesce(retry_at, due_at)) FROM deadlines WHERE state = 'armed'"
        ))

    async def failed(self, deadline_id: int, retry_at: datetime, tx: Tx | None = None) -> int:
        """Its action raised: it stays armed and is tried again at ``retry_at``; returns
        how many times it has failed now. In ``tx`` if given, else a transaction of its own."""
        sql = ("UPDATE deadlines SET failures = failures + 1, retry_at = ?"
               " WHERE id = ? AND state = 'armed' RETURNING failures")
        if tx is not None:
            row = await tx.returning(sql, (to_db(retry_at), deadline_id))
        else:
            async with self.db.write() as own:
                row = await own.returning(sql, (to_db(retry_at), deadline_id))
        return 0 if row is None else int(row[0])

    async def claim(self, tx: Tx, deadline_id: int, now: datetime) -> bool:
        """armed → fired; only one claimer ever succeeds, across racing jobs, restarts and
        instances (and none while it waits to be tried again after a failure)."""
        return bool(await self.claim_many(tx, [deadline_id], now))

    async def claim_many(self, tx: Tx, deadline_ids: list[int], now: datetime) -> set[int]:
        """armed → fired for a batch, in one statement; the ids this claimer got (those
        fired meanwhile by someone else, cancelled, or failed and waiting, are left out).

        On PostgreSQL, rows another instance is claiming right now are skipped, not waited
        for (``FOR UPDATE SKIP LOCKED``): instances sweep side by side. A claim is part of
        the transaction that acts on it, so an instance that dies mid-batch loses its
        claims with its transaction, and they are armed again for the next sweep."""
        if not deadline_ids:
            return set()
        lock = " FOR UPDATE SKIP LOCKED" if self.db.dialect == "postgresql" else ""
        rows = await tx.returning_all(
            "UPDATE deadlines SET state = 'fired', fired_at = ? WHERE id IN ("
            f" SELECT id FROM deadlines WHERE id IN ({','.join('?' * len(deadline_ids))})"
            f" AND state = 'armed' AND coalesce(retry_at, due_at) <= ?{lock}) RETURNING id",
            (to_db(now), *deadline_ids, to_db(now)),
        )
        return {int(r[0]) for r in rows}

    async def armed_for(self, subject: str, subject_id: int,
                        tx: Tx | None = None) -> list[Deadline]:
        rows = await (tx or self.db).fetchall(
            "SELECT * FROM deadlines WHERE subject = ? AND subject_id = ? AND state = 'armed'"
            " ORDER BY due_at",
            (subject, subject_id),
        )
        return [_row(r) for r in rows]

    async def fired_count(self, subject: str) -> int:
        return int(await self.db.fetchval(
            "SELECT count(*) FROM deadlines WHERE subject = ? AND state = 'fired'", (subject,)
        ))
