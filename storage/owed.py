"""What fired deadlines still owe, done right after they fire (see bot/core/scheduler.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Database, Tx
from storage.timeutil import to_db


@dataclass(frozen=True, slots=True)
class Owed:
    id: int
    subject: str
    subject_id: int
    kind: str
    payload: dict[str, Any]
    failures: int = 0


def _row(r: Any) -> Owed:
    return Owed(r["id"], r["subject"], r["subject_id"], r["kind"], json.loads(r["payload"]),
                    r["failures"])


class OwedRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, tx: Tx, subject: str, kind: str,
                  payloads: list[tuple[int, dict[str, Any]]], now: datetime) -> None:
        """Work of this kind owed for these objects of the subject: (id, payload) each."""
        created = to_db(now)
        await tx.execute_rows(
            "INSERT INTO owed(subject, subject_id, kind, payload, created_at) VALUES",
            [(subject, subject_id, kind, json.dumps(payload, ensure_ascii=False), created)
             for subject_id, payload in payloads])

    async def due(self, now: datetime, limit: int,
                  of: tuple[str, int] | None = None) -> list[Owed]:
        """The oldest owed (of one object: subject and id, if given), failed ones once
        their pause is over."""
        where, params = "coalesce(retry_at, created_at) <= ?", [to_db(now)]
        if of is not None:
            where += " AND subject = ? AND subject_id = ?"
            params += [*of]
        rows = await self.db.fetchall(
            f"SELECT * FROM owed WHERE {where} ORDER BY id LIMIT ?", (*params, limit))
        return [_row(r) for r in rows]

    async def owed(self, tx: Tx, subject: str, subject_ids: list[int]) -> set[int]:
        """Which of these objects still have work owed (not counting work that failed:
        what waits for it would wait for ever)."""
        if not subject_ids:
            return set()
        rows = await tx.fetchall(
            "SELECT DISTINCT subject_id FROM owed WHERE subject = ? AND failures = 0"
            " AND subject_id IN"
            f" ({','.join('?' * len(subject_ids))})", (subject, *subject_ids))
        return {int(r[0]) for r in rows}

    async def claim(self, tx: Tx, ids: list[int]) -> set[int]:
        """Taken off the list in ``tx`` (done when it commits); the ids this claimer got.
        On PostgreSQL, rows another instance is doing right now are skipped."""
        if not ids:
            return set()
        lock = " FOR UPDATE SKIP LOCKED" if self.db.dialect == "postgresql" else ""
        rows = await tx.returning_all(
            "DELETE FROM owed WHERE id IN (SELECT id FROM owed WHERE id IN"
            f" ({','.join('?' * len(ids))}){lock}) RETURNING id", ids)
        return {int(r[0]) for r in rows}

    async def failed(self, owed_id: int, retry_at: datetime) -> int:
        async with self.db.write() as tx:
            row = await tx.returning(
                "UPDATE owed SET failures = failures + 1, retry_at = ? WHERE id = ?"
                " RETURNING failures", (to_db(retry_at), owed_id))
        return 0 if row is None else int(row[0])

    async def count(self) -> int:
        return int(await self.db.fetchval("SELECT count(*) FROM owed"))
