"""Reports end to end through the fake server, beside a bare PTB echo bot; and deadlines.

    python bench/reports.py [--reports 400] [--deadlines 1000]   (--deadlines 0: throughput only)

1. Throughput: residents send /report TEXT, then leaders press 受理 on each report
   (2 updates per report); counted as processed when the database shows every report
   filed and acknowledged. The echo bot answers the same number of text messages.
   Flood limits are off in the fake server, so the bots, not Telegram, set the pace
   (Linli's own sends still go through its rate limiter, after processing).
2. Deadlines: 1,000 reports filed with a 30-second acknowledge deadline, due spread over
   the same minute (target: the last fires under 1 s late), then the burst: 1,000 due at the
   same moment (10 s after filing, which happens while the bot's clock stands still; target:
   all fired within 0.2 s of due on SQLite, issue 17). "fired" is the claim's time (the batch
   it is in); "seen committed" is when the bench saw all of them committed, polling. Prints
   how late the last one fired and that each fired once. Quiet hours
   are off and the bot's clock starts on a weekday morning: nothing depends on the time of day.

   --reports 0 skips the throughput; --spread 0 skips the spread case (the burst alone).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import (
    ECHO_BOT,
    TOKEN,
    FakeTelegram,
    handler_times,
    linli_env,
    start_process,
    stop_process,
    wait_first_poll,
)

GRIDS = 10
BURST_TARGET = 0.2  # seconds: the last of a burst due together fires this soon after due
BURST_TARGET_PG = 0.5  # seconds, on PostgreSQL


class PausableClock:
    """The harness's real-time clock that can stand still while the bench files a burst
    (every deadline armed then is due at the same instant), then runs on from there."""

    def __init__(self, start: datetime) -> None:
        self._offset = start - datetime.now(UTC)
        self._paused_at: datetime | None = None

    def now(self) -> datetime:
        return self._paused_at or datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> datetime:
        self._offset += delta
        return self.now()

    def pause(self) -> None:
        self._paused_at = self.now()

    def resume(self) -> None:
        assert self._paused_at is not None
        self._offset = self._paused_at - datetime.now(UTC)
        self._paused_at = None


def small_org(residents: int) -> str:
    out = ['[[nodes]]\nkey = "c"\nname = "社区"\nlevel = "community"\n',
           '[[leaders]]\nnode = "c"\nuser_id = 500\n',
           '[[nodes]]\nkey = "p"\nname = "小区"\nlevel = "compound"\nparent = "c"\n']
    for g in range(GRIDS):
        out.append(f'[[nodes]]\nkey = "b{g}"\nname = "{g}号楼"\nlevel = "building"\nparent = "p"\n')
        out.append(f'[[nodes]]\nkey = "b{g}-u1"\nname = "{g}号楼1单元"\nlevel = "grid"\n'
                   f'parent = "b{g}"\n')
        out.append(f'[[leaders]]\nnode = "b{g}-u1"\nuser_id = {600 + g}\n')
    for r in range(residents):
        out.append(f'[[residents]]\nuser_id = {10_000 + r}\nnode = "b{r % GRIDS}-u1"\n')
    return "\n".join(out)


def count(db: Path, sql: str) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        return conn.execute(sql).fetchone()[0]


async def until(check, timeout: float = 300,  # type: ignore[no-untyped-def]
                threaded: bool = False) -> float:
    """Poll ``check`` every 10 ms; ``threaded``: off the event loop (a bot in this process
    is measured, and a query's milliseconds would hold it up)."""
    began = time.perf_counter()
    while not (await asyncio.to_thread(check) if threaded else check()):
        if time.perf_counter() - began > timeout:
            raise TimeoutError("the bot did not finish in time")
        await asyncio.sleep(0.01)
    return time.perf_counter() - began


async def linli_rate(tg: FakeTelegram, folder: Path, reports: int) -> float:
    residents = reports // 2
    (folder / "org.toml").write_text(small_org(residents), encoding="utf-8")
    env = linli_env(tg, folder, LINLI_CONFIG=str(folder / "cfg.toml"))
    (folder / "cfg.toml").write_text('[quiet_hours]\nstart = "00:00"\nend = "00:00"\n')
    subprocess.run([sys.executable, "-m", "bot", "org", "import", str(folder / "org.toml")],
                   env=env, check=True, capture_output=True)
    people = [600 + g for g in range(GRIDS)] + [10_000 + r for r in range(residents)]
    for uid in people:
        tg.add_user(uid, f"用户{uid}")
    since = len(tg.calls)
    proc = await start_process([sys.executable, "-m", "bot", "run"], env, folder / "linli.log")
    await wait_first_poll(tg, since)
    for uid in people:  # every leader and resident has opened the private chat
        tg.user_sends(uid, uid, "/start")
    db = folder / "linli.db"
    await until(lambda: count(db, "SELECT count(*) FROM users WHERE started = 1") == len(people))
    await until(lambda: all(tg.sent(uid) for uid in people))
    last_bot_message = {uid: tg.sent(uid)[-1]["message_id"] for uid in people}
    began = time.perf_counter()
    for i in range(reports):
        uid = 10_000 + i % residents
        tg.user_sends(uid, uid, f"/report 楼道第{i}处需要打扫")
    await until(lambda: count(db, "SELECT count(*) FROM reports") == reports)
    filed = time.perf_counter() - began
    # numbers follow the order the bot filed them in, which concurrent handling may shuffle
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        filed_in = conn.execute("SELECT r.id, n.key FROM reports r"
                                " JOIN nodes n ON n.id = r.node_id ORDER BY r.id").fetchall()
    for number, grid in filed_in:
        leader = 600 + int(grid.split("-")[0][1:])  # "b3-u1" is the grid of leader 603
        tg.press_button(leader, leader, last_bot_message[leader], f"r:ack:{number}:1")
    await until(lambda: count(db, "SELECT count(*) FROM reports WHERE state = 'acknowledged'")
                == reports)
    elapsed = time.perf_counter() - began
    await asyncio.to_thread(stop_process, proc)
    print(f"linli: {reports} reports filed in {filed:.2f} s, acknowledged "
          f"{elapsed - filed:.2f} s later; handled {handler_times(folder / 'linli.log')}")
    return 2 * reports / elapsed


async def echo_rate(tg: FakeTelegram, updates: int) -> float:
    users = list(range(90_000, 90_000 + 200))
    for uid in users:
        tg.add_user(uid, f"echo{uid}")
    since = len(tg.calls)
    proc = await start_process([sys.executable, "-c", ECHO_BOT, TOKEN, tg.base_url], {})
    await wait_first_poll(tg, since)
    sent_before = len(tg.sent())
    began = time.perf_counter()
    for i in range(updates):
        uid = users[i % len(users)]
        tg.user_sends(uid, uid, f"回声 {i}")
    await until(lambda: len(tg.sent()) - sent_before >= updates)
    elapsed = time.perf_counter() - began
    await asyncio.to_thread(stop_process, proc)
    return updates / elapsed


async def deadline_lateness(tg: FakeTelegram, folder: Path, total: int, window: float,
                            database: Path | str | None = None) -> None:
    """File ``total`` reports over ``window`` seconds (0: all due at the same instant); each
    has a 30 s acknowledge deadline. ``database``: a PostgreSQL URL (else SQLite in folder)."""
    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    from bot.reports.reports import Draft
    from storage.timeutil import to_db
    from tests.backend import query
    from tests.harness import DAYTIME, BotHarness

    db = database or folder / "linli.db"
    # one connection for every poll (on PostgreSQL a new one is a new server process)
    polling = None
    if database is None:
        def poll(sql: str, params: tuple[object, ...] = ()) -> int:
            return int(query(db, sql, params)[0][0])
    else:
        import psycopg

        from storage.pg import pg_sql
        polling = psycopg.connect(database, autocommit=True)

        def poll(sql: str, params: tuple[object, ...] = ()) -> int:
            return int(polling.execute(pg_sql(sql), params).fetchone()[0])  # type: ignore[index]
    engine, target = ("PostgreSQL", BURST_TARGET_PG) if database else ("SQLite", BURST_TARGET)

    for uid in [500, 10_000, *(600 + g for g in range(GRIDS))]:
        tg.add_user(uid, f"用户{uid}")
        tg.user_sends(uid, uid, "你好")
    clock = PausableClock(DAYTIME)
    harness = BotHarness(tg, folder, clock=clock,  # type: ignore[arg-type]
                         database=db,
                         deadlines={"acknowledge": {"grid": 30 if window else 10}},
                         quiet_hours={"start": "00:00", "end": "00:00"})
    await harness.start()
    try:
        await harness.import_org(small_org(100))
        linli = harness.linli
        node = await linli.org_repo.node_by_key("b0-u1")
        began = time.perf_counter()
        if not window:
            clock.pause()
        for i in range(total):
            await linli.reports.file(10_000, node.id, Draft("other", f"第{i}件"), None)
            pause = began + window * (i + 1) / total - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
        if not window:
            # the burst as it comes in real life (deadlines of the night's reports falling
            # due together in the morning): their prompts went out long before. Here they
            # would still be going out at Telegram's 30 a second, through a fake server
            # that runs on the bot's own event loop and costs it what Telegram would not
            await until(lambda: poll("SELECT count(*) FROM outbox WHERE status IN"
                                     " ('pending', 'sending')") == 0, timeout=300, threaded=True)
            clock.resume()
        # those still to fire (the partial index of armed deadlines: polled every 10 ms, a
        # count of every deadline would itself take a share of the database's time)
        waiting = ("SELECT count(*) FROM deadlines WHERE state = 'armed' AND due_at <= ?")
        due = to_db(clock.now() + timedelta(seconds=10 if not window else window + 31))
        await until(lambda: poll(waiting, (due,)) == 0, timeout=120, threaded=True)
        seen_at = clock.now()  # every one fired and committed by now (polled every 10 ms)
        await asyncio.sleep(2)  # room for a double firing, were there one
        late = query(
            db, "SELECT max((julianday(fired_at) - julianday(due_at)) * 86400),"
            " (julianday(max(due_at)) - julianday(min(due_at))) * 86400, max(due_at)"
            " FROM deadlines WHERE kind = 'acknowledge' AND state = 'fired'")[0]
        escalations = query(db, "SELECT count(*), count(DISTINCT report_id) FROM report_events"
                                " WHERE action = 'escalated'")[0]
        once = escalations[0] == escalations[1] == total
        seen = (seen_at - datetime.fromisoformat(late[2])).total_seconds()
        if window:
            print(f"deadlines ({engine}): {total} due within {late[1]:.1f} s of each other:"
                  " the latest fired "
                  f"{late[0]:.3f} s after it was due; {escalations[0]} escalations of "
                  f"{escalations[1]} reports (each fired once: {once})")
            return
        verdict = "met" if late[0] <= target and seen <= target + 0.05 and once else "MISSED"
        print(f"burst: {total} deadlines due at the same moment (spread {late[1]:.3f} s),"
              f" {engine}:"
              f" the last fired {late[0]:.3f} s after due, all seen committed {seen:.3f} s after"
              f" due; each fired once: {once} ({escalations[0]} escalations of {escalations[1]}"
              f" reports); target ≤ {target} s: {verdict}")
    finally:
        await harness.stop()
        if polling is not None:
            polling.close()


async def main(reports: int, deadlines: int, spread: float, postgres: bool = True) -> None:
    tg = FakeTelegram()
    tg.overall_per_second = None
    tg.group_per_minute = None
    await tg.start()
    try:
        if reports:
            with tempfile.TemporaryDirectory() as folder:
                linli = await linli_rate(tg, Path(folder), reports)
            echo = await echo_rate(tg, 2 * reports)
            print(f"throughput: {reports} reports + {reports} acknowledgements through the fake"
                  " server")
            print(f"linli: {linli:.0f} updates/s   echo bot: {echo:.0f} updates/s   "
                  f"ratio {linli / echo:.2f} (target ≥ 0.5)")
        if not deadlines:
            return
        if spread:
            with tempfile.TemporaryDirectory() as folder:  # spread over one minute (the target)
                await deadline_lateness(tg, Path(folder), deadlines, window=spread)
        with tempfile.TemporaryDirectory() as folder:  # the worst case: all at once
            await deadline_lateness(tg, Path(folder), deadlines, window=0)
        if postgres:
            await burst_on_postgres(tg, deadlines)
    finally:
        await tg.stop()


async def burst_on_postgres(tg: FakeTelegram, deadlines: int) -> None:
    """The same burst on a throwaway PostgreSQL server (LINLI_TEST_POSTGRES_URL, or one
    started here with the machine's initdb/pg_ctl)."""
    from tests.pgserver import PostgresServer, PostgresUnavailable

    server = PostgresServer()
    try:
        await asyncio.to_thread(server.start)
        await asyncio.to_thread(server.prepare_template)
    except PostgresUnavailable as exc:
        print(f"burst on PostgreSQL not run: {exc}")
        return
    try:
        url = await asyncio.to_thread(server.new_database)
        with tempfile.TemporaryDirectory() as folder:
            await deadline_lateness(tg, Path(folder), deadlines, window=0, database=url)
    finally:
        await asyncio.to_thread(server.stop)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=400, help="0: no throughput run")
    parser.add_argument("--deadlines", type=int, default=1000, help="0: no deadline runs")
    parser.add_argument("--spread", type=float, default=55,
                        help="seconds the first deadline run is filed over; 0: the burst only")
    parser.add_argument("--no-postgres", action="store_true", help="the burst on SQLite only")
    ns = parser.parse_args()
    sys.setswitchinterval(0.0005)  # as `linli run` does: the bot in-process (the burst) runs so
    asyncio.run(main(ns.reports, ns.deadlines, ns.spread, not ns.no_postgres))
