"""Questions the bot asked a user and awaits an answer to (kept across restarts).

A user may have several at once (a report draft kept while they /join, the unit
question of /join): one per kind; a message answers the newest one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Database
from storage.timeutil import to_db


@dataclass(frozen=True, slots=True)
class PendingInput:
    user_id: int
    chat_id: int
    kind: str
    payload: dict[str, Any]


class PendingRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def expect(self, user_id: int, chat_id: int, kind: str, payload: dict[str, Any],
                     expires_at: datetime, now: datetime) -> None:
        async with self.db.write() as tx:
            await tx.execute(
                "INSERT INTO pending_inputs(user_id, kind, chat_id, payload, asked_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(user_id, kind) DO UPDATE SET"
                " chat_id = excluded.chat_id, payload = excluded.payload,"
                " asked_at = excluded.asked_at, expires_at = excluded.expires_at",
                (user_id, kind, chat_id, json.dumps(payload, ensure_ascii=False), to_db(now),
                 to_db(expires_at)),
            )

    async def get(self, user_id: int, kind: str, now: datetime) -> PendingInput | None:
        r = await self.db.fetchone(
            "SELECT * FROM pending_inputs WHERE user_id = ? AND kind = ? AND expires_at > ?",
            (user_id, kind, to_db(now)),
        )
        if r is None:
            return None
        return PendingInput(r["user_id"], r["chat_id"], r["kind"], json.loads(r["payload"]))

    async def newest(self, user_id: int, chat_id: int, kinds: Iterable[str],
                     now: datetime) -> PendingInput | None:
        """The most recent open question of these kinds in this chat."""
        kinds = list(kinds)
        if not kinds:
            return None
        marks = ",".join("?" * len(kinds))
        r = await self.db.fetchone(
            f"SELECT * FROM pending_inputs WHERE user_id = ? AND chat_id = ? AND expires_at > ?"
            f" AND kind IN ({marks}) ORDER BY asked_at DESC LIMIT 1",
            (user_id, chat_id, to_db(now), *kinds),
        )
        if r is None:
            return None
        return PendingInput(r["user_id"], r["chat_id"], r["kind"], json.loads(r["payload"]))

    async def lapsed(self, user_id: int, chat_id: int, kinds: Iterable[str], now: datetime,
                     since: datetime) -> PendingInput | None:
        """The most recent question of these kinds that timed out after ``since`` (a form
        the user comes back to: they are told it expired)."""
        kinds = list(kinds)
        if not kinds:
            return None
        marks = ",".join("?" * len(kinds))
        r = await self.db.fetchone(
            f"SELECT * FROM pending_inputs WHERE user_id = ? AND chat_id = ? AND expires_at <= ?"
            f" AND expires_at > ? AND kind IN ({marks}) ORDER BY expires_at DESC LIMIT 1",
            (user_id, chat_id, to_db(now), to_db(since), *kinds),
        )
        if r is None:
            return None
        return PendingInput(r["user_id"], r["chat_id"], r["kind"], json.loads(r["payload"]))

    async def open_questions(self, user_id: int, chat_id: int, kinds: Iterable[str],
                             now: datetime) -> list[PendingInput]:
        """The open questions of these kinds in this chat, newest first."""
        kinds = list(kinds)
        if not kinds:
            return []
        marks = ",".join("?" * len(kinds))
        rows = await self.db.fetchall(
            f"SELECT * FROM pending_inputs WHERE user_id = ? AND chat_id = ? AND expires_at > ?"
            f" AND kind IN ({marks}) ORDER BY asked_at DESC, kind",
            (user_id, chat_id, to_db(now), *kinds),
        )
        return [PendingInput(r["user_id"], r["chat_id"], r["kind"], json.loads(r["payload"]))
                for r in rows]

    async def clear(self, user_id: int, *kinds: str) -> bool:
        """Forget the user's open questions (all of them, or these kinds)."""
        sql, params = "DELETE FROM pending_inputs WHERE user_id = ?", [user_id]
        if kinds:
            sql += f" AND kind IN ({','.join('?' * len(kinds))})"
            params += kinds
        async with self.db.write() as tx:
            return await tx.update(sql, params) > 0
