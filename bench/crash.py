"""`linli run` killed with SIGKILL at many random points: prints what was lost or repeated.

    python bench/crash.py [--points 100] [--per-seed 5] [--first-seed 1000]

The machinery is tests/test_crash.py's (:func:`tests.test_crash.crash_run`), which CI
runs at 20 points: each seed starts a real `linli run` process against the fake
Telegram server, residents report (in groups and in private), leaders press 受理,
residents vote in a topic poll and the compound's leader broadcasts, while the process
is killed (SIGKILL) `--per-seed` times at random steps and restarted. After the last
process settled, the database and what Telegram received are checked. Prints, per seed
and in all: kill points, lost (reports, messages, votes, updates, deadlines,
broadcasts), duplicated, fired twice (a deadline acting twice) — all must be 0 — and,
separately, the sends cut on the wire: messages whose request a kill cut off mid-way
that arrived twice (Telegram has no idempotency key, so no bot can avoid these).

Quiet hours are off in the run's settings, so the figures do not depend on the time
of day. Exits 1 when anything was lost, duplicated or fired twice.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import tempfile
import time
from pathlib import Path

from common import FakeTelegram

from tests.test_crash import Outcome, crash_run

STEPS_PER_KILL = 10  # people's actions between two kills, on average


async def one_seed(seed: int, kills: int) -> Outcome:
    tg = FakeTelegram()
    await tg.start()
    try:
        with tempfile.TemporaryDirectory(prefix=f"linli-crash-{seed}-") as folder:
            return await crash_run(tg, Path(folder), seed, steps=max(45, kills * STEPS_PER_KILL),
                                   kills=kills)
    finally:
        await tg.stop()


async def main(points: int, per_seed: int, first_seed: int) -> int:
    seeds = math.ceil(points / per_seed)
    totals = {"kills": 0, "lost": 0, "duplicated": 0, "fired twice": 0, "other": 0,
              "cut on the wire": 0, "reports": 0, "broadcasts": 0}
    began = time.monotonic()
    for i in range(seeds):
        kills = min(per_seed, points - i * per_seed)
        outcome = await one_seed(first_seed + i, kills)
        print(outcome.summary, flush=True)
        for problem in outcome.problems():
            print(f"  ! {problem[:300]}", flush=True)
        totals["kills"] += outcome.kills
        totals["lost"] += len(outcome.lost)
        totals["duplicated"] += len(outcome.duplicated)
        totals["fired twice"] += len(outcome.fired_twice)
        totals["other"] += len(outcome.wrong) + (outcome.code != 0)
        totals["cut on the wire"] += outcome.cut_on_wire
        totals["reports"] += outcome.reports
        totals["broadcasts"] += outcome.broadcasts
    print(f"\n{seeds} seeds ({first_seed}..{first_seed + seeds - 1}), {totals['kills']} kill"
          f" points, {totals['reports']} reports, {totals['broadcasts']} broadcasts,"
          f" {time.monotonic() - began:.0f} s")
    print(f"lost: {totals['lost']}  duplicated: {totals['duplicated']}"
          f"  fired twice: {totals['fired twice']}  other inconsistencies: {totals['other']}")
    print(f"sends cut on the wire (arrived twice, counted apart): {totals['cut on the wire']}")
    bad = totals["lost"] + totals["duplicated"] + totals["fired twice"] + totals["other"]
    return 1 if bad or totals["kills"] != points else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=100, help="kill points in all")
    parser.add_argument("--per-seed", type=int, default=5, help="kill points per seed")
    parser.add_argument("--first-seed", type=int, default=1000)
    args = parser.parse_args()
    # the fake server is local: never reach it through a proxy the machine may set
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    sys.exit(asyncio.run(main(args.points, args.per_seed, args.first_seed)))
