"""The assessment against a hand-computed fixture of reports with known timings."""

from __future__ import annotations

import csv
import io
import random
import struct
import warnings
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.assess.stats import StatsService, chart_png, month_period, parse_period, to_csv
from bot.core.charts import register_cjk_font
from bot.core.errors import BadInput, NotAllowed
from bot.core.i18n import CATALOG
from bot.org.orgfile import import_org
from config.settings import Settings
from storage.db import Database, open_database
from storage.org import OrgRepo
from storage.reports import ReportRepo
from storage.stats import StatsRepo
from storage.timeutil import to_db
from tests.backend import database_in
from tests.orgs import harmony, harmony_leaders, leader, node

GRID, BUILDING, COMPOUND, COMMUNITY, GRID4 = 1, 2, 3, 4, 5
ORG = (harmony(grid="g1") + node("b4", "4号楼", "building", "sunshine")
       + node("g4", "4号楼1单元", "grid", "b4")
       + harmony_leaders(GRID, BUILDING, COMPOUND, COMMUNITY, grid_key="g1")
       + leader("g4", GRID4, "周邻长"))
T0 = datetime(2026, 10, 5, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
NOW = datetime(2026, 10, 20, 0, 0, tzinfo=UTC)
H, M = timedelta(hours=1), timedelta(minutes=1)


class Fixture:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings
        self.org, self.reports = OrgRepo(db), ReportRepo(db)
        self.nodes: dict[str, int] = {}

    async def load(self, tmp: Path) -> None:
        (tmp / "org.toml").write_text(ORG, encoding="utf-8")
        await import_org(self.db, self.settings, tmp / "org.toml")
        for stored in await self.org.all_nodes():
            self.nodes[stored.key] = stored.id

    async def report(self, node: str, at: datetime,
                     steps: list[tuple[timedelta, int | None, str, str, str | None]],
                     state: str, rating: str | None = None) -> int:
        """Filed at ``at``; steps: (after, actor, action, node key, note)."""
        async with self.db.write() as tx:
            rid = (await self.reports.create(
                tx, reporter_id=900, node_id=self.nodes[node], category="other", text="x",
                photo_file_id=None, latitude=None, longitude=None, source_chat_id=None,
                rung_node_id=self.nodes[node], partner_id=None, now=at)).id
            await self.reports.log(tx, rid, at, 900, "filed", None, "open", self.nodes[node])
            for after, actor, action, key, note in steps:
                await self.reports.log(tx, rid, at + after, actor, action, None, None,
                                       self.nodes[key], note)
            await tx.execute("UPDATE reports SET state = ?, rating = ? WHERE id = ?",
                             (state, rating, rid))
        return rid

    async def care_visit(self, due: datetime, state: str, visited: datetime | None) -> None:
        async with self.db.write() as tx:
            entry = await tx.insert(
                "INSERT INTO care_entries(user_id, node_id, kind, cadence_s, next_due_at,"
                " created_by, created_at, updated_at) VALUES (?, ?, 'elderly_alone', 604800,"
                " ?, 1, ?, ?)", (800 + int(due.timestamp()) % 1000 + len(state), self.nodes["g1"],
                                 to_db(due), to_db(due), to_db(due)))
            await tx.execute(
                "INSERT INTO care_visits(entry_id, node_id, due_at, state, rung_node_id,"
                " visited_at) VALUES (?, ?, ?, ?, ?, ?)",
                (entry, self.nodes["g1"], to_db(due), state, self.nodes["g1"],
                 to_db(visited) if visited else None))


@pytest.fixture
async def fixture(tmp_path: Path) -> AsyncIterator[Fixture]:
    fx = await hand_computed(tmp_path)
    try:
        yield fx
    finally:
        await fx.db.close()


async def hand_computed(tmp_path: Path) -> Fixture:
    """Ten reports and four care visits whose figures are worked out by hand below."""
    settings = Settings(database=database_in(tmp_path / "stats"), admin_ids=[99])
    db = await open_database(settings.database)
    fx = Fixture(db, settings)
    await fx.load(tmp_path)
    ack, res, esc = "acknowledged", "resolved", "escalated"
    # R1: acknowledged in 1 h, resolved in the grid in 5 h, satisfied
    await fx.report("g1", T0, [(H, GRID, ack, "g1", None), (5 * H, GRID, res, "g1", "ok"),
                               (6 * H, 900, "rated", "g1", "satisfied")], "closed", "satisfied")
    # R2: missed the grid's acknowledge deadline; the building took it in 3 h, resolved in 10 h
    await fx.report("g1", T0, [(2 * H, None, esc, "b3", "missed:acknowledge"),
                               (3 * H, BUILDING, ack, "b3", None),
                               (10 * H, BUILDING, res, "b3", "ok")], "closed", "acceptable")
    # R3: acknowledged in 30 min, resolved in 2 h, not rated yet
    await fx.report("g1", T0, [(30 * M, GRID, ack, "g1", None), (2 * H, GRID, res, "g1", "ok")],
                    "resolved")
    # R4: acknowledged in 90 min, then missed the resolve deadline
    await fx.report("g1", T0, [(90 * M, GRID, ack, "g1", None),
                               (24 * H, None, esc, "b3", "missed:resolve")], "open")
    # R5: nobody acknowledged; up the whole chain, flagged overdue at the community
    await fx.report("g1", T0, [(2 * H, None, esc, "b3", "missed:acknowledge"),
                               (6 * H, None, esc, "sunshine", "missed:acknowledge"),
                               (14 * H, None, esc, "harmony", "missed:acknowledge"),
                               (38 * H, None, "overdue", "harmony", "missed:acknowledge")],
                    "open")
    # R6: just filed, its deadline not reached: not yet counted for the response rate
    await fx.report("g1", T0 + H, [], "open")
    # R7: acknowledged in 45 min, resolved in 4 h, unsatisfied: reopened
    await fx.report("g1", T0, [(45 * M, GRID, ack, "g1", None), (4 * H, GRID, res, "g1", "ok"),
                               (5 * H, 900, "rated", "g1", "unsatisfied"),
                               (5 * H, None, "reopened", "g1", None)], "reopened", "unsatisfied")
    # R8: 23:30 on 30 September in Shanghai: not October
    september = datetime(2026, 9, 30, 15, 30, tzinfo=UTC)
    await fx.report("g1", september, [(M, GRID, ack, "g1", None)], "acknowledged")
    # R9: 00:30 on 1 October in Shanghai: October; 70 min, 3 h, satisfied
    october = datetime(2026, 9, 30, 16, 30, tzinfo=UTC)
    await fx.report("g1", october, [(70 * M, GRID, ack, "g1", None),
                                    (3 * H, GRID, res, "g1", "ok")], "closed", "satisfied")
    # R10: the other building: 20 min, 90 min, satisfied
    await fx.report("g4", T0, [(20 * M, GRID4, ack, "g4", None),
                               (90 * M, GRID4, res, "g4", "ok")], "closed", "satisfied")
    # care visits (grace P1D): on time, late, overdue and still due, due an hour ago
    await fx.care_visit(T0, "done", T0 + 2 * H)
    await fx.care_visit(T0 + M, "done", T0 + 2 * timedelta(days=1))
    await fx.care_visit(T0 + 2 * M, "due", None)
    await fx.care_visit(NOW - H, "due", None)
    return fx


def _service(fx: Fixture) -> StatsService:
    return StatsService(fx.settings, fx.org, StatsRepo(fx.db))


async def test_community_figures_match_the_hand_computed_fixture(fixture: Fixture) -> None:
    service = _service(fixture)
    scope = await service.scope_of(COMMUNITY)
    assert [n.key for n in scope] == ["harmony"]
    a = await service.compute(scope, month_period(fixture.settings, 2026, 10), NOW)
    assert a.received == 9  # R8 is September's
    assert (a.responded_in_time, a.response_decided) == (6, 8)  # R2, R5 missed; R6 pending
    assert a.response_rate == 0.75
    assert a.resolved == 5 and a.resolution_rate == 5 / 9  # R1 R2 R3 R9 R10
    assert (a.satisfied, a.rated) == (4, 5) and a.satisfaction_rate == 0.8
    assert a.resolved_at_grid == 4 and a.grid_rate == 0.8  # R2 at the building
    assert a.within_community == 5 and a.community_rate == 5 / 9
    assert a.overdue == 3  # R2, R4, R5
    # acknowledge: 20 30 45 60 70 90 180 min; resolve: 1.5 2 3 5 10 h
    assert a.median_acknowledge == timedelta(minutes=60)
    assert a.median_resolve == timedelta(hours=3)
    lines = {ln.user_id: (ln.reached, ln.acknowledged, ln.resolved, ln.missed)
             for ln in a.leaders}
    assert lines == {GRID: (8, 5, 4, 3), BUILDING: (3, 1, 1, 1), COMPOUND: (1, 0, 0, 1),
                     COMMUNITY: (1, 0, 0, 1), GRID4: (1, 1, 1, 0)}
    assert [ln.user_id for ln in a.leaders][:2] == [COMMUNITY, COMPOUND]
    # ratings count for whoever resolved last (R1 satisfied, R7 unsatisfied: both the grid's);
    # response: from reaching the leader's rung to their 受理 (R2 reached the building at 2 h)
    by_user = {ln.user_id: ln for ln in a.leaders}
    assert (by_user[GRID].rated, by_user[GRID].satisfied) == (2, 1)
    assert by_user[GRID].satisfaction_rate == 0.5 and by_user[BUILDING].rated == 0
    assert by_user[GRID].median_response == timedelta(minutes=60)  # 30 45 60 70 90
    assert by_user[BUILDING].median_response == timedelta(hours=1)
    assert by_user[GRID].on_time_rate == 5 / 8 and by_user[GRID].resolution_rate == 4 / 8
    assert (a.care.due, a.care.on_time, a.care.late, a.care.pending) == (4, 1, 2, 1)
    assert a.care_rate == 1 / 3


async def test_kept_facts_equal_a_full_recomputation(fixture: Fixture) -> None:
    """The facts the triggers keep (migration 0020) are what the event log says, after the
    fixture and after 200 random histories: filed, acknowledged, escalated on a missed
    deadline, reassigned, resolved, rated, reopened, flagged at the top."""
    rng = random.Random(20261201)
    actions = [(GRID, "acknowledged", "g1", None), (None, "escalated", "b3", "missed:acknowledge"),
               (None, "escalated", "sunshine", "missed:resolve"), (BUILDING, "reassigned", "g1",
                                                                   None),
               (GRID, "resolved", "g1", "ok"), (900, "rated", "g1", "satisfied"),
               (900, "rated", "g1", "unsatisfied"), (None, "reopened", "g1", None),
               (None, "overdue", "harmony", "missed:acknowledge"),
               (BUILDING, "resolved", "b3", "ok"), (None, "recategorised", "b3", "repair"),
               (BUILDING, "escalated", "sunshine", "需要社区协调")]
    for _ in range(200):
        steps = [(timedelta(minutes=rng.randrange(1, 3000)), *rng.choice(actions))
                 for _ in range(rng.randrange(0, 6))]
        steps.sort(key=lambda step: step[0])
        await fixture.report(rng.choice(["g1", "g4"]), T0 + timedelta(hours=rng.randrange(500)),
                             steps, rng.choice(["open", "acknowledged", "resolved", "closed",
                                                "reopened"]),
                             rng.choice([None, "satisfied", "acceptable", "unsatisfied"]))
    for table in ("report_facts", "report_leader_facts"):
        kept = await fixture.db.fetchall(f"SELECT * FROM {table} ORDER BY 1, 2, 3")
        computed = await fixture.db.fetchall(f"SELECT * FROM {table}_computed ORDER BY 1, 2, 3")
        assert len(kept) > 200
        assert [tuple(r) for r in kept] == [tuple(r) for r in computed]


async def test_facts_are_kept_when_one_statement_logs_many_escalations(
        fixture: Fixture) -> None:
    """A batch of deadlines logs its escalations in one statement (migration 0027): the
    facts are still the log's, with several reports, two escalations of one report, a
    leader's 上报 in words of their own, and another kind of event among them."""
    rids = [await fixture.report("g1", T0 + timedelta(hours=i), [], "open") for i in range(6)]
    n, at = fixture.nodes, T0 + timedelta(days=2)
    async with fixture.db.write() as tx:
        await fixture.reports.log_all(tx, at, [
            (rids[0], None, "escalated", "open", "open", n["b3"], "missed:acknowledge", None),
            (rids[1], None, "escalated", "acknowledged", "open", n["b3"], "missed:resolve", None),
            (rids[2], BUILDING, "escalated", "open", "open", n["sunshine"], "需要社区协调", None),
            (rids[3], None, "escalated", "open", "open", n["b3"], "missed:acknowledge", None),
            (rids[3], None, "escalated", "open", "open", n["sunshine"], "missed:resolve", None),
            (rids[4], GRID, "acknowledged", "open", "acknowledged", n["g1"], None, None),
            (rids[5], None, "escalated", "open", "open", n["b3"], None, None)])
    for table in ("report_facts", "report_leader_facts"):
        kept = await fixture.db.fetchall(f"SELECT * FROM {table} ORDER BY 1, 2, 3")
        computed = await fixture.db.fetchall(f"SELECT * FROM {table}_computed ORDER BY 1, 2, 3")
        assert [tuple(r) for r in kept] == [tuple(r) for r in computed]
    flags = {r["report_id"]: (r["missed_acknowledge"], r["missed"]) for r in
             await fixture.db.fetchall("SELECT * FROM report_facts WHERE report_id IN"
                                       f" ({','.join(map(str, rids))})")}
    assert [flags[rid] for rid in rids] == [(1, 1), (0, 1), (0, 0), (1, 1), (0, 0), (0, 0)]
    missed = await fixture.db.fetchall(
        "SELECT report_id, key FROM report_leader_facts WHERE kind = 'missed'"
        f" AND report_id IN ({','.join(map(str, rids))}) ORDER BY event_id")
    assert [tuple(r) for r in missed] == [(rids[0], n["g1"]), (rids[1], n["g1"]),
                                          (rids[3], n["g1"]), (rids[3], n["b3"])]


async def test_building_scope_counts_only_its_subtree(fixture: Fixture) -> None:
    service = _service(fixture)
    a = await service.compute(await service.scope_of(BUILDING),
                              month_period(fixture.settings, 2026, 10), NOW)
    assert a.received == 8
    assert (a.responded_in_time, a.response_decided) == (5, 7)
    assert (a.resolved, a.satisfied, a.rated, a.resolved_at_grid) == (4, 3, 4, 3)
    assert a.overdue == 3
    # acknowledge: 30 45 60 70 90 180 min (even: the mean of the middle two); resolve 2 3 5 10 h
    assert a.median_acknowledge == timedelta(minutes=65)
    assert a.median_resolve == timedelta(hours=4)
    assert {ln.user_id for ln in a.leaders} == {GRID, BUILDING}


async def test_periods_and_refusals(fixture: Fixture) -> None:
    settings = fixture.settings
    october = parse_period(settings, "2026-10", NOW)
    assert october.start == datetime(2026, 9, 30, 16, 0, tzinfo=UTC)
    assert october.end == datetime(2026, 10, 31, 16, 0, tzinfo=UTC)
    assert parse_period(settings, None, NOW).label == "2026-10"
    week = parse_period(settings, "week", NOW)
    assert week.end - week.start == timedelta(days=7) and week.label == "2026-10-14~2026-10-20"
    december = parse_period(settings, "2026-12", NOW)
    assert december.end == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)
    for bad in ("2026-13", "yesterday", "2026-1", "1999-01"):
        with pytest.raises(BadInput):
            parse_period(settings, bad, NOW)
    with pytest.raises(NotAllowed):
        await _service(fixture).scope_of(900)  # a resident
    admin_scope = await _service(fixture).scope_of(99)
    assert [n.key for n in admin_scope] == ["harmony"]


