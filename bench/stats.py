"""The assessment (/stats) over a year of reports, beside a plain count(*) of the table.

    python bench/stats.py [--reports 100000]

A district (1 community, 20 compounds, 400 buildings, 800 grids) with N reports spread
over 2026, each with its event log (filed, acknowledged or a missed deadline and an
escalation, resolved, rated). Times, in the same run and on the same database, each beside
a plain ``SELECT count(*) FROM reports`` (the ratio): the community's month (target under
100 ms), the desk's overview page over HTTP (under 200 ms), its 12-month trend (under
300 ms), a building leader's month, the chart and CSV, the whole year. The figures read
the facts the triggers of migration 0020 keep; the query plan shows the index they use.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import ROOT, district_toml

sys.path.insert(0, str(ROOT))

from bot.assess.monthly import deliveries, render_text  # noqa: E402
from bot.assess.stats import StatsService, month_period  # noqa: E402
from bot.org.orgfile import import_org  # noqa: E402
from config.settings import Settings  # noqa: E402
from storage.db import open_database  # noqa: E402
from storage.org import OrgRepo  # noqa: E402
from storage.stats import _TOTALS, StatsRepo  # noqa: E402
from storage.timeutil import to_db  # noqa: E402

YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)


def fill(path: Path, total: int) -> None:
    """Reports and events written straight with sqlite3 (the bot's schema, fast)."""
    rng = random.Random(7)
    conn = sqlite3.connect(path)
    grids = [r[0] for r in conn.execute("SELECT id FROM nodes WHERE level = 'grid'")]
    parent = dict(conn.execute("SELECT id, parent_id FROM nodes"))
    leader = dict(conn.execute("SELECT node_id, user_id FROM leaders"))
    reports, events = [], []
    for rid in range(1, total + 1):
        grid = rng.choice(grids)
        building = parent[grid]
        created = YEAR_START + timedelta(seconds=rng.randrange(365 * 86400))
        at = created
        state, rating, node = "open", None, grid
        evs = [(rid, to_db(at), 1_000_000 + rid, "filed", None, "open", grid, None)]
        if rng.random() < 0.15:  # the grid missed its acknowledge deadline
            at += timedelta(hours=2)
            node = building
            evs.append((rid, to_db(at), None, "escalated", "open", "open", node,
                        "missed:acknowledge"))
        if rng.random() < 0.9:
            at += timedelta(minutes=rng.randrange(5, 120))
            actor = leader.get(node)
            evs.append((rid, to_db(at), actor, "acknowledged", "open", "acknowledged", node,
                        None))
            state = "acknowledged"
            if rng.random() < 0.85:
                at += timedelta(hours=rng.randrange(1, 30))
                evs.append((rid, to_db(at), actor, "resolved", "acknowledged", "resolved", node,
                            "ok"))
                state = "resolved"
                if rng.random() < 0.7:
                    rating = rng.choice(("satisfied", "satisfied", "acceptable", "unsatisfied"))
                    state = "closed" if rating != "unsatisfied" else "reopened"
                    at += timedelta(hours=3)
                    evs.append((rid, to_db(at), 1_000_000 + rid, "rated", "resolved", state,
                                node, rating))
        reports.append((rid, 1_000_000 + rid, grid, "other", "x", state, node, rating,
                        to_db(created), to_db(created), to_db(at)))
        events.extend(evs)
    conn.executemany(
        "INSERT INTO reports(id, reporter_id, node_id, category, text, state, rung_node_id,"
        " rating, created_at, rung_since, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)", reports)
    conn.executemany(
        "INSERT INTO report_events(report_id, at, actor_id, action, from_state, to_state,"
        " node_id, note) VALUES (?,?,?,?,?,?,?,?)", events)
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


async def timed(fn, runs: int = 5) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    """Median wall time in ms over ``runs`` (after one warm-up run)."""
    result = await fn()
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        result = await fn()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), result


