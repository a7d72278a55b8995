"""The working calendar's data kept in the database: imported year files and local
exceptions (the calendar itself is bot/core/workcal.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from storage.db import Database, Tx
from storage.timeutil import to_db


@dataclass(frozen=True, slots=True)
class CalendarException:
    day: date
    off: bool
    reason: str


class CalendarRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def version(self) -> int:
        return int(await self.db.fetchval("SELECT version FROM calendar_version WHERE id = 1"))

    async def import_year(self, tx: Tx, year: int, data: str, now: datetime) -> None:
        """Store a year's calendar file as given (a later import replaces it)."""
        await tx.execute(
            "INSERT INTO calendar_years(year, data, imported_at) VALUES (?, ?, ?)"
            " ON CONFLICT(year) DO UPDATE SET data = excluded.data,"
            " imported_at = excluded.imported_at",
            (year, data, to_db(now)))

    async def years(self) -> dict[int, str]:
        rows = await self.db.fetchall("SELECT year, data FROM calendar_years ORDER BY year")
        return {r["year"]: r["data"] for r in rows}

    async def add_exception(self, tx: Tx, day: date, off: bool, reason: str,
                            added_by: int | None, now: datetime) -> None:
        """A local working day or day off; a second one for the same day replaces it."""
        await tx.execute(
            "INSERT INTO calendar_exceptions(day, off, reason, added_by, added_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT(day) DO UPDATE SET off = excluded.off,"
            " reason = excluded.reason, added_by = excluded.added_by,"
            " added_at = excluded.added_at",
            (day.isoformat(), int(off), reason, added_by, to_db(now)))

    async def exceptions(self) -> list[CalendarException]:
        rows = await self.db.fetchall(
            "SELECT day, off, reason FROM calendar_exceptions ORDER BY day")
        return [CalendarException(date.fromisoformat(r["day"]), bool(r["off"]), r["reason"])
                for r in rows]

    async def warn_once(self, tx: Tx, year: int, now: datetime) -> bool:
        """True the first time only: the missing calendar of ``year`` is to be told."""
        return await tx.update(
            "INSERT INTO calendar_warnings(year, warned_at) VALUES (?, ?)"
            " ON CONFLICT(year) DO NOTHING", (year, to_db(now))) > 0
