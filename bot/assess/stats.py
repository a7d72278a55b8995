"""The assessment (考核评价): how a leader's scope was served in a period.

Computed from the report event log (storage/stats.py) in a few indexed queries:
reports received; 响应率 (acknowledged without missing an acknowledge deadline, of those
whose acknowledgement is decided); 解决率 (resolved or closed, of received); 满意率
(satisfied or acceptable, of those rated); 小事不出格率 (resolved at grid level, of
resolved); resolved within the community (resolved and never flagged 超期 at the top,
of received); reports that missed a deadline; median time to acknowledge and to
resolve; a per-leader table; care visits on time. Follow-ups and events are counted
once their tables exist.
"""

from __future__ import annotations

import csv
import io
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bot.core import timeparse
from bot.core.charts import figure, png_of
from bot.core.errors import NotAllowed
from bot.core.workcal import calendar_span
from config.settings import Settings
from storage.org import Node, OrgRepo
from storage.stats import CareFacts, ReportTotals, StatsRepo


@dataclass(frozen=True, slots=True)
class Period:
    label: str  # "2026-11", or "2026-11-19~2026-11-25"
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive


@dataclass(frozen=True, slots=True)
class LeaderLine:
    user_id: int
    name: str
    node: Node
    reached: int
    acknowledged: int
    resolved: int
    missed: int
    rated: int = 0  # ratings of the reports this leader resolved last
    satisfied: int = 0
    median_response: timedelta | None = None  # from reaching their rung to their 受理

    @property
    def on_time_rate(self) -> float | None:
        """响应率 of the leader's node: reports that reached it without a deadline missed."""
        return (self.reached - self.missed) / self.reached if self.reached else None

    @property
    def resolution_rate(self) -> float | None:
        return self.resolved / self.reached if self.reached else None

    @property
    def satisfaction_rate(self) -> float | None:
        return self.satisfied / self.rated if self.rated else None


@dataclass(slots=True)
class Assessment:
    scope: list[Node]
    period: Period
    received: int = 0
    responded_in_time: int = 0
    response_decided: int = 0
    resolved: int = 0
    rated: int = 0
    satisfied: int = 0
    resolved_at_grid: int = 0
    within_community: int = 0
    overdue: int = 0
    median_acknowledge: timedelta | None = None
    median_resolve: timedelta | None = None
    leaders: list[LeaderLine] = field(default_factory=list)
    care: CareFacts = field(default_factory=lambda: CareFacts(0, 0, 0, 0))
    follow_ups_done: int = 0
    follow_ups: int = 0
    attendance_going: int = 0
    attendance_events: int = 0
    call_backs: int = 0  # call-backs recorded for reports filed for residents (/report_for)
    unreachable: int = 0  # of them 联系不上: not rated, outside 满意率

    @staticmethod
    def rate(part: int, whole: int) -> float | None:
        return None if whole == 0 else part / whole

    @property
    def response_rate(self) -> float | None:
        return self.rate(self.responded_in_time, self.response_decided)

    @property
    def resolution_rate(self) -> float | None:
        return self.rate(self.resolved, self.received)

    @property
    def satisfaction_rate(self) -> float | None:
        return self.rate(self.satisfied, self.rated)

    @property
    def grid_rate(self) -> float | None:
        return self.rate(self.resolved_at_grid, self.resolved)

    @property
    def community_rate(self) -> float | None:
        return self.rate(self.within_community, self.received)

    @property
    def care_rate(self) -> float | None:
        return self.rate(self.care.on_time, self.care.on_time + self.care.late)

    @property
    def follow_up_rate(self) -> float | None:
        return self.rate(self.follow_ups_done, self.follow_ups)


def parse_period(settings: Settings, text: str | None, now: datetime) -> Period:
    """本月 (the default), 上月, 本周, 上周, 2026年11月, 11月, 2026-11, month, week (the last
    7 days): read by the one time grammar, labelled "2026-11" or "2026-11-19~2026-11-25"."""
    start, end = timeparse.parse_period(text or "本月", now, settings.tz)
    first, last = start.astimezone(settings.tz).date(), (end.astimezone(settings.tz)
                                                        - timedelta(days=1)).date()
    if first.day == 1 and last.month == first.month and (last + timedelta(days=1)).day == 1:
        return Period(f"{first.year:04d}-{first.month:02d}", start, end)
    return Period(f"{first.isoformat()}~{last.isoformat()}", start, end)


