"""The web dashboard's storage: one-time sign-in links, Mini App data already used, and
the filtered report list its pages show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.db import Database, Tx
from storage.reports import Report, _report
from storage.timeutil import from_db, to_db

LIST_LIMIT = 500  # a page lists at most this many; the export has the same rows


@dataclass(frozen=True, slots=True)
class DueVisit:
    visit_id: int
    user_id: int
    node_id: int
    kind: str
    due_at: datetime
    rung_node_id: int


@dataclass(frozen=True, slots=True)
class OpenDecision:
    decision_id: int
    meeting_title: str
    text: str
    owner_id: int
    due_at: datetime
    state: str
    overdue: bool


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
        return await tx.update(
            "INSERT INTO web_init_data_seen(data_hash, seen_at) VALUES (?, ?)"
            " ON CONFLICT DO NOTHING", (data_hash, to_db(now))) > 0

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

    async def due_visits(self, node_ids: list[int]) -> list[DueVisit]:
        """Care visits not yet checked in, of residents living under these nodes."""
        if not node_ids:
            return []
        rows = await self.db.fetchall(
            "SELECT v.id, e.user_id, v.node_id, e.kind, v.due_at, v.rung_node_id"
            " FROM care_visits v JOIN care_entries e ON e.id = v.entry_id"
            f" WHERE v.state = 'due' AND v.node_id IN ({','.join('?' * len(node_ids))})"
            " ORDER BY v.due_at", node_ids)
        return [DueVisit(r[0], r[1], r[2], r[3], from_db(r[4]), r[5])  # type: ignore[arg-type]
                for r in rows]

    async def decisions(self, node_ids: list[int]) -> list[OpenDecision]:
        """Follow-ups of the consultation meetings held under these nodes, open ones first."""
        if not node_ids:
            return []
        rows = await self.db.fetchall(
            "SELECT d.id, m.title, d.text, d.owner_id, d.due_at, d.state, d.overdue"
            " FROM decisions d JOIN meetings m ON m.id = d.meeting_id"
            f" WHERE m.node_id IN ({','.join('?' * len(node_ids))})"
            " ORDER BY d.state = 'done', d.due_at LIMIT ?", (*node_ids, LIST_LIMIT))
        return [OpenDecision(r[0], r[1], r[2], r[3], from_db(r[4]),  # type: ignore[arg-type]
                             r[5], bool(r[6])) for r in rows]
