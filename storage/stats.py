"""The assessment's reads: facts per report from the event log, per-leader counts.

Every query starts from ``reports`` by the indexed ``created_at`` range and reads each
report's events through the (report_id, action, at) index: no scan per leader.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.db import Database
from storage.timeutil import to_db


@dataclass(frozen=True, slots=True)
class ReportFacts:
    state: str
    rating: str | None
    acknowledge_s: float | None  # to the first acknowledgement (or a resolution without one)
    resolve_s: float | None  # to the last resolution
    resolved_level: str | None  # the level that resolved it last (if resolved or closed)
    missed_acknowledge: bool  # an acknowledge deadline was missed
    missed: bool  # any deadline was missed
    flagged: bool  # flagged 超期 at the top of the chain


@dataclass(frozen=True, slots=True)
class CareFacts:
    due: int
    on_time: int
    late: int
    pending: int


def _marks(values: list[int]) -> str:
    return ",".join("?" * len(values))


# One pass over the reports of the period and their events (grouped per report);
# durations in seconds from SQLite itself, so no timestamp is parsed in Python.
_FACTS = """
SELECT r.state, r.rating,
  (julianday(min(CASE WHEN e.action IN ('acknowledged', 'resolved') THEN e.at END))
     - julianday(r.created_at)) * 86400.0,
  (julianday(max(CASE WHEN e.action = 'resolved' THEN e.at END))
     - julianday(r.created_at)) * 86400.0,
  CASE WHEN r.state IN ('resolved', 'closed') THEN
    (SELECT n.level FROM report_events x JOIN nodes n ON n.id = x.node_id
     WHERE x.report_id = r.id AND x.action = 'resolved' ORDER BY x.at DESC, x.id DESC LIMIT 1)
  END,
  max(e.action IN ('escalated', 'overdue') AND e.note = 'missed:acknowledge'),
  max(e.action IN ('escalated', 'overdue') AND e.note LIKE 'missed:%'),
  max(e.action = 'overdue')
FROM reports r JOIN report_events e ON e.report_id = r.id
WHERE r.created_at >= ? AND r.created_at < ? {scope}
GROUP BY r.created_at, r.id  -- the order of the reports_created index: no sort
"""

# Per node: reports that reached it, deadlines missed there (the node of the event before
# the escalation, looked up for those few events only); per actor: what they did.
_PER_LEADER = """
WITH ev AS (
  SELECT e.id, e.report_id, e.action, e.actor_id, e.node_id, e.note
  FROM reports r JOIN report_events e ON e.report_id = r.id
  WHERE r.created_at >= ? AND r.created_at < ? {scope}
)
SELECT 'reached', node_id, count(DISTINCT report_id) FROM ev
  WHERE action IN ('filed', 'escalated', 'reassigned', 'recategorised') GROUP BY node_id
UNION ALL
SELECT 'missed', CASE WHEN action = 'overdue' THEN node_id ELSE
    (SELECT p.node_id FROM report_events p WHERE p.report_id = ev.report_id AND p.id < ev.id
     ORDER BY p.id DESC LIMIT 1) END, count(*) FROM ev
  WHERE action IN ('escalated', 'overdue') AND note LIKE 'missed:%' GROUP BY 2
UNION ALL
SELECT 'acknowledged', actor_id, count(*) FROM ev
  WHERE action = 'acknowledged' AND actor_id IS NOT NULL GROUP BY actor_id
UNION ALL
SELECT 'resolved', actor_id, count(*) FROM ev
  WHERE action = 'resolved' AND actor_id IS NOT NULL GROUP BY actor_id
"""


class StatsRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _scope(column: str, node_ids: list[int] | None) -> str:
        return "" if node_ids is None else f"AND {column} IN ({_marks(node_ids)})"

    async def report_facts(self, start: datetime, end: datetime,
                           node_ids: list[int] | None) -> list[ReportFacts]:
        """Reports filed in [start, end) under these nodes (None: everywhere)."""
        sql = _FACTS.format(scope=self._scope("r.node_id", node_ids))
        rows = await self.db.fetchall(sql, (to_db(start), to_db(end), *(node_ids or [])))
        return [
            ReportFacts(r[0], r[1], _seconds(r[2]), _seconds(r[3]), r[4], bool(r[5]),
                        bool(r[6]), bool(r[7]))
            for r in rows
        ]

    async def per_leader(self, start: datetime, end: datetime,
                         node_ids: list[int] | None) -> dict[str, dict[int, int]]:
        """{'reached'|'missed': {node_id: n}, 'acknowledged'|'resolved': {user_id: n}}."""
        sql = _PER_LEADER.format(scope=self._scope("r.node_id", node_ids))
        rows = await self.db.fetchall(sql, (to_db(start), to_db(end), *(node_ids or [])))
        out: dict[str, dict[int, int]] = {k: {} for k in
                                          ("reached", "missed", "acknowledged", "resolved")}
        for kind, key, n in rows:
            if key is not None:
                out[kind][key] = out[kind].get(key, 0) + n
        return out

    async def care(self, start: datetime, end: datetime, node_ids: list[int] | None,
                   grace_s: float, now: datetime) -> CareFacts:
        """Visits that fell due in [start, end): checked in within the grace, late, pending."""
        scope = self._scope("node_id", node_ids)
        row = await self.db.fetchone(
            "SELECT count(*),"
            " sum(state = 'done' AND julianday(visited_at) - julianday(due_at) <= ? / 86400.0),"
            " sum(state = 'done' AND julianday(visited_at) - julianday(due_at) > ? / 86400.0)"
            "   + sum(state = 'due' AND julianday(?) - julianday(due_at) > ? / 86400.0),"
            " sum(state = 'due' AND julianday(?) - julianday(due_at) <= ? / 86400.0)"
            f" FROM care_visits WHERE state != 'cancelled' AND due_at >= ? AND due_at < ? {scope}",
            (grace_s, grace_s, to_db(now), grace_s, to_db(now), grace_s, to_db(start), to_db(end),
             *(node_ids or [])),
        )
        assert row is not None
        return CareFacts(row[0] or 0, row[1] or 0, row[2] or 0, row[3] or 0)

    async def follow_ups(self, start: datetime, end: datetime,
                         node_ids: list[int] | None) -> tuple[int, int]:
        """(done, all) of consultation decisions due in [start, end)."""
        row = await self.db.fetchone(
            "SELECT sum(state = 'done'), count(*) FROM decisions WHERE due_at >= ?"
            f" AND due_at < ? {self._scope('rung_node_id', node_ids)}",
            (to_db(start), to_db(end), *(node_ids or [])))
        return (row[0] or 0, row[1] or 0) if row else (0, 0)

    async def attendance(self, start: datetime, end: datetime,
                         node_ids: list[int] | None) -> tuple[int, int]:
        """(residents going, events) for events starting in [start, end)."""
        row = await self.db.fetchone(
            "WITH e AS (SELECT id FROM events WHERE state != 'cancelled' AND starts_at >= ?"
            f" AND starts_at < ? {self._scope('node_id', node_ids)})"
            " SELECT (SELECT count(*) FROM event_rsvps WHERE answer = 'going'"
            "   AND event_id IN (SELECT id FROM e)), (SELECT count(*) FROM e)",
            (to_db(start), to_db(end), *(node_ids or [])))
        return (row[0] or 0, row[1] or 0) if row else (0, 0)

    async def count_reports(self) -> int:
        return int(await self.db.fetchval("SELECT count(*) FROM reports"))


def _seconds(value: float | None) -> float | None:
    """julianday arithmetic is exact to about 10 µs: keep milliseconds."""
    return None if value is None else round(value, 3)
