"""The assessment's reads: facts per report from the event log, per-leader counts.

Every query starts from ``reports`` by the indexed ``created_at`` range and reads each
report's events through the (report_id, action, at) index: no scan per leader.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.db import Database
from storage.timeutil import from_db, to_db


@dataclass(frozen=True, slots=True)
class ReportFacts:
    id: int
    created_at: datetime
    state: str
    rating: str | None
    acknowledged_at: datetime | None  # first acknowledgement (or resolution without one)
    resolved_at: datetime | None  # the last resolution
    resolved_node: int | None  # the level that resolved it last
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


_FACTS = """
SELECT r.id, r.created_at, r.state, r.rating,
  (SELECT min(e.at) FROM report_events e WHERE e.report_id = r.id
     AND e.action IN ('acknowledged', 'resolved')) AS ack_at,
  (SELECT max(e.at) FROM report_events e WHERE e.report_id = r.id
     AND e.action = 'resolved') AS res_at,
  (SELECT e.node_id FROM report_events e WHERE e.report_id = r.id
     AND e.action = 'resolved' ORDER BY e.at DESC LIMIT 1) AS res_node,
  EXISTS (SELECT 1 FROM report_events e WHERE e.report_id = r.id
     AND e.action IN ('escalated', 'overdue') AND e.note = 'missed:acknowledge') AS missed_ack,
  EXISTS (SELECT 1 FROM report_events e WHERE e.report_id = r.id
     AND e.action IN ('escalated', 'overdue') AND e.note LIKE 'missed:%') AS missed,
  EXISTS (SELECT 1 FROM report_events e WHERE e.report_id = r.id
     AND e.action = 'overdue') AS flagged
FROM reports r
WHERE r.created_at >= ? AND r.created_at < ? {scope}
"""

# Per node: reports that reached it, deadlines missed there; per actor: what they did.
_PER_LEADER = """
WITH r AS (SELECT id FROM reports WHERE created_at >= ? AND created_at < ? {scope}),
ev AS (
  SELECT e.report_id, e.action, e.actor_id, e.node_id, e.note,
         lag(e.node_id) OVER (PARTITION BY e.report_id ORDER BY e.id) AS prev_node
  FROM report_events e JOIN r ON r.id = e.report_id
)
SELECT 'reached', node_id, count(DISTINCT report_id) FROM ev
  WHERE action IN ('filed', 'escalated', 'reassigned', 'recategorised') GROUP BY node_id
UNION ALL
SELECT 'missed', CASE WHEN action = 'overdue' THEN node_id ELSE prev_node END, count(*) FROM ev
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
            ReportFacts(
                r[0], from_db(r[1]), r[2], r[3], from_db(r[4]), from_db(r[5]),  # type: ignore[arg-type]
                r[6], bool(r[7]), bool(r[8]), bool(r[9]),
            )
            for r in rows
        ]

    async def per_leader(self, start: datetime, end: datetime,
                         node_ids: list[int] | None) -> dict[str, dict[int, int]]:
        """{'reached'|'missed': {node_id: n}, 'acknowledged'|'resolved': {user_id: n}}."""
        sql = _PER_LEADER.format(scope=self._scope("node_id", node_ids))
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

    async def table_exists(self, name: str) -> bool:
        return bool(await self.db.fetchval(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)))

    async def count_reports(self) -> int:
        return int(await self.db.fetchval("SELECT count(*) FROM reports"))