async def test_chart_is_a_png_and_the_csv_opens(fixture: Fixture) -> None:
    service = _service(fixture)
    a = await service.compute(await service.scope_of(COMMUNITY),
                              month_period(fixture.settings, 2026, 10), NOW)
    labels = {k.removeprefix("stats.label."): v for k, v in CATALOG.messages["en"].items()
              if k.startswith("stats.label.")}
    png = chart_png(a, labels, "harmony 2026-10")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (768, 432)
    assert 5_000 < len(png) < 200_000
    rows = list(csv.reader(io.StringIO(to_csv(a, labels).decode("utf-8-sig"))))
    assert rows[0] == ["Metric", "Value"]
    assert ["Response rate", "75.0%"] in rows and ["Reports received", "9"] in rows
    assert ["Median time to resolve", "3.0h"] in rows
    header = rows.index(["Leader", "Area", "Reached", "Acknowledged", "Resolved", "Overdue"])
    assert rows[header + 1] == ["孙书记", "和谐社区", "1", "0", "0", "1"]


async def test_the_chart_draws_every_chinese_glyph(fixture: Fixture) -> None:
    """matplotlib warns of each glyph its font lacks; with the shipped font there are none."""
    service = _service(fixture)
    a = await service.compute(await service.scope_of(COMMUNITY),
                              month_period(fixture.settings, 2026, 10), NOW)
    labels = {k.removeprefix("stats.label."): v for k, v in CATALOG.messages["zh"].items()
              if k.startswith("stats.label.")}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = chart_png(a, labels, "和谐社区 2026年10月 考核评价")
    assert png.startswith(b"\x89PNG")
    assert [str(w.message) for w in caught if "missing from font" in str(w.message)] == []
    assert register_cjk_font() == "Noto Sans CJK SC"