def month_period(settings: Settings, year: int, month: int) -> Period:
    tz = settings.tz
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return Period(f"{year:04d}-{month:02d}",
                  datetime.combine(first, datetime.min.time(), tzinfo=tz),
                  datetime.combine(following, datetime.min.time(), tzinfo=tz))


def _median(seconds: list[float]) -> timedelta | None:
    return timedelta(seconds=statistics.median(seconds)) if seconds else None


class StatsService:
    def __init__(self, settings: Settings, org: OrgRepo, repo: StatsRepo) -> None:
        self.settings, self.org, self.repo = settings, org, repo

    async def scope_of(self, user_id: int) -> list[Node]:
        """The nodes a leader leads (the highest of each chain); everything for admins."""
        led = await self.org.led_nodes(user_id)
        if not led:
            if self.settings.is_bootstrap_admin(user_id):
                return await self.org.children(None)
            raise NotAllowed("stats.leaders_only")
        ids = {n.id for n in led}
        tops = []
        for node in led:  # a node below another led node adds nothing
            if not any(a.id in ids for a in (await self.org.ancestors(node.id))[1:]):
                tops.append(node)
        return tops

    async def _nodes(self, scope: list[Node]) -> list[Node]:
        nodes: list[Node] = []
        for top in scope:
            nodes.extend(await self.org.subtree(top.id))
        return nodes

    async def _node_ids(self, scope: list[Node], nodes: list[Node] | None = None
                        ) -> list[int] | None:
        """The scope's nodes, or None when it is everything (no IN list to check)."""
        nodes = nodes if nodes is not None else await self._nodes(scope)
        everything = {n.id for n in nodes} == {n.id for n in await self.org.all_nodes()}
        return None if everything else sorted({n.id for n in nodes})

    async def compute(self, scope: list[Node], period: Period, now: datetime, *,
                      leaders: bool = True) -> Assessment:
        """Every figure of the period; ``leaders=False`` leaves out the per-leader table
        (the desk's overview shows none)."""
        nodes = await self._nodes(scope)
        node_ids = await self._node_ids(scope, nodes)
        result = Assessment(scope, period)
        await self._reports(result, period, node_ids)
        if leaders:
            await self._leaders(result, period, node_ids, nodes)
        grace = calendar_span(self.settings.services.care_overdue)
        result.care = await self.repo.care(period.start, period.end, node_ids,
                                           grace.total_seconds(), now)
        result.follow_ups_done, result.follow_ups = await self.repo.follow_ups(
            period.start, period.end, node_ids)
        result.attendance_going, result.attendance_events = await self.repo.attendance(
            period.start, period.end, node_ids)
        result.call_backs, result.unreachable = await self.repo.call_backs(
            period.start, period.end, node_ids)
        return result

    async def _reports(self, result: Assessment, period: Period,
                       node_ids: list[int] | None) -> None:
        (totals,) = await self.repo.report_totals([(period.start, period.end)], node_ids,
                                                  self.settings.level_keys[-1])
        _apply(result, totals)
        acks, resolves = await self.repo.durations(period.start, period.end, node_ids)
        result.median_acknowledge = _median(acks)
        result.median_resolve = _median(resolves)

    async def rates(self, scope: list[Node], periods: list[Period]) -> list[Assessment]:
        """Only the report counts and rates of each period (a trend): the same query as
        compute, without the medians, leaders, care and events."""
        node_ids = await self._node_ids(scope)
        totals = await self.repo.report_totals([(p.start, p.end) for p in periods], node_ids,
                                               self.settings.level_keys[-1])
        out = []
        for period, counts in zip(periods, totals, strict=True):
            result = Assessment(scope, period)
            _apply(result, counts)
            out.append(result)
        return out

    async def _leaders(self, result: Assessment, period: Period, node_ids: list[int] | None,
                       nodes: list[Node]) -> None:
        counts = await self.repo.per_leader(period.start, period.end, node_ids)
        waits = await self.repo.response_seconds(period.start, period.end, node_ids)
        by_id = {n.id: n for n in nodes}
        rank = {k: i for i, k in enumerate(self.settings.level_keys)}
        leaders = await self.org.leaders_in(list(by_id))
        leaders.sort(key=lambda ld: (rank.get(by_id[ld.node_id].level, 99),
                                     by_id[ld.node_id].key, ld.user_id))
        for ld in leaders:
            node = by_id[ld.node_id]
            result.leaders.append(LeaderLine(
                ld.user_id, ld.name or str(ld.user_id), node,
                counts["reached"].get(node.id, 0), counts["acknowledged"].get(ld.user_id, 0),
                counts["resolved"].get(ld.user_id, 0), counts["missed"].get(node.id, 0),
                counts["rated"].get(ld.user_id, 0), counts["satisfied"].get(ld.user_id, 0),
                _median(waits.get(ld.user_id, [])),
            ))


