"""The assessment's reads: per-report facts and per-leader counts, kept current from the
event log by triggers (migration 0020), read by the indexed ``created_at`` range. A duplicate
merged into another report has no facts (storage/reports.py removes them): a problem counts
once, however many reported it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.db import Database
from storage.timeutil import to_db


@dataclass(frozen=True, slots=True)
class CareFacts:
    due: int
    on_time: int
    late: int
    pending: int


def _marks(values: list[int]) -> str:
    return ",".join("?" * len(values))


# The reports of the period from their facts (kept current by triggers, migration 0020):
# the counts are summed in SQL, the durations read for the medians.
_TOTALS = """
SELECT count(*),
  count(*) FILTER (WHERE acknowledge_s IS NOT NULL OR missed_acknowledge = 1),
  count(*) FILTER (WHERE acknowledge_s IS NOT NULL AND missed_acknowledge = 0),
  count(*) FILTER (WHERE missed = 1),
  count(*) FILTER (WHERE rating IN ('satisfied', 'acceptable', 'unsatisfied')),
  count(*) FILTER (WHERE rating IN ('satisfied', 'acceptable')),
  count(*) FILTER (WHERE state IN ('resolved', 'closed') AND resolve_s IS NOT NULL),
  count(*) FILTER (WHERE state IN ('resolved', 'closed') AND resolve_s IS NOT NULL
                   AND resolved_level = ?),
  count(*) FILTER (WHERE state IN ('resolved', 'closed') AND resolve_s IS NOT NULL
                   AND flagged = 0)
FROM report_facts WHERE created_at >= ? AND created_at < ? {scope}
"""

_DURATIONS = """
SELECT acknowledge_s, CASE WHEN state IN ('resolved', 'closed') THEN resolve_s END
FROM report_facts WHERE created_at >= ? AND created_at < ? {scope}
  AND (acknowledge_s IS NOT NULL OR resolve_s IS NOT NULL)
"""

# Per node: reports that reached it, deadlines missed there; per actor: what they did.
_PER_LEADER = """
SELECT kind, key, CASE kind WHEN 'reached' THEN count(DISTINCT report_id) ELSE count(*) END
FROM report_leader_facts WHERE created_at >= ? AND created_at < ? {scope}
GROUP BY kind, key
"""


@dataclass(frozen=True, slots=True)
class ReportTotals:
    received: int = 0
    response_decided: int = 0  # acknowledged, or its acknowledge deadline missed
    responded_in_time: int = 0
    overdue: int = 0
    rated: int = 0
    satisfied: int = 0  # satisfied or acceptable
    resolved: int = 0
    resolved_at_grid: int = 0
    within_community: int = 0  # resolved and never flagged at the top


class StatsRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _scope(column: str, node_ids: list[int] | None) -> str:
        return "" if node_ids is None else f"AND {column} IN ({_marks(node_ids)})"

    async def report_totals(self, periods: list[tuple[datetime, datetime]],
                            node_ids: list[int] | None, grid_level: str) -> list[ReportTotals]:
        """The counts of reports filed in each [start, end) under these nodes (None:
        everywhere), in one statement (a 12-month trend is one trip, not twelve)."""
        one = _TOTALS.format(scope=self._scope("node_id", node_ids))
        sql = " UNION ALL ".join(f"SELECT * FROM ({one}) AS p{i}" for i in range(len(periods)))
        params: list[object] = []
        for start, end in periods:
            params += [grid_level, to_db(start), to_db(end), *(node_ids or [])]
        rows = await self.db.fetchall(sql, params)
        return [ReportTotals(*row) for row in rows]

    async def durations(self, start: datetime, end: datetime, node_ids: list[int] | None
                        ) -> tuple[list[float], list[float]]:
        """Seconds to acknowledge and to resolve, of the reports that got there."""
        sql = _DURATIONS.format(scope=self._scope("node_id", node_ids))
        rows = await self.db.fetchall(sql, (to_db(start), to_db(end), *(node_ids or [])))
        acks = [_seconds(r[0]) for r in rows if r[0] is not None]
        resolves = [_seconds(r[1]) for r in rows if r[1] is not None]
        return acks, resolves  # type: ignore[return-value]

    async def per_leader(self, start: datetime, end: datetime,
                         node_ids: list[int] | None) -> dict[str, dict[int, int]]:
        """{'reached'|'missed': {node_id: n}, 'acknowledged'|'resolved'|'rated'|'satisfied':
        {user_id: n}} (a rating counts for the leader who resolved the report last)."""
        sql = _PER_LEADER.format(scope=self._scope("node_id", node_ids))
        rows = await self.db.fetchall(sql, (to_db(start), to_db(end), *(node_ids or [])))
        out: dict[str, dict[int, int]] = {k: {} for k in ("reached", "missed", "acknowledged",
                                                          "resolved", "rated", "satisfied")}
        for kind, key, n in rows:
            if key is not None:
                out[kind][key] = out[kind].get(key, 0) + n
        return out

    async def call_backs(self, start: datetime, end: datetime,
                         node_ids: list[int] | None) -> tuple[int, int]:
        """(call-backs recorded, of them 联系不上) for reports filed in [start, end) by a
        leader for a resident without Telegram (few: read by their own partial index)."""
        row = await self.db.fetchone(
            "SELECT count(*), count(*) FILTER (WHERE e.note = 'unreachable') FROM reports r"
            " JOIN report_events e ON e.report_id = r.id AND e.action = 'rated'"
            " WHERE r.filed_by IS NOT NULL AND r.created_at >= ? AND r.created_at < ?"
            f" {self._scope('r.node_id', node_ids)}",
            (to_db(start), to_db(end), *(node_ids or [])))
        return (row[0] or 0, row[1] or 0) if row else (0, 0)

    async def response_seconds(self, start: datetime, end: datetime,
                               node_ids: list[int] | None) -> dict[int, list[float]]:
        """Per leader: seconds from a report reaching their rung to their acknowledgement."""
        rows = await self.db.fetchall(
            "SELECT key, seconds FROM report_leader_facts WHERE created_at >= ?"
            " AND created_at < ? AND kind = 'acknowledged' AND seconds IS NOT NULL"
            f" {self._scope('node_id', node_ids)}",
            (to_db(start), to_db(end), *(node_ids or [])))
        out: dict[int, list[float]] = {}
        for key, seconds in rows:
            out.setdefault(key, []).append(round(seconds, 3))
        return out

    async def care(self, start: datetime, end: datetime, node_ids: list[int] | None,
                   grace_s: float, now: datetime) -> CareFacts:
        """Visits that fell due in [start, end): checked in within the grace, late, pending."""
        scope = self._scope("node_id", node_ids)
        row = await self.db.fetchone(
            "SELECT count(*),"
            " count(*) FILTER (WHERE state = 'done'"
            "   AND julianday(visited_at) - julianday(due_at) <= ? / 86400.0),"
            " count(*) FILTER (WHERE state = 'done'"
            "   AND julianday(visited_at) - julianday(due_at) > ? / 86400.0)"
            " + count(*) FILTER (WHERE state = 'due'"
            "   AND julianday(?) - julianday(due_at) > ? / 86400.0),"
            " count(*) FILTER (WHERE state = 'due'"
            "   AND julianday(?) - julianday(due_at) <= ? / 86400.0)"
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
            "SELECT count(*) FILTER (WHERE state = 'done'), count(*) FROM decisions"
            f" WHERE due_at >= ? AND due_at < ? {self._scope('rung_node_id', node_ids)}",
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
