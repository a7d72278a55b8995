"""`linli run` killed with SIGKILL at random points while residents and leaders act.

Each seed runs a real `linli run` process against the fake Telegram server and keeps
residents reporting (in groups and in private), leaders pressing 受理 (sometimes
twice: a replayed press) and residents voting in a topic poll (changing and retracting
votes), while the process is killed and restarted at random moments.
Afterwards, with the last process settled:

- every report a resident sent exists exactly once, with a consistent event log;
- every notification recorded in the outbox was delivered, and exactly once, except
  that the one message whose request was in flight at a kill may arrive twice (Telegram
  has no idempotency key: no bot can know whether a request cut off mid-way arrived);
- every deadline fired once (a report never climbs twice from the same level) and none
  that fell due was lost;
- every update was handled, and none twice (a replayed press acknowledges once);
- each voter's recorded vote is the last one they cast, counted only for residents of
  the poll's building.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.fakegram import FakeTelegram
from tests.harness import TOKEN

ROOT = Path(__file__).resolve().parent.parent
SEEDS = [11, 23, 37, 41, 59]
KILLS_PER_SEED = 4  # 20 kill points in all
GROUPS = {"b1": -100701, "b2": -100702}
GRIDS = {"b1-g": 1101, "b2-g": 1102}
BUILDINGS = {"b1": 1201, "b2": 1202}
COMPOUND, COMMUNITY = 1301, 1401
RESIDENTS = {4001: "b1-g", 4002: "b1-g", 4003: "b1-g", 4004: "b2-g", 4005: "b2-g", 4006: "b2-g"}

ORG = f"""
[[nodes]]
key = "c"
name = "和谐社区"
level = "community"

[[nodes]]
key = "p"
name = "阳光小区"
level = "compound"
parent = "c"

[[leaders]]
node = "c"
user_id = {COMMUNITY}
name = "孙书记"

[[leaders]]
node = "p"
user_id = {COMPOUND}
name = "赵片长"
""" + "".join(f"""
[[nodes]]
key = "{b}"
name = "{b}号楼"
level = "building"
parent = "p"
chat_id = {GROUPS[b]}

[[nodes]]
key = "{b}-g"
name = "{b}号楼1单元"
level = "grid"
parent = "{b}"

[[leaders]]
node = "{b}"
user_id = {BUILDINGS[b]}
name = "{b}楼长"

[[leaders]]
node = "{b}-g"
user_id = {GRIDS[b + '-g']}
name = "{b}邻长"
""" for b in GROUPS) + "".join(f"""
[[residents]]
user_id = {uid}
node = "{node}"
""" for uid, node in RESIDENTS.items())

CONFIG = """
[quiet_hours]
start = "00:00"
end = "00:00"

[deadlines.acknowledge]
grid = "PT3S"
building = "PT3S"
compound = "PT3S"
community = "PT3S"
"""


def _env(tg: FakeTelegram, folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env.update({"LINLI_BOT_TOKEN": TOKEN, "LINLI_API_BASE_URL": tg.base_url,
                "LINLI_API_BASE_FILE_URL": tg.base_file_url,
                "LINLI_DATABASE": str(folder / "linli.db"), "LINLI_ADMIN_IDS": "1",
                "LINLI_CONFIG": str(folder / "linli.toml")})
    return env


def _query(db: Path, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def _plain(text: str) -> str:
    """A message as the recipient sees it: the HTML markup gone."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))


