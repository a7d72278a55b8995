"""Reports and their append-only event log."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from operator import attrgetter, itemgetter
from typing import Any
from weakref import WeakKeyDictionary

from storage.db import Database, Tx
from storage.timeutil import from_db, to_db


@dataclass(frozen=True, slots=True)
class Report:
    id: int
    reporter_id: int
    node_id: int
    category: str
    text: str
    photo_file_id: str | None
    latitude: float | None
    longitude: float | None
    source_chat_id: int | None
    state: str
    rung_node_id: int
    partner_id: int | None
    owner_id: int | None
    version: int
    unsatisfied: int
    overdue: bool
    rating: str | None
    resolution: str | None
    created_at: datetime
    rung_since: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    filed_by: int | None = None  # the leader who filed it for a resident without Telegram
    resolution_photo: str | None = None  # the proof sent with the resolution note
    voice_file_id: str | None = None
    voice_duration: int | None = None
    voice_kind: str | None = None  # voice, video_note
    transcript: str | None = None  # by a speech-to-text engine: for reference only
    supporters: int = 0  # residents besides the reporter with the same problem
    merged_into: int | None = None

    @property
    def active(self) -> bool:
        return self.state in ("open", "acknowledged", "reopened")

    @property
    def rater(self) -> int:
        """Who is asked the rating: the reporter, or for a resident without Telegram the
        leader who filed it (a phone call-back)."""
        return self.filed_by if self.filed_by is not None else self.reporter_id


@dataclass(frozen=True, slots=True)
class ReportEvent:
    at: datetime
    actor_id: int | None
    action: str
    from_state: str | None
    to_state: str | None
    node_id: int | None
    note: str | None
    on_behalf_of: int | None = None  # the absent leader a stand-in acted for


@dataclass(frozen=True, slots=True)
class Voice:
    """A voice message or video note kept with a report."""

    file_id: str
    duration: int
    kind: str = "voice"  # or video_note
    transcript: str | None = None


@dataclass(frozen=True, slots=True)
class Supporter:
    user_id: int
    via: str  # me_too, merged
    rating: str | None


# an event to log: report, actor, action, from state, to state, node, note, on behalf of
LoggedEvent = tuple[int, int | None, str, str | None, str | None, int | None, str | None,
                    int | None]

# kept for the retention job (storage/privacy.py), not part of a report as handled
_NOT_FIELDS = ("updated_at", "media_removed_at", "text_removed_at")
_TIMES = ("created_at", "rung_since", "acknowledged_at", "resolved_at", "closed_at")


# each field's place, in order: Report(*values)
FIELDS = {f.name: i for i, f in enumerate(dataclasses.fields(Report))}
_values_of = attrgetter(*FIELDS)


def _report(r: sqlite3.Row) -> Report:
    return _reader(tuple(r.keys()))(r)


@lru_cache(maxsize=8)
def _reader(names: tuple[str, ...]) -> Callable[[Sequence[Any]], Report]:
    """How a row with these columns becomes a Report, worked out once for them: a batch of
    deadlines reads a thousand reports, and by name each took twice as long."""
    if unknown := set(names) - set(FIELDS) - set(_NOT_FIELDS):
        raise TypeError(f"reports columns that Report lacks: {sorted(unknown)}")
    pick = itemgetter(*[names.index(name) for name in FIELDS])
    times = [FIELDS[name] for name in _TIMES]
    overdue = FIELDS["overdue"]

    def read(row: Sequence[Any]) -> Report:
        values = list(pick(tuple(row)))
        for i in times:
            values[i] = from_db(values[i])
        values[overdue] = bool(values[overdue])
        return Report(*values)

    return read


def _replaced(report: Report, changes: dict[str, Any]) -> Report:
    """dataclasses.replace at about half its cost (a batch moves a thousand reports)."""
    values = list(_values_of(report))
    for name, value in changes.items():
        values[FIELDS[name]] = value
    return Report(*values)


# the fields a change may give each report of a batch its own value of (whole numbers)
_PER_REPORT = frozenset({"rung_node_id", "partner_id", "owner_id"})
# a change of reports: the report as read, and the fields changed
Change = tuple[Report, dict[str, Any]]


def _changed(report: Report, fields: dict[str, Any]) -> dict[str, Any]:
    """The fields that get a new value. One that keeps its value is not written: an index
    or trigger on it has nothing to do (a move up the chain leaves the state open)."""
    return {name: value for name, value in fields.items() if getattr(report, name) != value}


def _db(value: Any) -> Any:
    return to_db(value) if isinstance(value, datetime) else value


def _change(report: Report, now: datetime, fields: dict[str, Any]) -> tuple[str, list[Any]]:
    """The UPDATE for a change, applied only to the version that was read."""
    changed = _changed(report, fields)
    sets = "".join(f"{name} = ?, " for name in changed)
    return (f"UPDATE reports SET {sets}version = version + 1, updated_at = ?"
            " WHERE id = ? AND version = ?",
            [*map(_db, changed.values()), to_db(now), report.id, report.version])


def _changes(changes: list[Change], now: datetime,
             ) -> list[tuple[str, list[Any], list[tuple[Any, ...]]]]:
    """The UPDATEs for changes of many reports (each applied only to the version read):
    one for all those that change the same fields and differ only in whole numbers
    (node, partner, owner), which come with each report's id and version in a table of
    values; the other values are the statement's own. (head, its values, the rows)"""
    groups: dict[tuple[Any, ...], list[tuple[Report, dict[str, Any]]]] = {}
    for report, fields in changes:
        changed = _changed(report, fields)
        shared = tuple((k, v) for k, v in changed.items() if k not in _PER_REPORT)
        own = tuple(k for k in changed if k in _PER_REPORT)
        groups.setdefault((shared, own), []).append((report, changed))
    statements = []
    for (shared, own), group in groups.items():
        # a table of values' columns are column1, column2, ... on both databases (and an
        # UPDATE that begins with WITH has no row count in Python's sqlite3)
        sets = [f"{k} = CAST(v.column{3 + i} AS INTEGER), " for i, k in enumerate(own)] + [
            f"{k} = ?, " for k, _ in shared]
        statements.append((
            f"UPDATE reports SET {''.join(sets)}version = reports.version + 1, updated_at = ?"
            " FROM (VALUES", [*(_db(v) for _, v in shared), to_db(now)],
            [(report.id, report.version, *(changed[k] for k in own))
             for report, changed in group]))
    return statements


