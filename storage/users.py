"""Users the bot has met: names, language, whether a private chat is open."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from datetime import datetime

from storage.db import Database, Tx
from storage.timeutil import to_db


@dataclass(frozen=True, slots=True)
class UserRow:
    user_id: int
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    language: str | None = None
    started: bool = False
    unreachable: bool = False

    @property
    def display_name(self) -> str:
        name = " ".join(p for p in (self.first_name, self.last_name) if p)
        return name or (f"@{self.username}" if self.username else str(self.user_id))


def _row(r: sqlite3.Row) -> UserRow:
    return UserRow(
        user_id=r["user_id"], first_name=r["first_name"], last_name=r["last_name"],
        username=r["username"], language_code=r["language_code"], language=r["language"],
        started=bool(r["started"]), unreachable=bool(r["unreachable"]),
    )


class UserRepo:
    """Reads are served from a small cache: every update touches its user. Not on
    PostgreSQL, where other instances change users too (a /start handled there)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: dict[int, UserRow] = {}
        self._caching = db.dialect == "sqlite"

    async def get(self, user_id: int) -> UserRow | None:
        if user_id in self._cache:
            return self._cache[user_id]
        r = await self.db.fetchone("SELECT * FROM users WHERE user_id = ?", (user_id,))
        if r is None:
            return None
        row = _row(r)
        if self._caching:
            self._cache[user_id] = row
        return row

    async def touch(
        self,
        user_id: int,
        *,
        first_name: str | None,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
        private: bool,
        now: datetime,
    ) -> UserRow:
        """Record what Telegram tells us about a user; a private message opens the chat."""
        known = await self.get(user_id)
        wanted = replace(
            known or UserRow(user_id),
            first_name=first_name, last_name=last_name, username=username,
            language_code=language_code,
        )
        if private:
            wanted = replace(wanted, started=True, unreachable=False)
        if wanted == known:
            return known
        async with self.db.write(marks_update=False) as tx:  # harmless to repeat
            await tx.execute(
                "INSERT INTO users(user_id, first_name, last_name, username, language_code,"
                " started, unreachable, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(user_id) DO UPDATE SET first_name = excluded.first_name,"
                " last_name = excluded.last_name, username = excluded.username,"
                " language_code = excluded.language_code,"
                " started = users.started | excluded.started,"
                " unreachable = CASE WHEN excluded.started = 1 THEN 0 ELSE users.unreachable END,"
                " updated_at = excluded.updated_at",
                (user_id, first_name, last_name, username, language_code,
                 int(wanted.started), int(wanted.unreachable), to_db(now)),
            )
        self._cache.pop(user_id, None)
        return await self.get(user_id) or wanted

    async def set_language(self, user_id: int, language: str, now: datetime) -> None:
        async with self.db.write() as tx:
            await tx.execute(
                "INSERT INTO users(user_id, language, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT(user_id) DO UPDATE SET language = excluded.language,"
                " updated_at = excluded.updated_at",
                (user_id, language, to_db(now)),
            )
        self._cache.pop(user_id, None)

    async def set_reachable(self, user_id: int, reachable: bool, now: datetime) -> None:
        """A private chat opened (or unblocked) or closed (blocked) by the user."""
        async with self.db.write() as tx:
            await self.mark_reachable(tx, user_id, reachable, now)

    async def mark_reachable(self, tx: Tx, user_id: int, reachable: bool, now: datetime,
                             tried_at: datetime | None = None) -> None:
        """``tried_at``: when the send that found the user unreachable began; a user heard
        from since (their /start handled meanwhile, maybe by another instance) stays as is."""
        unless = " WHERE users.updated_at <= ?" if tried_at else ""
        await tx.execute(
            "INSERT INTO users(user_id, started, unreachable, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(user_id) DO UPDATE SET unreachable = excluded.unreachable,"
            " started = users.started | excluded.started,"
            f" updated_at = excluded.updated_at{unless}",
            (user_id, int(reachable), int(not reachable), to_db(now),
             *([to_db(tried_at)] if tried_at else [])),
        )
        self._cache.pop(user_id, None)

    async def names(self, user_ids: list[int]) -> dict[int, UserRow]:
        if not user_ids:
            return {}
        marks = ",".join("?" * len(user_ids))
        rows = await self.db.fetchall(f"SELECT * FROM users WHERE user_id IN ({marks})", user_ids)
        return {r["user_id"]: _row(r) for r in rows}

    async def by_username(self, username: str) -> int | None:
        return await self.db.fetchval(
            "SELECT user_id FROM users WHERE lower(username) = lower(?)", (username,))

    def drop_cached(self, user_id: int) -> None:
        """Forget the cached row (after the row itself was deleted, /forget)."""
        self._cache.pop(user_id, None)