async def test_follow_ups_and_attendance(fixture: Fixture) -> None:
    db, nodes = fixture.db, fixture.nodes
    service = _service(fixture)
    october = month_period(fixture.settings, 2026, 10)
    scope = await service.scope_of(COMMUNITY)
    a = await service.compute(scope, october, NOW)
    assert (a.follow_ups_done, a.follow_ups, a.attendance_going) == (0, 0, 0)
    assert a.follow_up_rate is None
    at = to_db(T0)
    async with db.write() as tx:
        await tx.execute("INSERT INTO meetings(id, node_id, chat_id, created_by, title, place,"
                         " starts_at, created_at) VALUES (1, ?, -1, 1, '恳谈会', '活动室', ?, ?)",
                         (nodes["b3"], at, at))
        for position, state in enumerate(("done", "done", "open"), start=1):
            await tx.execute("INSERT INTO decisions(meeting_id, position, text, owner_id,"
                             " rung_node_id, due_at, state, created_at)"
                             " VALUES (1, ?, '决定', 1, ?, ?, ?, ?)",
                             (position, nodes["b3"], at, state, at))
        await tx.execute("INSERT INTO decisions(meeting_id, position, text, owner_id,"
                         " rung_node_id, due_at, state, created_at)"
                         " VALUES (1, 4, '下月的决定', 1, ?, ?, 'open', ?)",
                         (nodes["b3"], to_db(NOW + 30 * timedelta(days=1)), at))  # November
        for event, state in ((1, "open"), (2, "cancelled")):
            await tx.execute("INSERT INTO events(id, creator_id, node_id, title, place,"
                             " starts_at, ends_at, state, created_at, updated_at)"
                             " VALUES (?, 1, ?, '活动', '广场', ?, ?, ?, ?, ?)",
                             (event, nodes["b3"], at, at, state, at, at))
        for seq, (event, user, answer) in enumerate(
                ((1, 1, "going"), (1, 2, "going"), (1, 3, "maybe"), (2, 1, "going"))):
            await tx.execute("INSERT INTO event_rsvps(event_id, user_id, answer, seq,"
                             " updated_at) VALUES (?, ?, ?, ?, ?)",
                             (event, user, answer, seq, at))
    a = await service.compute(scope, october, NOW)
    assert (a.follow_ups_done, a.follow_ups) == (2, 3) and a.follow_up_rate == 2 / 3
    assert (a.attendance_going, a.attendance_events) == (2, 1)
