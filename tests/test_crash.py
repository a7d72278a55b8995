"""`linli run` killed with SIGKILL at random points while residents and leaders act.

Each seed runs a real `linli run` process against the fake Telegram server and keeps
residents reporting (in groups and in private), leaders pressing 受理 (sometimes
twice: a replayed press), residents voting in a topic poll (changing and retracting
votes) and the compound's leader broadcasting to both buildings' groups, while the
process is killed and restarted at random moments.
Afterwards, with the last process settled:

- every report a resident sent exists exactly once, with a consistent event log;
- every notification recorded in the outbox was delivered, and exactly once, except
  that the one message whose request was in flight at a kill may arrive twice (Telegram
  has no idempotency key: no bot can know whether a request cut off mid-way arrived);
- every deadline fired once (a report never climbs twice from the same level) and none
  that fell due was lost;
- every update was handled, and none twice (a replayed press acknowledges once);
- each voter's recorded vote is the last one they cast, counted only for residents of
  the poll's building;
- every broadcast exists once and reached each group.

This is the fast version CI runs (20 kill points); ``bench/crash.py --points 100`` runs
the same machinery (:func:`crash_run`) at more points and prints the figures.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import random
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sandbox.fakegram import FakeTelegram
from storage.timeutil import to_db
from tests.backend import database_in, query
from tests.harness import TOKEN

ROOT = Path(__file__).resolve().parent.parent
SEEDS = [11, 23, 37, 41, 59]
KILLS_PER_SEED = 4  # 20 kill points in all
GROUPS = {"b1": -100701, "b2": -100702}
GRIDS = {"b1-g": 1101, "b2-g": 1102}
BUILDINGS = {"b1": 1201, "b2": 1202}
COMPOUND, COMMUNITY = 1301, 1401
RESIDENTS = {4001: "b1-g", 4002: "b1-g", 4003: "b1-g", 4004: "b2-g", 4005: "b2-g", 4006: "b2-g"}
# what settle() waits for when it falls due this soon (an instant as the database writes it)
SOON = timedelta(seconds=30)

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
                "LINLI_DATABASE": str(database_in(folder)), "LINLI_ADMIN_IDS": "1",
                "LINLI_CONFIG": str(folder / "linli.toml")})
    return env


def _query(db: Path | str, sql: str, params: tuple[object, ...] = ()) -> list[Any]:
    return query(db, sql, params)


def _plain(text: str) -> str:
    """A message as the recipient sees it: the HTML markup gone."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))


class Run:
    """One seed: the process, the stream of actions, and what to check afterwards."""

    def __init__(self, tg: FakeTelegram, folder: Path, seed: int) -> None:
        self.tg, self.folder, self.rng = tg, folder, random.Random(seed)
        self.seed = seed
        self.db = database_in(folder)
        self.env = _env(tg, folder)
        self.proc: subprocess.Popen[bytes] | None = None
        self.texts: list[str] = []
        self.in_flight: Counter[tuple[int, str]] = Counter()  # (chat, text) cut off by a kill
        self.kills = 0
        self.poll_id: str | None = None
        self.votes: dict[int, list[int]] = {}  # each voter's last answer
        self.broadcasts: list[str] = []

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

    def broadcast(self, step: int) -> None:
        text = f"第{self.seed}-{step}次通知：明天上午九点到十一点停水"
        self.tg.user_sends(COMPOUND, COMPOUND, f"/broadcast now {text}")
        self.broadcasts.append(text)

    async def stream(self, steps: int, kills: int = KILLS_PER_SEED) -> None:
        kill_at = sorted(self.rng.sample(range(5, steps), kills))
        broadcast_at = self.rng.randrange(5, steps)  # one at least
        for step in range(steps):
            roll = 1.0 if step == broadcast_at else self.rng.random()
            if roll < 0.48:
                self.report(step)
            elif roll < 0.76:
                self.press()
            elif roll < 0.96:
                self.vote()
            else:
                self.broadcast(step)
            await asyncio.sleep(self.rng.uniform(0.01, 0.12))
            if kill_at and step == kill_at[0]:
                kill_at.pop(0)
                self.kill()
                await asyncio.sleep(self.rng.uniform(0.0, 0.3))  # people go on meanwhile
                self.start()

    async def settle(self, timeout: float = 60) -> None:
        """Until the last process is at rest: every update handled, every report filed,
        and nothing due now or soon (SOON), neither a message (one a retry's backoff put
        back, say) nor a deadline. The deadlines count as much as the messages: a rung has
        3 s here, so the outbox runs empty between one wave of escalations and the next;
        stopped then, the process is caught by the next wave, whose messages are queued
        (rightly, for the next start) but never sent, and the checks find them undelivered.
        Waiting out the deadlines due soon lets each report climb to the top first."""
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            await asyncio.sleep(0.25)
            soon = to_db(datetime.now(UTC) + SOON)
            busy = _query(self.db, "SELECT"
                          " (SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')"
                          "  AND not_before <= ?),"
                          " (SELECT count(*) FROM deadlines WHERE state = 'armed'"
                          "  AND coalesce(retry_at, due_at) <= ?),"
                          " (SELECT count(*) FROM updates WHERE status = 'new'),"
                          " (SELECT count(*) FROM reports)", (soon, soon))[0]
            if not busy[0] and not busy[1] and not busy[2] and busy[3] == len(self.texts) \
                    and self.tg.pending_updates() == 0:
                return
        raise AssertionError(f"seed {self.seed}: not settled; log:\n"
                             + (self.folder / "linli.log").read_text()[-3000:])