class ReportRepo:
    def __init__(self, db: Database) -> None:
        self.db = db
        # reports read ahead in a transaction (a batch of deadlines), each served once
        self._preloaded: WeakKeyDictionary[Tx, dict[int, Report]] = WeakKeyDictionary()

    async def preload(self, tx: Tx, report_ids: list[int]) -> None:
        """Read these reports in one statement; ``get`` in the same transaction is then
        served from them, once each, unless a change through this repository came first."""
        if not report_ids:
            return
        rows = await tx.fetchall(
            f"SELECT * FROM reports WHERE id IN ({','.join('?' * len(report_ids))})",
            report_ids)
        self._preloaded.setdefault(tx, {}).update((r["id"], _report(r)) for r in rows)

    async def create(
        self, tx: Tx, *, reporter_id: int, node_id: int, category: str, text: str,
        photo_file_id: str | None, latitude: float | None, longitude: float | None,
        source_chat_id: int | None, rung_node_id: int, partner_id: int | None, now: datetime,
        filed_by: int | None = None,
        voice: Voice | None = None,
    ) -> Report:
        kept = (voice.file_id, voice.duration, voice.kind, voice.transcript) if voice else (
            None, None, None, None)
        row = await tx.returning(
            "INSERT INTO reports(reporter_id, node_id, category, text, photo_file_id, latitude,"
            " longitude, source_chat_id, rung_node_id, partner_id, created_at, rung_since,"
            " updated_at, filed_by, voice_file_id, voice_duration, voice_kind, transcript)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
            (reporter_id, node_id, category, text, photo_file_id, latitude, longitude,
             source_chat_id, rung_node_id, partner_id, to_db(now), to_db(now), to_db(now),
             filed_by, *kept),
        )
        assert row is not None
        return _report(row)

    async def get(self, report_id: int, tx: Tx | None = None) -> Report | None:
        if tx is not None and tx in self._preloaded:
            ahead = self._preloaded[tx].pop(report_id, None)
            if ahead is not None:
                return ahead
        r = await (tx or self.db).fetchone("SELECT * FROM reports WHERE id = ?", (report_id,))
        return None if r is None else _report(r)

    async def change(self, tx: Tx, report: Report, now: datetime, **fields: Any) -> Report | None:
        """Apply a change if nobody changed the report since it was read (optimistic lock);
        the report as changed, or None when it had moved on."""
        self._forget(tx, report.id)
        sql, params = _change(report, now, fields)
        row = await tx.returning(sql + " RETURNING *", params)
        return None if row is None else _report(row)

    async def change_queued(self, tx: Tx, report: Report, now: datetime, stale: BaseException,
                            **fields: Any) -> Report:
        """The same change, queued without waiting: the transaction fails with ``stale`` if
        the report moved on. Returns the report as the change leaves it."""
        return (await self.change_all_queued(tx, [(report, fields)], now, stale))[0]

    async def change_all_queued(self, tx: Tx, changes: list[Change], now: datetime,
                                stale: BaseException) -> list[Report]:
        """Changes of many reports (a batch of deadlines' moves), queued in a few
        statements: the transaction fails with ``stale`` if any of them moved on. Returns
        the reports as the changes leave them."""
        for report, _ in changes:
            self._forget(tx, report.id)
        for head, params, rows in _changes(changes, now):
            await tx.execute_rows(head, rows, params=params, must_change=stale,
                                  tail=") AS v WHERE reports.id = v.column1"
                                  " AND reports.version = v.column2")
        return [_replaced(report, {**fields, "version": report.version + 1,
                                   **({"overdue": bool(fields["overdue"])}
                                      if "overdue" in fields else {})})
                for report, fields in changes]

    def _forget(self, tx: Tx, report_id: int) -> None:
        if tx in self._preloaded:
            self._preloaded[tx].pop(report_id, None)

    async def log(
        self, tx: Tx, report_id: int, now: datetime, actor_id: int | None, action: str,
        from_state: str | None, to_state: str | None, node_id: int | None,
        note: str | None = None, on_behalf_of: int | None = None,
    ) -> None:
        await self.log_all(tx, now, [(report_id, actor_id, action, from_state, to_state,
                                      node_id, note, on_behalf_of)])

    async def log_all(self, tx: Tx, now: datetime, events: list[LoggedEvent]) -> None:
        """Events of many reports at the same moment, in one statement."""
        at = to_db(now)
        await tx.execute_rows("INSERT INTO report_events(report_id, at, actor_id, action,"
                              " from_state, to_state, node_id, note, on_behalf_of) VALUES",
                              [(event[0], at, *event[1:]) for event in events])

    async def events(self, report_id: int, tx: Tx | None = None) -> list[ReportEvent]:
        rows = await (tx or self.db).fetchall(
            "SELECT * FROM report_events WHERE report_id = ? ORDER BY id", (report_id,)
        )
        return [ReportEvent(from_db(r["at"]), r["actor_id"], r["action"],  # type: ignore[arg-type]
                            r["from_state"], r["to_state"], r["node_id"], r["note"],
                            r["on_behalf_of"])
                for r in rows]

    async def by_reporter(self, user_id: int, limit: int = 20) -> list[Report]:
        rows = await self.db.fetchall(
            "SELECT * FROM reports WHERE reporter_id = ? ORDER BY id DESC LIMIT ?",
            (user_id, limit),
        )
        return [_report(r) for r in rows]

    async def waiting_for(self, user_id: int) -> list[Report]:
        """Active reports at a level this user leads, or with a partner they belong to."""
        rows = await self.db.fetchall(
            "SELECT r.* FROM reports r WHERE r.state IN ('open', 'acknowledged', 'reopened') AND ("
            " (r.partner_id IS NULL AND r.rung_node_id IN"
            "   (SELECT node_id FROM leaders WHERE user_id = ?))"
            " OR r.partner_id IN (SELECT partner_id FROM partner_members WHERE user_id = ?))",
            (user_id, user_id),
        )
        return [_report(r) for r in rows]

    async def held_in_role(self, tx: Tx, user_id: int, node_id: int | None,
                           partner_id: int | None) -> list[Report]:
        """Active reports this user could act on as a leader of the node (at that rung) or
        as a member of the partner: the unowned ones, and those they own."""
        where = "partner_id = ?" if partner_id is not None else (
            "partner_id IS NULL AND rung_node_id = ?")
        rows = await tx.fetchall(
            f"SELECT * FROM reports WHERE state IN ('open', 'acknowledged', 'reopened')"
            f" AND {where} AND (owner_id IS NULL OR owner_id = ?) ORDER BY id",
            (partner_id if partner_id is not None else node_id, user_id))
        return [_report(r) for r in rows]

    async def overdue_at(self, node_ids: list[int]) -> list[Report]:
        if not node_ids:
            return []
        marks = ",".join("?" * len(node_ids))
        rows = await self.db.fetchall(
            f"SELECT * FROM reports WHERE overdue = 1 AND state IN ('open', 'acknowledged',"
            f" 'reopened') AND rung_node_id IN ({marks}) ORDER BY id",
            node_ids,
        )
        return [_report(r) for r in rows]

    # -- "me too": supporters and duplicates ------------------------------------------

    async def open_since(self, node_ids: list[int], since: datetime) -> list[Report]:
        """Active reports filed under these nodes since then, newest first."""
        if not node_ids:
            return []
        marks = ",".join("?" * len(node_ids))
        rows = await self.db.fetchall(
            f"SELECT * FROM reports WHERE state IN ('open', 'acknowledged', 'reopened')"
            f" AND merged_into IS NULL AND node_id IN ({marks}) AND created_at >= ?"
            f" ORDER BY id DESC LIMIT 200",
            (*node_ids, to_db(since)),
        )
        return [_report(r) for r in rows]

    async def supporters(self, report_id: int, tx: Tx | None = None) -> list[Supporter]:
        rows = await (tx or self.db).fetchall(
            "SELECT user_id, via, rating FROM report_supporters WHERE report_id = ?"
            " ORDER BY since, user_id", (report_id,))
        return [Supporter(r["user_id"], r["via"], r["rating"]) for r in rows]

    async def is_supporter(self, report_id: int, user_id: int) -> bool:
        return await self.db.fetchone(
            "SELECT 1 FROM report_supporters WHERE report_id = ? AND user_id = ?",
            (report_id, user_id)) is not None

    async def add_supporters(self, tx: Tx, report_id: int, user_ids: list[int], via: str,
                             now: datetime) -> int:
        """Add these residents (those already there are kept as they were); how many new."""
        added = 0
        for user_id in user_ids:
            added += await tx.update(
                "INSERT INTO report_supporters(report_id, user_id, via, since) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(report_id, user_id) DO NOTHING",
                (report_id, user_id, via, to_db(now)))
        return added

    async def rate_as_supporter(self, tx: Tx, report_id: int, user_id: int,
                                rating: str) -> bool:
        return await tx.update(
            "UPDATE report_supporters SET rating = ? WHERE report_id = ? AND user_id = ?",
            (rating, report_id, user_id)) > 0

    async def supported_by(self, user_id: int, limit: int = 20) -> list[Report]:
        rows = await self.db.fetchall(
            "SELECT r.* FROM reports r JOIN report_supporters s ON s.report_id = r.id"
            " WHERE s.user_id = ? ORDER BY r.id DESC LIMIT ?", (user_id, limit))
        return [_report(r) for r in rows]

    async def leave_out_of_assessment(self, tx: Tx, report_id: int) -> None:
        """A duplicate merged into another report: its figures go (the triggers of migration
        0020 keep them for every report), so the assessment counts the problem once."""
        await tx.execute("DELETE FROM report_facts WHERE report_id = ?", (report_id,))
        await tx.execute("DELETE FROM report_leader_facts WHERE report_id = ?", (report_id,))
