"""Peak memory with a district imported: 1 community, 20 compounds, 400 buildings,
20,000 residents (and 800 grids, 420 leaders, 400 bound chats).

    python bench/memory.py

Prints the import's time and peak RSS, then the peak RSS of `linli run` serving
that district (after /org and a few /join), beside a bare PTB echo bot.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import (
    ECHO_BOT,
    ROOT,
    TOKEN,
    FakeTelegram,
    district_toml,
    linli_env,
    peak_rss_mb,
    start_process,
    stop_process,
    wait_first_poll,
)


def import_district(env: dict[str, str], path: Path) -> tuple[float, float]:
    began = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "bot", "org", "import", str(path)], env=env,
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - began
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"import failed: {proc.stderr.read().decode()}")
    return elapsed, usage.ru_maxrss / 1024


async def serve_peak(cmd: list[str], env: dict[str, str], tg: FakeTelegram,
                     exercise: bool) -> float:
    since = len(tg.calls)
    proc = await start_process(cmd, env)
    await wait_first_poll(tg, since)
    if exercise:
        tg.add_user(1, "管理员")
        tg.user_sends(1, 1, "/org")
        await tg.wait_for(lambda m: m["chat"]["id"] == 1 and "组织架构" in (m.get("text") or ""),
                          timeout=60)
        for uid in range(9001, 9011):
            tg.add_user(uid, f"居民{uid}")
            tg.user_sends(uid, uid, "/join")
        await tg.wait_for(lambda m: m["chat"]["id"] == 9010, timeout=30)
    peak = peak_rss_mb(proc.pid)
    await asyncio.to_thread(stop_process, proc)
    return peak


async def main() -> None:
    tg = FakeTelegram()
    await tg.start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "district.toml"
            path.write_text(district_toml(), encoding="utf-8")
            env = linli_env(tg, Path(folder))
            seconds, import_peak = import_district(env, path)
            db_mb = (Path(folder) / "linli.db").stat().st_size / 2**20
            linli = await serve_peak([sys.executable, "-m", "bot", "run"], env, tg, True)
            echo = await serve_peak([sys.executable, "-c", ECHO_BOT, TOKEN, tg.base_url], env, tg,
                                    False)
    finally:
        await tg.stop()
    print("district: 1 community, 20 compounds, 400 buildings, 800 grids, 20,000 residents")
    print(f"org import: {seconds:.2f} s, peak RSS {import_peak:.0f} MB, database {db_mb:.1f} MB")
    print(f"linli run serving it (/org + 10 /join): peak RSS {linli:.0f} MB")
    print(f"bare PTB echo bot (same run):            peak RSS {echo:.0f} MB")
    print(f"ratio linli / echo: {linli / echo:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
