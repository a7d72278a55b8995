"""Leases: a job one instance does for all (the sender), taken over when its holder dies."""

from __future__ import annotations

from datetime import datetime, timedelta

from storage.db import Database
from storage.timeutil import to_db


class LeaseRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def hold(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Take or renew the lease ``name`` until now + ttl; False while another holds it."""
        async with self.db.write(marks_update=False) as tx:
            row = await tx.returning(
                "INSERT INTO leases(name, holder, until) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,"
                " until = excluded.until"
                " WHERE leases.holder = excluded.holder OR leases.until < ?"
                " RETURNING holder", (name, holder, to_db(now + ttl), to_db(now)))
        return row is not None

    async def take_from(self, name: str, dead: str, holder: str, now: datetime,
                        ttl: timedelta) -> bool:
        """Take the lease from a holder known to be dead (before its lease runs out)."""
        async with self.db.write(marks_update=False) as tx:
            return await tx.update(
                "UPDATE leases SET holder = ?, until = ? WHERE name = ? AND holder = ?",
                (holder, to_db(now + ttl), name, dead)) > 0

    async def give_up(self, name: str, holder: str) -> None:
        """Let the lease go at once (a clean stop): another instance need not wait it out."""
        async with self.db.write(marks_update=False) as tx:
            await tx.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    async def holder(self, name: str) -> str | None:
        return await self.db.fetchval("SELECT holder FROM leases WHERE name = ?", (name,))
