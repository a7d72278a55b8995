"""The district's day (bench/district.py) through 1 instance on SQLite, 1 on PostgreSQL and
3 on PostgreSQL, all in webhook mode behind a round-robin proxy, in one run.

    python bench/scale.py [--reports 2000] [--rate 0]

Prints, for each: updates/s over the day, each instance's handler p50/p99 and peak RSS,
and the update rates' ratios against one instance on SQLite and on PostgreSQL (the goal:
3 instances at least twice one instance's rate, with p99 under 100 ms). The updates are
sent as fast as the bot takes them (--rate 0, as `district.py --rate 0`); Telegram's flood
limits are off in the fake server, so the bots, not the limits, set the pace. PostgreSQL
is a throwaway server started here (or LINLI_TEST_POSTGRES_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from common import FakeTelegram
from district import DayFigures, run_day

from tests.pgserver import PostgresServer


async def one(kind: str, reports: int, rate: float, server: PostgresServer | None,
              instances: int) -> DayFigures:
    tg = FakeTelegram()
    tg.overall_per_second = None
    tg.group_per_minute = None
    await tg.start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            url = await asyncio.to_thread(server.new_database) if server else None
            day = await run_day(tg, Path(folder), reports, rate, database=url,
                                instances=instances)
    finally:
        await tg.stop()
    print(f"{kind}: {day.updates:,} updates in {day.seconds:.1f} s: {day.rate:.0f} updates/s")
    for i, (n, p50, p99, _) in enumerate(day.handled):
        print(f"  instance {i + 1}: {n:,} updates handled, handler p50 {p50} ms, p99 {p99} ms,"
              f" peak RSS {day.rss_mb[i]:.0f} MB")
    return day


async def main(reports: int, rate: float) -> None:
    server = PostgresServer()
    await asyncio.to_thread(server.start)
    await asyncio.to_thread(server.prepare_template)
    try:
        sqlite = await one("1 instance, SQLite", reports, rate, None, 1)
        single = await one("1 instance, PostgreSQL", reports, rate, server, 1)
        three = await one("3 instances, PostgreSQL", reports, rate, server, 3)
    finally:
        await asyncio.to_thread(server.stop)
    worst = max(p99 for _, _, p99, _ in three.handled)
    goal = "met" if three.rate >= 2 * single.rate and worst < 100 else "not met"
    print(f"ratios: PostgreSQL/SQLite (1 instance) {single.rate / sqlite.rate:.2f};"
          f" 3 instances/1 on PostgreSQL {three.rate / single.rate:.2f},"
          f" on SQLite {three.rate / sqlite.rate:.2f}; worst p99 of the 3 {worst} ms"
          f" (goal: ≥ 2.00 with p99 < 100 ms: {goal})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=0,
                        help="updates sent per second (0: as fast as the bots take them)")
    ns = parser.parse_args()
    asyncio.run(main(ns.reports, ns.rate))