class Run:
    """One seed: the process, the stream of actions, and what to check afterwards."""

    def __init__(self, tg: FakeTelegram, folder: Path, seed: int) -> None:
        self.tg, self.folder, self.rng = tg, folder, random.Random(seed)
        self.seed = seed
        self.db = folder / "linli.db"
        self.env = _env(tg, folder)
        self.proc: subprocess.Popen[bytes] | None = None
        self.texts: list[str] = []
        self.in_flight: Counter[tuple[int, str]] = Counter()  # (chat, text) cut off by a kill
        self.kills = 0
        self.poll_id: str | None = None
        self.votes: dict[int, list[int]] = {}  # each voter's last answer

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=self.env,
                                     cwd=ROOT, stdout=subprocess.DEVNULL,
                                     stderr=open(self.folder / "linli.log", "ab"))  # noqa: SIM115

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)
        self.kills += 1
        for row in _query(self.db, "SELECT chat_id, payload FROM outbox WHERE status = 'sending'"
                          " AND method = 'send_message'"):
            text = json.loads(row["payload"])["text"]
            self.in_flight[(row["chat_id"], _plain(text))] += 1

    async def stop(self) -> int:
        assert self.proc is not None
        self.proc.terminate()
        return await asyncio.to_thread(self.proc.wait, 30)

    # -- what people do ---------------------------------------------------------------

    def report(self, step: int) -> None:
        uid = self.rng.choice(list(RESIDENTS))
        text = f"第{self.seed}-{step}处楼道杂物需要清理"
        building = RESIDENTS[uid].removesuffix("-g")
        chat = GROUPS[building] if self.rng.random() < 0.5 else uid
        self.tg.user_sends(uid, chat, f"/report {text}")
        self.texts.append(text)

    def press(self) -> None:
        leader = self.rng.choice(list(GRIDS.values()) + list(BUILDINGS.values()))
        # inline buttons only: the welcome carries the private menu's reply keyboard
        prompts = [m for m in self.tg.sent(leader)
                   if (m.get("reply_markup") or {}).get("inline_keyboard")]
        if not prompts:
            return
        prompt = self.rng.choice(prompts)
        for row in prompt["reply_markup"]["inline_keyboard"]:
            for button in row:
                if button["text"] == "受理" and button.get("callback_data"):
                    self.tg.press_button(leader, leader, prompt["message_id"],
                                         button["callback_data"])
                    return

    async def open_poll(self) -> None:
        """Three residents of b1 propose topics; b1's building leader polls them."""
        for uid in (4001, 4002, 4003):
            self.tg.user_sends(uid, uid, f"/propose 第{uid}号议题：楼下增设充电桩")
        await self.tg.wait_for(lambda m: m["chat"]["id"] == 4003 and "#" in m.get("text", ""),
                               timeout=20)
        self.tg.user_sends(BUILDINGS["b1"], GROUPS["b1"], "/topicpoll 1,2,3 2h")
        poll = await self.tg.wait_for(lambda m: "poll" in m and m["chat"]["id"] == GROUPS["b1"],
                                      timeout=20)
        self.poll_id = poll["poll"]["id"]

    def vote(self) -> None:
        assert self.poll_id is not None
        uid = self.rng.choice(list(RESIDENTS))  # b2's residents vote too: not counted
        choice = sorted(self.rng.sample(range(3), self.rng.randint(0, 3)))
        self.tg.vote(uid, self.poll_id, choice)
        self.votes[uid] = choice

    async def stream(self, steps: int) -> None:
        kill_at = sorted(self.rng.sample(range(5, steps), KILLS_PER_SEED))
        for step in range(steps):
            roll = self.rng.random()
            if roll < 0.5:
                self.report(step)
            elif roll < 0.8:
                self.press()
            else:
                self.vote()
            await asyncio.sleep(self.rng.uniform(0.01, 0.12))
            if kill_at and step == kill_at[0]:
                kill_at.pop(0)
                self.kill()
                await asyncio.sleep(self.rng.uniform(0.0, 0.3))  # people go on meanwhile
                self.start()

    async def settle(self, timeout: float = 60) -> None:
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            await asyncio.sleep(0.25)
            busy = _query(self.db, "SELECT"
                          " (SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')"
                          "  AND not_before <= strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),"
                          " (SELECT count(*) FROM updates WHERE status = 'new'),"
                          " (SELECT count(*) FROM reports)")[0]
            if not busy[0] and not busy[1] and busy[2] == len(self.texts) \
                    and self.tg.pending_updates() == 0:
                return
        raise AssertionError(f"seed {self.seed}: not settled; log:\n"
                             + (self.folder / "linli.log").read_text()[-3000:])


