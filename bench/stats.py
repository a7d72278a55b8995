"""The assessment (/stats) over a year of reports, beside a plain count(*) of the table.

    python bench/stats.py [--reports 100000]

A district (1 community, 20 compounds, 400 buildings, 800 grids) with N reports spread
over 2026, each with its event log (filed, acknowledged or a missed deadline and an
escalation, resolved, rated). Times, in the same run and on the same database:
a plain ``SELECT count(*) FROM reports``; /stats for the community (this month, as
/stats answers by default, and the whole year's December); a building leader's scope;
the chart and CSV. Target: /stats for the community under 300 ms. Prints the query plan
to show the reads go through indexes (no scan per leader).
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
from storage.stats import _FACTS, StatsRepo  # noqa: E402
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


async def main(total: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = Settings(database=folder / "bench.db")
        db = await open_database(settings.database)
        (folder / "org.toml").write_text(district_toml(residents=0), encoding="utf-8")
        await import_org(db, settings, folder / "org.toml")
        await db.close()
        began = time.perf_counter()
        fill(settings.database, total)
        print(f"generated {total:,} reports of 2026 with their events in "
              f"{time.perf_counter() - began:.1f} s")

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
        plan = await db.fetchall("EXPLAIN QUERY PLAN " + _FACTS.format(scope=""),
                                 (to_db(month.start), to_db(month.end)))
        await db.close()

    print(f"SELECT count(*) FROM reports ({n:,} rows):      {count_ms:8.1f} ms")
    print(f"/stats community, one month ({a.received:,} reports):   {stats_ms:8.1f} ms"  # type: ignore[attr-defined]
          f"   target < 300 ms: {'met' if stats_ms < 300 else 'MISSED'}")
    print(f"/stats one building, one month ({b.received:,} reports):   {building_ms:8.1f} ms")  # type: ignore[attr-defined]
    print(f"  + text, chart (PNG) and CSV:                 {render_ms:8.1f} ms")
    print(f"/stats community, whole year ({y.received:,} reports): {year_ms:8.1f} ms")  # type: ignore[attr-defined]
    print(f"  per-leader table: {len(a.leaders)} leaders, one grouped query")  # type: ignore[attr-defined]
    print("query plan of the per-report facts:")
    for row in plan:
        print("   ", row[3])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=100_000)
    ns = parser.parse_args()
    asyncio.run(main(ns.reports))