@dataclass
class Outcome:
    """What one seed's run found: each list holds what went wrong, one line per finding."""

    seed: int
    kills: int = 0
    code: int | None = None
    reports: int = 0
    broadcasts: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    fired_twice: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)  # anything else inconsistent
    cut_on_wire: int = 0  # messages whose request a kill cut off, that arrived twice
    summary: str = ""

    def problems(self) -> list[str]:
        return self.lost + self.duplicated + self.fired_twice + self.wrong


async def neighbourhood(tg: FakeTelegram, run: Run) -> list[int]:
    """The org file and settings in the run's folder, imported; the people and the two
    buildings' groups on the fake server. Everyone's id."""
    (run.folder / "org.toml").write_text(ORG, encoding="utf-8")
    (run.folder / "linli.toml").write_text(CONFIG, encoding="utf-8")
    await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "bot", "org", "import",
                         str(run.folder / "org.toml")],
        env=run.env, cwd=ROOT, check=True, capture_output=True)
    people = [*GRIDS.values(), *BUILDINGS.values(), COMPOUND, COMMUNITY, *RESIDENTS]
    for uid in people:
        tg.add_user(uid, f"用户{uid}")
    for building, chat in GROUPS.items():
        tg.add_group(chat, f"{building}号楼群", members=people)
    return people


async def crash_run(tg: FakeTelegram, folder: Path, seed: int, steps: int = 45,
                    kills: int = KILLS_PER_SEED) -> Outcome:
    """One seed: set up the neighbourhood, act while killing `linli run` `kills` times,
    let the last process settle, stop it, and check what the database and Telegram hold."""
    run = Run(tg, folder, seed)
    outcome = Outcome(seed)
    people = await neighbourhood(tg, run)
    run.start()
    try:
        for uid in people:
            tg.user_sends(uid, uid, "/start")
        await run.open_poll()
        await run.stream(steps, kills)
        await run.settle()
    except AssertionError as exc:  # not settled: the checks below say what is missing
        outcome.wrong.append(str(exc))
    finally:
        outcome.code = await run.stop()
    outcome.kills, outcome.reports, outcome.broadcasts = run.kills, len(run.texts), \
        len(run.broadcasts)
    _check(run, outcome)
    log = (folder / "linli.log").read_text()
    outcome.summary = (
        f"seed {seed}: {run.kills} kills, {len(run.texts)} reports, {len(run.votes)} voters,"
        f" {len(run.broadcasts)} broadcasts; {log.count('received before a crash')} start(s)"
        f" replayed the inbox, {log.count('handled before; skipped')} second deliveries"
        f" skipped, {log.count('interrupted by a crash')} start(s) re-sent the outbox;"
        f" {outcome.cut_on_wire} message(s) cut off mid-request by a kill arrived twice")
    return outcome


