"""The web dashboard's storage: one-time sign-in links, Mini App data already used, and
the filtered report list its pages show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.db import Database, Tx
from storage.reports import Report, _report
from storage.timeutil import to_db

LIST_LIMIT = 500  # a page lists at most this many; the export has the same rows


@dataclass(frozen=True, slots=True)
class ReportFilter:
    node_ids: list[int] | None = None  # the reporter's node within these (None: everywhere)
    category: str | None = None
    state: str | None = None  # open (open, acknowledged, reopened), resolved, closed, or one
    overdue_only: bool = False
    older_than: datetime | None = None  # filed before this
    text: str | None = None


class WebRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add_login(self, tx: Tx, token_hash: str, user_id: int, now: datetime,
                        expires_at: datetime) -> None:
        await tx.execute(
            "INSERT INTO web_logins(token_hash, user_id, created_at, expires_at)"
            " VALUES (?, ?, ?, ?)", (token_hash, user_id, to_db(now), to_db(expires_at)))

    async def use_login(self, tx: Tx, token_hash: str, now: datetime) -> int | None:
        """The user a link signs in, once, before it expires; None for any other link."""
        row = await tx.returning(
            "UPDATE web_logins SET used_at = ? WHERE token_hash = ? AND used_at IS NULL"
            " AND expires_at > ? RETURNING user_id", (to_db(now), token_hash, to_db(now)))
        return None if row is None else int(row["user_id"])

    async def first_use_of_init_data(self, tx: Tx, data_hash: str, now: datetime) -> bool:
        """True the first time this Mini App data is presented, False on a replay."""
        new = await tx.insert_new(
            "INSERT OR IGNORE INTO web_init_data_seen(data_hash, seen_at) VALUES (?, ?)",
            (data_hash, to_db(now)))
        return new is not None

    async def reports(self, f: ReportFilter) -> list[Report]:
        where, params = ["1 = 1"], []
        if f.node_ids is not None:
            if not f.node_ids:
                return []
            where.append(f"node_id IN ({','.join('?' * len(f.node_ids))})")
            params += f.node_ids
        if f.category:
            where.append("category = ?")
            params.append(f.category)
        if f.state == "open":
            where.append("state IN ('open', 'acknowledged', 'reopened')")
        elif f.state:
            where.append("state = ?")
            params.append(f.state)
        if f.overdue_only:
            # as /stats counts 超期: a deadline missed at any level
            where.append("id IN (SELECT report_id FROM report_events WHERE action IN"
                         " ('escalated', 'overdue') AND note LIKE 'missed:%')")
        if f.older_than is not None:
            where.append("created_at < ?")
            params.append(to_db(f.older_than))
        if f.text:
            where.append("instr(text, ?) > 0")
            params.append(f.text)
        rows = await self.db.fetchall(
            f"SELECT * FROM reports WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
            (*params, LIST_LIMIT))
        return [_report(r) for r in rows]