@pytest.mark.parametrize("seed", SEEDS)
async def test_sigkill_at_random_points_loses_nothing_and_repeats_nothing(
        tg: FakeTelegram, tmp_path: Path, seed: int) -> None:
    (tmp_path / "org.toml").write_text(ORG, encoding="utf-8")
    (tmp_path / "linli.toml").write_text(CONFIG, encoding="utf-8")
    run = Run(tg, tmp_path, seed)
    await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "bot", "org", "import", str(tmp_path / "org.toml")],
        env=run.env, cwd=ROOT, check=True, capture_output=True)
    people = [*GRIDS.values(), *BUILDINGS.values(), COMPOUND, COMMUNITY, *RESIDENTS]
    for uid in people:
        tg.add_user(uid, f"用户{uid}")
    for building, chat in GROUPS.items():
        tg.add_group(chat, f"{building}号楼群", members=people)
    run.start()
    try:
        for uid in people:
            tg.user_sends(uid, uid, "/start")
        await run.open_poll()
        await run.stream(steps=45)
        await run.settle()
    finally:
        code = await run.stop()
    assert run.kills == KILLS_PER_SEED
    assert code == 0
    log = (tmp_path / "linli.log").read_text()
    summary = (f"seed {seed}: {len(run.texts)} reports;"
               f" {log.count('received before a crash')} start(s) replayed the inbox,"
               f" {log.count('handled before; skipped')} second deliveries skipped,"
               f" {log.count('interrupted by a crash')} start(s) re-sent the outbox")

    # every report exactly once, with a consistent event log
    reports = _query(run.db, "SELECT id, text, state, rung_node_id FROM reports")
    assert Counter(r["text"] for r in reports) == Counter(run.texts)
    for report in reports:
        events = _query(run.db, "SELECT action, actor_id, node_id, note FROM report_events"
                        " WHERE report_id = ? ORDER BY id", (report["id"],))
        actions = [e["action"] for e in events]
        assert actions[0] == "filed" and actions.count("filed") == 1, actions
        assert actions.count("acknowledged") <= 1, actions  # a replayed press acts once
        assert (report["state"] == "acknowledged") == ("acknowledged" in actions), actions
        climbs = [e["node_id"] for e in events if e["note"] == "missed:acknowledge"
                  and e["action"] == "escalated"]
        assert len(climbs) == len(set(climbs)), f"a deadline fired twice: {actions}"
        assert events[-1]["node_id"] in (None, report["rung_node_id"]) or \
            events[-1]["action"] == "overdue"
    # no deadline that fell due was lost (3 s of slack for the alarm)
    late = _query(run.db, "SELECT count(*) FROM deadlines WHERE state = 'armed'"
                  " AND due_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-3 seconds')")[0][0]
    assert late == 0

    # every notification delivered, and once (twice only if a kill cut its request off)
    rows = _query(run.db, "SELECT chat_id, method, status, payload FROM outbox")
    assert {r["status"] for r in rows} <= {"sent"}, Counter(r["status"] for r in rows)
    wanted = Counter((r["chat_id"], _plain(json.loads(r["payload"])["text"]))
                     for r in rows if r["method"] == "send_message")
    delivered = Counter((m["chat"]["id"], m.get("text", "")) for m in tg.sent())
    twice = 0
    for key, times in wanted.items():
        assert delivered[key] >= times, f"never delivered: {key}"
        assert delivered[key] <= times + run.in_flight[key], f"delivered twice: {key}"
        twice += delivered[key] - times
    print(f"{summary}; {twice} message(s) cut off mid-request by a kill arrived twice")

    # each vote as last cast; only b1's residents count
    recorded = {r["user_id"]: (json.loads(r["option_ids"]), r["counted"])
                for r in _query(run.db, "SELECT user_id, option_ids, counted FROM"
                                " topic_poll_votes")}
    assert run.votes, "nobody voted"
    for uid, choice in run.votes.items():
        assert uid in recorded, f"the vote of {uid} was lost"
        assert sorted(recorded[uid][0]) == choice, (uid, recorded[uid], choice)
        if choice:
            assert bool(recorded[uid][1]) == (RESIDENTS[uid] == "b1-g"), (uid, recorded[uid])
    assert _query(run.db, "SELECT count(*) FROM topic_polls WHERE state = 'open'")[0][0] == 1

    # every update handled, none twice
    assert _query(run.db, "SELECT count(*) FROM updates WHERE status != 'done'")[0][0] == 0
