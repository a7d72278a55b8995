"""Start-up time of `linli run` against the fake server, beside a bare PTB echo bot.

    python bench/startup.py [--runs 5]

Measures spawn → first getUpdates (the bot is ready), and that SIGTERM stops it cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import (
    ECHO_BOT,
    TOKEN,
    FakeTelegram,
    linli_env,
    start_process,
    stop_process,
    wait_first_poll,
)


async def measure(cmd: list[str], env: dict[str, str], tg: FakeTelegram) -> tuple[float, int]:
    since = len(tg.calls)
    began = time.perf_counter()
    proc = await start_process(cmd, env)
    await wait_first_poll(tg, since)
    elapsed = time.perf_counter() - began
    code = await asyncio.to_thread(stop_process, proc)
    return elapsed, code


async def main(runs: int) -> None:
    tg = FakeTelegram()
    await tg.start()
    try:
        linli_times, echo_times, codes = [], [], []
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as folder:
                env = linli_env(tg, Path(folder))
                t, code = await measure([sys.executable, "-m", "bot", "run"], env, tg)
                linli_times.append(t)
                codes.append(code)
            t, _ = await measure([sys.executable, "-c", ECHO_BOT, TOKEN, tg.base_url], env, tg)
            echo_times.append(t)
    finally:
        await tg.stop()
    linli, echo = statistics.median(linli_times), statistics.median(echo_times)
    print(f"runs: {runs}")
    print(f"linli run  start-up (spawn → first getUpdates): median {linli * 1000:.0f} ms")
    print(f"echo bot   start-up (same server, same run):    median {echo * 1000:.0f} ms")
    print(f"ratio linli / echo: {linli / echo:.2f}")
    print(f"exit codes after SIGTERM: {sorted(set(codes))} (0 = clean stop)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args().runs))