def _apply(result: Assessment, totals: ReportTotals) -> None:
    for name in ("received", "response_decided", "responded_in_time", "overdue", "rated",
                 "satisfied", "resolved", "resolved_at_grid", "within_community"):
        setattr(result, name, getattr(totals, name))


# -- rendering: CSV and chart ---------------------------------------------------------

def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def hours(value: timedelta | None) -> str:
    return "—" if value is None else f"{value.total_seconds() / 3600:.1f}h"


def figures(a: Assessment) -> list[tuple[str, str]]:
    """(key, shown value) in the order of the message, the chart and the CSV."""
    return [
        ("received", str(a.received)),
        ("response_rate", percent(a.response_rate)),
        ("resolution_rate", percent(a.resolution_rate)),
        ("satisfaction_rate", percent(a.satisfaction_rate)),
        ("grid_rate", percent(a.grid_rate)),
        ("community_rate", percent(a.community_rate)),
        ("overdue", str(a.overdue)),
        ("median_acknowledge", hours(a.median_acknowledge)),
        ("median_resolve", hours(a.median_resolve)),
        ("care_rate", percent(a.care_rate)),
        ("follow_up_rate", percent(a.follow_up_rate)),
        ("attendance", str(a.attendance_going)),
        ("callbacks", str(a.call_backs)),
        ("unreachable", str(a.unreachable)),
    ]


def to_csv(a: Assessment, labels: dict[str, str]) -> bytes:
    """Two parts: the figures (metric, value), then the per-leader table."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([labels["metric"], labels["value"]])
    for key, value in figures(a):
        writer.writerow([labels[key], value])
    writer.writerow([])
    writer.writerow([labels[k] for k in ("leader", "node", "reached", "acknowledged",
                                         "resolved", "missed")])
    for line in a.leaders:
        writer.writerow([line.name, line.node.name, line.reached, line.acknowledged,
                         line.resolved, line.missed])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel opens it as UTF-8


def period_name(period: Period, lang: str) -> str:
    """「2026年11月」 / "November 2026"; a week as its first and last day."""
    if "~" in period.label:
        first, last = (date.fromisoformat(d) for d in period.label.split("~"))
        if lang == "zh":
            return f"{first.month}月{first.day}日—{last.month}月{last.day}日"
        return f"{first:%d %b}–{last:%d %b %Y}"
    year, month = (int(x) for x in period.label.split("-"))
    return f"{year}年{month}月" if lang == "zh" else f"{date(year, month, 1):%B %Y}"


def chart_png(a: Assessment, labels: dict[str, str], title: str) -> bytes:
    """Rates as horizontal bars (0–100 %), labelled in the reader's language."""
    rates = [("response_rate", a.response_rate), ("resolution_rate", a.resolution_rate),
             ("satisfaction_rate", a.satisfaction_rate), ("grid_rate", a.grid_rate),
             ("community_rate", a.community_rate), ("care_rate", a.care_rate)]
    fig = figure(6.4, 3.6)
    ax = fig.subplots()
    names = [labels[k] for k, _ in rates][::-1]
    values = [(v or 0.0) * 100 for _, v in rates][::-1]
    bars = ax.barh(names, values, color="#c0392b")
    for bar, (_, v) in zip(bars, rates[::-1], strict=True):
        ax.text(min(bar.get_width() + 1, 90), bar.get_y() + bar.get_height() / 2,
                percent(v), va="center", fontsize=9)
    ax.set_xlim(0, 100)
    ax.xaxis.set_major_formatter(lambda x, _pos: f"{x:.0f}%")
    ax.set_title(title, fontsize=11)
    return png_of(fig)