async def http_timings(settings: Settings, month: str) -> tuple[float, float, int]:
    """The desk served from this database: (overview ms, trend ms, page bytes)."""
    import aiohttp

    from bot.core.clock import ShiftedClock
    from bot.services import Linli
    from web.server import Dashboard

    clock = ShiftedClock(datetime(2026, 12, 31, 12, tzinfo=UTC))
    linli = await Linli.open(settings, clock)
    desk = Dashboard(linli, bot=None)
    base = await desk.start()
    link = await desk.login_link_for(settings.admin_ids[0])
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(link) as signed_in:
                assert signed_in.status == 200

            async def page(path: str) -> bytes:
                async with http.get(base + path) as answer:
                    assert answer.status == 200, answer.status
                    return await answer.read()

            overview_ms, body = await timed(lambda: page(f"/?period={month}"))
            trend_ms, _ = await timed(lambda: page(f"/trend.png?month={month}"))
    finally:
        await desk.stop()
        await linli.close()
    return overview_ms, trend_ms, len(body)  # type: ignore[arg-type]


async def main(total: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = Settings(database=folder / "bench.db", bot_token="1:bench",
                            admin_ids=[1], web={"port": 0})
        db = await open_database(settings.database)
        (folder / "org.toml").write_text(district_toml(residents=0), encoding="utf-8")
        await import_org(db, settings, folder / "org.toml")
        await db.close()
        began = time.perf_counter()
        fill(settings.database, total)
        print(f"generated {total:,} reports of 2026 with their events in "
              f"{time.perf_counter() - began:.1f} s (the triggers keeping the facts included)")

        db = await open_database(settings.database)
        org = OrgRepo(db)
        service = StatsService(settings, org, StatsRepo(db))
        community = await org.children(None)
        building = await org.node_by_key("c3-b7")
        assert building is not None
        now = datetime(2026, 12, 31, 12, tzinfo=UTC)
        month = month_period(settings, 2026, 12)

        count_ms, n = await timed(lambda: db.fetchval("SELECT count(*) FROM reports"))
        stats_ms, a = await timed(lambda: service.compute(community, month, now))
        building_ms, b = await timed(lambda: service.compute([building], month, now))

        async def render() -> object:
            return deliveries(a, 1, "zh", render_text(a, "zh"))  # type: ignore[arg-type]

        render_ms, _ = await timed(render)
        year = month_period(settings, 2026, 1)
        year = type(year)("2026", year.start, month.end)
        year_ms, y = await timed(lambda: service.compute(community, year, now), runs=3)
        months = [month_period(settings, 2026, m) for m in range(1, 13)]
        rates_ms, _ = await timed(lambda: service.rates(community, months))
        plan = await db.fetchall("EXPLAIN QUERY PLAN " + _TOTALS.format(scope=""),
                                 ("grid", to_db(month.start), to_db(month.end)))
        await db.close()
        overview_ms, trend_ms, size = await http_timings(settings, "2026-12")

    base = max(count_ms, 0.01)

    def line(label: str, ms: float, target: float | None = None) -> None:
        verdict = "" if target is None else (
            f"   target < {target:.0f} ms: {'met' if ms < target else 'MISSED'}")
        print(f"{label:<52}{ms:8.1f} ms  {ms / base:8.0f}x count(*){verdict}")

    print(f"SELECT count(*) FROM reports ({n:,} rows):{'':14}{count_ms:8.1f} ms")
    line(f"/stats community, one month ({a.received:,} reports)", stats_ms, 100)  # type: ignore[attr-defined]
    line(f"desk overview page, HTTP ({size:,} bytes)", overview_ms, 200)
    line("desk 12-month trend (figures only)", rates_ms)
    line("desk 12-month trend chart, HTTP (PNG)", trend_ms, 300)
    line(f"/stats one building, one month ({b.received:,} reports)", building_ms)  # type: ignore[attr-defined]
    line("  + text, chart (PNG) and CSV", render_ms)
    line(f"/stats community, whole year ({y.received:,} reports)", year_ms)  # type: ignore[attr-defined]
    print(f"  per-leader table: {len(a.leaders)} leaders, one grouped query")  # type: ignore[attr-defined]
    print("query plan of the report totals:")
    for row in plan:
        print("   ", row[3])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=100_000)
    ns = parser.parse_args()
    asyncio.run(main(ns.reports))
