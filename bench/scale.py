"""The district's day (bench/district.py) through 1 instance on SQLite, 1 on PostgreSQL and
3 on PostgreSQL, all in webhook mode behind a round-robin proxy, in one run.

    python bench/scale.py [--reports 2000] [--rate 0]

Prints, for each: updates/s while they are handled, each instance's handler p50/p99 and
peak RSS, the cores busy (the bots, the database server, the fake server with the proxy),
and the update rates' ratios against one instance on SQLite and on PostgreSQL (the goal:
3 instances at least twice one instance's rate, with p99 under 100 ms). The updates are
sent as fast as the bot takes them (--rate 0, as `district.py --rate 0`); Telegram's flood
limits are off in the fake server, so the bots, not the limits, set the pace. The time the
residents wait for the bot's messages is left out of the rates: Telegram paces a bot's
messages at 30 a second however many instances send them, so more instances buy handling,
not sending. PostgreSQL is a throwaway server started here (or LINLI_TEST_POSTGRES_URL).

More instances can only use the cores one instance leaves idle: the last line gives this
machine's ceiling, its cores over those busy while one instance on PostgreSQL handles the
day (its server and the fake Telegram server share the machine).
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
    print(f"{kind}: {day}")
    for i, (n, p50, p99, _) in enumerate(day.handled):
        print(f"  instance {i + 1}: {n:,} updates handled, handler p50 {p50} ms, p99 {p99} ms,"
              f" peak RSS {day.rss_mb[i]:.0f} MB")
    print(f"  {day.cores}")
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
    print(f"ceiling here: {single.cores.count} cores / {single.cores.machine:.2f} busy for one"
          f" instance on PostgreSQL = {single.cores.count / single.cores.machine:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=0,
                        help="updates sent per second (0: as fast as the bots take them)")
    ns = parser.parse_args()
    asyncio.run(main(ns.reports, ns.rate))