def _check(run: Run, out: Outcome) -> None:
    # every report exactly once, with a consistent event log
    reports = _query(run.db, "SELECT id, text, state, rung_node_id FROM reports")
    got, wanted = Counter(r["text"] for r in reports), Counter(run.texts)
    out.lost += [f"report never filed: {text}" for text in wanted - got]
    out.duplicated += [f"report filed twice: {text}" for text in got - wanted]
    for report in reports:
        events = _query(run.db, "SELECT action, actor_id, node_id, note FROM report_events"
                        " WHERE report_id = ? ORDER BY id", (report["id"],))
        actions = [e["action"] for e in events]
        if actions[0] != "filed" or actions.count("filed") != 1:
            out.wrong.append(f"report #{report['id']} events: {actions}")
        if actions.count("acknowledged") > 1:  # a replayed press acts once
            out.duplicated.append(f"report #{report['id']} acknowledged twice: {actions}")
        if (report["state"] == "acknowledged") != ("acknowledged" in actions):
            out.wrong.append(f"report #{report['id']} state {report['state']}: {actions}")
        climbs = [e["node_id"] for e in events if e["note"] == "missed:acknowledge"
                  and e["action"] == "escalated"]
        if len(climbs) != len(set(climbs)):
            out.fired_twice.append(f"report #{report['id']} climbed twice: {actions}")
        if events[-1]["node_id"] not in (None, report["rung_node_id"]) and \
                events[-1]["action"] != "overdue":
            out.wrong.append(f"report #{report['id']} rung and events disagree: {actions}")
    # no deadline that fell due was lost (3 s of slack for the alarm)
    late = _query(run.db, "SELECT subject, subject_id, kind FROM deadlines WHERE state = 'armed'"
                  " AND due_at < ?", (to_db(datetime.now(UTC) - timedelta(seconds=3)),))
    out.lost += [f"deadline never fired: {tuple(r)}" for r in late]

    # every notification delivered, and once (twice only if a kill cut its request off)
    rows = _query(run.db, "SELECT chat_id, method, status, payload FROM outbox")
    out.lost += [f"outbox row {r['status']}: {r['method']} to {r['chat_id']}"
                 for r in rows if r["status"] != "sent"]
    wanted_msgs = Counter((r["chat_id"], _plain(json.loads(r["payload"])["text"]))
                          for r in rows if r["method"] == "send_message")
    delivered = Counter((m["chat"]["id"], m.get("text", "")) for m in run.tg.sent())
    for key, times in wanted_msgs.items():
        if delivered[key] < times:
            out.lost.append(f"never delivered: {key}")
        elif delivered[key] > times + run.in_flight[key]:
            out.duplicated.append(f"delivered {delivered[key]} times: {key}")
        out.cut_on_wire += min(delivered[key] - times, run.in_flight[key]) \
            if delivered[key] > times else 0

    # every broadcast once, in each group
    made = Counter(r["text"] for r in _query(run.db, "SELECT text FROM broadcasts"))
    for text in run.broadcasts:
        if made[text] > 1:
            out.duplicated.append(f"broadcast made {made[text]} times: {text}")
        for chat in GROUPS.values():
            if not any(text in (m.get("text") or "") for m in run.tg.sent(chat)):
                out.lost.append(f"broadcast never reached {chat}: {text}")

    # each vote as last cast; only b1's residents count
    recorded = {r["user_id"]: (json.loads(r["option_ids"]), r["counted"])
                for r in _query(run.db, "SELECT user_id, option_ids, counted FROM"
                                " topic_poll_votes")}
    if not run.votes:
        out.wrong.append("nobody voted")
    for uid, choice in run.votes.items():
        if uid not in recorded:
            out.lost.append(f"the vote of {uid} was lost")
        elif sorted(recorded[uid][0]) != choice:
            out.wrong.append(f"vote of {uid}: {recorded[uid]}, cast {choice}")
        elif choice and bool(recorded[uid][1]) != (RESIDENTS[uid] == "b1-g"):
            out.wrong.append(f"vote of {uid} counted wrongly: {recorded[uid]}")
    if _query(run.db, "SELECT count(*) FROM topic_polls WHERE state = 'open'")[0][0] != 1:
        out.wrong.append("the topic poll is not open")

    # every update handled, none twice
    unhandled = _query(run.db, "SELECT count(*) FROM updates WHERE status != 'done'")[0][0]
    if unhandled:
        out.lost.append(f"{unhandled} update(s) never handled")


@pytest.mark.parametrize("seed", SEEDS)
async def test_sigkill_at_random_points_loses_nothing_and_repeats_nothing(
        tg: FakeTelegram, tmp_path: Path, seed: int) -> None:
    outcome = await crash_run(tg, tmp_path, seed)
    print(outcome.summary)
    assert outcome.kills == KILLS_PER_SEED
    assert outcome.code == 0
    assert outcome.problems() == []
    assert outcome.reports and outcome.broadcasts
