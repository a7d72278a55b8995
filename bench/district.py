"""A whole district's day through the fake server.

    python bench/district.py [--reports 2000] [--rate 50]

Imports a district (1 community, 20 compounds, 400 buildings, 800 grids, 20,000
residents, 400 bound chats), runs `linli run` as a real process and replays a day:
2,000 reports (half typed in the building groups, half in private); for each, the
building leader presses 受理, presses it again (a stale button), a neighbour forges the
leader's button, the leader presses 办结 and writes the note, and the reporter rates it:
10,000 button presses in all. Before them, 50 topic polls (residents propose, building
leaders poll in their groups, residents vote), 20 events published step by step and
answered in the groups, and 5 broadcasts to a compound each. Updates are sent at --rate
per second (a real day's peak hour is far calmer; --rate 0 sends as fast as the bot takes
them). Prints updates per second while they are handled (the residents' waits for the
bot's messages, which Telegram paces at 30 a second, left out) and over the whole day, the
handler time p50/p99 (logged by the bot at shutdown), peak RSS, the database size, and the
CPU the handling took: the bot's, the database server's and the bench's own.

Telegram's flood limits are off in the fake server: the bot, not the limits, sets the
pace (the notifier's sends still go through its own rate limiter, after handling).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from common import (
    FakeTelegram,
    RoundRobin,
    cpu_seconds,
    district_toml,
    free_port,
    linli_env,
    machine_cpu_seconds,
    peak_rss_mb,
    stop_process,
    wait_first_poll,
)

from tests.backend import query  # noqa: E402

COMPOUNDS, BUILDINGS, RESIDENTS = 20, 400, 20_000
POLLS, EVENTS, BROADCASTS = 50, 20, 5
PER_COMPOUND = BUILDINGS // COMPOUNDS


def building_of(resident: int) -> tuple[int, int]:
    """(compound, building) of a resident of `district_toml`."""
    grid = (resident - 1_000_000) % (BUILDINGS * 2)
    return divmod(grid // 2, PER_COMPOUND)


def leader_of(resident: int) -> int:
    c, b = building_of(resident)
    return 200_000 + c * 1000 + b


def chat_of(resident: int) -> int:
    c, b = building_of(resident)
    return -(1_000_000_000_000 + c * 1000 + b)


class Day:
    db: Path | psycopg.Connection[Any]

    def __init__(self, tg: FakeTelegram, db: Path | str, rate: float,
                 cpu: Callable[[], list[float]]) -> None:
        self.tg, self.updates, self.rate = tg, 0, rate
        # one connection for the residents' many looks (a new one each is a server process)
        self.db = db if isinstance(db, Path) else psycopg.connect(db, autocommit=True)
        self._next = time.perf_counter()
        self._cpu = cpu
        self.waited = 0.0  # seconds the residents waited for the bot's messages
        self.cpu_waited = [0.0] * len(cpu())  # and the CPU seconds spent meanwhile

    @contextlib.contextmanager
    def for_messages(self) -> Iterator[None]:
        """The residents wait for the bot's messages (the /start replies they press buttons
        under, a poll, the event posts). Telegram paces the bot's messages at 30 a second,
        however many instances send them: that time, and the CPU spent in it, is left out
        of the handling figures."""
        began, cpu = time.perf_counter(), self._cpu()
        try:
            yield
        finally:
            self.waited += time.perf_counter() - began
            self.cpu_waited = [spent + now - then for spent, now, then
                               in zip(self.cpu_waited, self._cpu(), cpu, strict=True)]

    async def pace(self) -> None:
        """Residents do not all press at once: updates arrive at `rate` per second."""
        if self.rate <= 0:
            return
        self._next = max(self._next + 1 / self.rate, time.perf_counter() - 1)
        if (pause := self._next - time.perf_counter()) > 0.002:
            await asyncio.sleep(pause)

    def close(self) -> None:
        if not isinstance(self.db, Path):
            self.db.close()

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        return query(self.db, sql, params)

    def count(self, sql: str) -> int:
        return int(self.query(sql)[0][0])  # type: ignore[call-overload]

    async def until(self, sql: str, expected: int, timeout: float = 600) -> None:
        began = time.perf_counter()
        while self.count(sql) < expected:
            if time.perf_counter() - began > timeout:
                raise TimeoutError(f"{sql}: {self.count(sql)} of {expected}")
            await asyncio.sleep(0.05)

    async def send(self, user: int, chat: int, text: str) -> None:
        await self.pace()
        self.tg.user_sends(user, chat, text)
        self.updates += 1

    async def vote(self, user: int, poll_id: str, options: list[int]) -> None:
        await self.pace()
        self.updates += len(self.tg.vote(user, poll_id, options))  # poll_answer and poll

    async def press(self, user: int, message_id: int, data: str) -> None:
        await self.pace()
        self.tg.press_button(user, user, message_id, data)
        self.updates += 1


def by_building(people: list[int]) -> dict[tuple[int, int], list[int]]:
    out: dict[tuple[int, int], list[int]] = {}
    for uid in people:
        out.setdefault(building_of(uid), []).append(uid)
    return out


def busiest(reporters: list[int], count: int) -> list[tuple[tuple[int, int], list[int]]]:
    """The `count` buildings with the most of these residents (three at least)."""
    ranked = sorted(by_building(reporters).items(), key=lambda b: (-len(b[1]), b[0]))
    return [b for b in ranked if len(b[1]) >= 3][:count]


async def polls(day: Day, reporters: list[int], count: int) -> int:
    """Residents propose topics; building leaders poll them in their groups; residents vote."""
    buildings = busiest(reporters, count)
    count = len(buildings)
    for (c, b), people in buildings:
        for uid in people[:3]:
            await day.send(uid, uid, f"/propose {c}区{b}号楼：楼下增设电动车充电桩")
    proposals = 3 * count
    await day.until("SELECT count(*) FROM proposals", proposals)
    rows = day.query("SELECT p.id, p.proposer_id FROM proposals p ORDER BY p.id")
    ids: dict[tuple[int, int], list[int]] = {}
    for number, proposer in rows:
        ids.setdefault(building_of(int(proposer)), []).append(int(number))  # type: ignore[arg-type]
    for (c, b), people in buildings:
        numbers = ",".join(map(str, ids[(c, b)]))
        await day.send(leader_of(people[0]), chat_of(people[0]), f"/topicpoll {numbers} 2h")
    with day.for_messages():
        await day.until("SELECT count(*) FROM topic_polls WHERE tg_poll_id IS NOT NULL", count)
    poll_of = {int(chat): str(poll) for chat, poll in  # type: ignore[call-overload]
               day.query("SELECT chat_id, tg_poll_id FROM topic_polls")}
    for (_, _), people in buildings:
        for uid in people:  # every resident of the building, and one changes their mind
            await day.vote(uid, poll_of[chat_of(uid)], [0, 2])
        await day.vote(people[0], poll_of[chat_of(people[0])], [1])
    return count


async def events(day: Day, reporters: list[int], count: int, last: dict[int, int]) -> int:
    """Building leaders publish events step by step; residents answer in their groups."""
    buildings = busiest(reporters, count)
    count = len(buildings)
    for (c, b), people in buildings:
        leader = leader_of(people[0])
        for text in ("/event", f"{c}区{b}号楼邻里百家宴", "各家带一道拿手菜", "2026-12-20 17:00",
                     "19:30", "楼下花园", f"c{c}-b{b}", "30"):
            await day.send(leader, leader, text)
        await day.press(leader, last[leader], "ev:rc:none")
        await day.press(leader, last[leader], "ev:ok")
    await day.until("SELECT count(*) FROM events", count)
    posts: dict[int, tuple[int, str]] = {}
    with day.for_messages():
        while not all(chat_of(people[0]) in posts for _, people in buildings):
            await asyncio.sleep(0.1)  # the announcements are on their way
            for m in day.tg.sent():
                markup = str(m.get("reply_markup") or "")
                if m["chat"]["id"] < 0 and "ev:r:" in markup:
                    posts[m["chat"]["id"]] = (m["message_id"],
                                              markup.split("ev:r:")[1].split(":")[0])
    for (_, _), people in buildings:
        for uid in people:
            message_id, event = posts[chat_of(uid)]
            await day.pace()
            day.tg.press_button(uid, chat_of(uid), message_id, f"ev:r:{event}:g")
            day.updates += 1
    return count


async def replay(day: Day, reporters: list[int], leaders: list[int],
                 rng: random.Random) -> tuple[int, int]:
    tg = day.tg
    last: dict[int, int] = {}  # a bot message in each private chat, for the buttons
    with day.for_messages():
        while not all(uid in last for uid in (*reporters, *leaders)):
            await asyncio.sleep(0.1)
            last = {m["chat"]["id"]: m["message_id"] for m in tg.sent() if m["chat"]["id"] > 0}
    polled = await polls(day, reporters, POLLS)
    announced = await events(day, reporters, EVENTS, last)
    for c in range(BROADCASTS):  # area chiefs tell their compound
        await day.send(100_000 + c, 100_000 + c, "/broadcast now 本周六上午停水，请提前储水。")
    for i, resident in enumerate(reporters):  # the day's reports, in groups and private
        chat = chat_of(resident) if i % 2 else resident
        await day.send(resident, chat, f"/report {i}号问题：楼道灯不亮，晚上走路看不清")
    total = len(reporters)
    await day.until("SELECT count(*) FROM reports", total)
    reports = day.query("SELECT id, reporter_id, version FROM reports ORDER BY id")
    for number, reporter, version in reports:  # the leaders acknowledge
        await day.press(leader_of(reporter), last[leader_of(reporter)],
                  f"r:ack:{number}:{version}")
    await day.until("SELECT count(*) FROM reports WHERE state = 'acknowledged'", total)
    for number, reporter, version in reports:  # a stale button, and a neighbour's forgery
        await day.press(leader_of(reporter), last[leader_of(reporter)], f"r:ack:{number}:{version}")
        forger = rng.choice(reporters)
        await day.press(forger, last[forger], f"r:ack:{number}:{version}")
    versions = dict(day.query("SELECT id, version FROM reports"))
    for number, reporter, _ in reports:  # resolved, each with its note
        leader = leader_of(reporter)
        await day.press(leader, last[leader], f"r:res:{number}:{versions[number]}")
        await day.send(leader, leader, f"#{number} 已更换灯泡")
    await day.until("SELECT count(*) FROM reports WHERE state = 'resolved'", total)
    for number, reporter, _ in reports:  # and rated
        await day.press(reporter, last[reporter], f"r:rate:{number}:s")
    await day.until("SELECT count(*) FROM reports WHERE state = 'closed'", total)
    await day.until("SELECT count(*) FROM updates WHERE status != 'new'",
                    day.count("SELECT count(*) FROM updates"))
    return polled, announced


@dataclass
class Cores:
    """Cores busy on average over the day: the whole machine, the bots, this process (the
    fake Telegram server, the proxy and the residents), and of how many."""

    machine: float
    bots: float
    bench: float
    count: int

    @property
    def rest(self) -> float:
        """The database server (PostgreSQL), and anything else running on the machine."""
        return max(0.0, self.machine - self.bots - self.bench)

    def __str__(self) -> str:
        return (f"CPU: {self.machine:.2f} of {self.count} cores busy on average: the bots "
                f"{self.bots:.2f}, the fake Telegram server, proxy and residents "
                f"{self.bench:.2f}, the rest (the database server) {self.rest:.2f}")


@dataclass
class DayFigures:
    updates: int
    seconds: float  # handling them (see Day.for_messages)
    waited: float  # waiting for the bot's messages, at Telegram's pace
    handled: list[tuple[int, float, float, float]]  # per instance: updates, p50, p99, max (ms)
    rss_mb: list[float]  # peak RSS per instance
    polled: int
    announced: int
    people: int
    database_mb: float | None  # SQLite only
    cores: Cores  # the CPU the day took, in cores busy on average

    @property
    def rate(self) -> float:
        """Updates handled per second (the waits for the bot's messages left out)."""
        return self.updates / self.seconds

    def __str__(self) -> str:
        return (f"{self.updates:,} updates in {self.seconds:.1f} s of handling:"
                f" {self.rate:.0f} updates/s (the residents also waited {self.waited:.1f} s"
                f" for the bot's messages, sent at Telegram's 30 a second:"
                f" {self.updates / (self.seconds + self.waited):.0f} updates/s over the day)")


async def run_day(tg: FakeTelegram, folder: Path, reports: int, rate: float,
                  database: str | None = None, instances: int = 0) -> DayFigures:
    """The district's day in ``folder``. ``database``: a PostgreSQL URL (else SQLite in
    the folder); ``instances``: that many `linli run` in webhook mode behind a round-robin
    proxy (0: one instance, long polling)."""
    rng = random.Random(7)
    (folder / "district.toml").write_text(district_toml(COMPOUNDS, BUILDINGS, RESIDENTS),
                                          encoding="utf-8")
    (folder / "cfg.toml").write_text('[quiet_hours]\nstart = "00:00"\nend = "00:00"\n')
    db: Path | str = database or folder / "linli.db"
    env = linli_env(tg, folder, LINLI_CONFIG=str(folder / "cfg.toml"), LINLI_DATABASE=str(db))
    subprocess.run([sys.executable, "-m", "bot", "org", "import",
                    str(folder / "district.toml")], env=env, check=True, capture_output=True)
    reporters = rng.sample(range(1_000_000, 1_000_000 + RESIDENTS), reports)
    leaders = sorted({leader_of(r) for r in reporters} | {100_000 + c for c in
                                                           range(BROADCASTS)})
    everyone = sorted({*reporters, *leaders})
    all_leaders = {200_000 + c * 1000 + b for c in range(COMPOUNDS)
                   for b in range(PER_COMPOUND)}
    for uid in sorted(set(everyone) | all_leaders):
        tg.add_user(uid, f"用户{uid}")
    members: dict[int, list[int]] = {}
    for r in reporters:
        members.setdefault(chat_of(r), []).append(r)
    for c in range(COMPOUNDS):
        for b in range(PER_COMPOUND):
            chat = -(1_000_000_000_000 + c * 1000 + b)
            tg.add_group(chat, f"楼群{chat}", members=[*members.get(chat, []),
                                                     200_000 + c * 1000 + b])
    since = len(tg.calls)
    proxy = None
    envs = [env]
    if instances:
        ports = [free_port() for _ in range(instances)]
        proxy = RoundRobin([f"http://127.0.0.1:{port}" for port in ports])
        await proxy.start()
        tg.webhook_target = proxy.url
        envs = [{**env, "LINLI_WEBHOOK_URL": "https://bot.example.org/linli-hook",
                 "LINLI_WEBHOOK_LISTEN": "127.0.0.1", "LINLI_WEBHOOK_PORT": str(port)}
                for port in ports]
    logs = [(folder / f"linli-{i}.log").open("w+") for i in range(len(envs))]
    procs = [subprocess.Popen([sys.executable, "-m", "bot", "run"], env=e,
                              stdout=subprocess.DEVNULL, stderr=log)
             for e, log in zip(envs, logs, strict=True)]
    try:
        if instances:
            await until_calls(tg, "setWebhook", since, instances)
        else:
            await wait_first_poll(tg, since)
        day = Day(tg, db, rate, lambda: _cpu(procs))
        began = time.perf_counter()
        cpu = _cpu(procs)
        try:
            for uid in everyone:  # everyone opens the private chat first
                await day.send(uid, uid, "/start")
            await day.until("SELECT count(*) FROM users WHERE started = 1", len(everyone))
            polled, announced = await replay(day, reporters, leaders, rng)
        finally:
            day.close()
        handling = time.perf_counter() - began - day.waited
        cpu = [(now - then - waited) / handling for now, then, waited
               in zip(_cpu(procs), cpu, day.cpu_waited, strict=True)]
        rss = [peak_rss_mb(proc.pid) for proc in procs]
        db_mb = (sum(p.stat().st_size for p in folder.glob("linli.db*")) / 2**20
                 if database is None else None)
    finally:  # never leave a bot behind
        for proc in procs:
            await asyncio.to_thread(stop_process, proc)
        if proxy is not None:
            await proxy.stop()
            tg.webhook_target = None
    handled = []
    for log in logs:
        log.seek(0)
        summary = re.search(r"handled (\d+) updates: handler time p50 ([\d.]+) ms, "
                            r"p99 ([\d.]+) ms, max ([\d.]+) ms", log.read())
        if summary:
            handled.append((int(summary[1]), float(summary[2]), float(summary[3]),
                            float(summary[4])))
    return DayFigures(day.updates, handling, day.waited, handled, rss, polled, announced,
                      len(everyone), db_mb, Cores(cpu[0], sum(cpu[2:]), cpu[1],
                                                  os.cpu_count() or 1))


def _cpu(procs: list[subprocess.Popen[bytes]]) -> list[float]:
    """CPU seconds so far: the whole machine, this process (the fake server, the proxy and
    the residents), then each bot."""
    return [machine_cpu_seconds(), time.process_time(), *(cpu_seconds(p.pid) for p in procs)]


async def until_calls(tg: FakeTelegram, method: str, since: int, count: int,
                      timeout: float = 60) -> None:
    """Until ``count`` calls of ``method`` came after call number ``since``."""
    began = time.perf_counter()
    while sum(c.method == method for c in tg.calls[since:]) < count:
        if time.perf_counter() - began > timeout:
            raise TimeoutError(f"fewer than {count} {method} calls")
        await asyncio.sleep(0.05)


async def main(reports: int, rate: float, keep: bool) -> None:
    tg = FakeTelegram()
    tg.overall_per_second = None
    tg.group_per_minute = None
    await tg.start()
    try:
        place = contextlib.nullcontext(tempfile.mkdtemp()) if keep \
            else tempfile.TemporaryDirectory()
        with place as name:
            if keep:
                print(f"keeping {name}")
            day = await run_day(tg, Path(name), reports, rate)
    finally:
        await tg.stop()
    print(f"district: {COMPOUNDS} compounds, {BUILDINGS} buildings, {RESIDENTS:,} residents, "
          f"{BUILDINGS} bound chats")
    print(f"day: {day.people:,} /start, {day.polled} topic polls (with proposals and votes), "
          f"{day.announced} events (published step by step, with RSVPs), {BROADCASTS} broadcasts, "
          f"{reports:,} reports, {5 * reports:,} report button presses, {reports:,} notes")
    print(f"{day} ({'sent as fast as taken' if rate <= 0 else f'sent at {rate:.0f}/s'})")
    for n, p50, p99, longest in day.handled:
        print(f"handler time over {n:,} updates: p50 {p50} ms, p99 {p99} ms (target < 100),"
              f" max {longest} ms")
    print(f"peak RSS {day.rss_mb[0]:.0f} MB (target < 300), database {day.database_mb:.1f} MB")
    print(day.cores)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=50,
                        help="updates sent per second (0: as fast as the bot takes them)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the folder with the database and the bot's log")
    ns = parser.parse_args()
    asyncio.run(main(ns.reports, ns.rate, ns.keep))
