"""Three `linli run` instances behind one webhook, on one PostgreSQL database.

The fake Telegram server delivers updates by webhook (as Telegram does once setWebhook
has a URL) to a small round-robin proxy on loopback, standing for nginx's ``upstream``:
each update goes to the next instance, and to the one after when an instance does not
answer. Residents report, leaders press 受理, residents vote, the compound broadcasts and
deadlines climb the chain (3 s a rung), while one instance is SIGKILLed mid-run. After
the other two have settled, the checks of the crash test hold (tests/test_crash.py: every
update handled once, every report once, every deadline fired once, every message
delivered once), and Telegram's limits were kept: the fake server never answered 429.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.fakegram import FakeTelegram
from tests.backend import query
from tests.roundrobin import RoundRobin, free_port
from tests.test_crash import (
    ROOT,
    Outcome,
    Run,
    _check,
    _plain,
    neighbourhood,
)

pytestmark = pytest.mark.postgres_only

INSTANCES = 3
SECRET = "three-instances-secret"


class Cluster(Run):
    """The crash test's run, with three instances in webhook mode instead of one."""

    def __init__(self, tg: FakeTelegram, folder: Path, seed: int, proxy: RoundRobin,
                 ports: list[int]) -> None:
        super().__init__(tg, folder, seed)
        self.proxy, self.ports = proxy, ports
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * len(ports)
        self.killed: int | None = None

    def start(self) -> None:
        if self.killed is not None:
            return  # the killed instance stays dead: the others carry on
        for i, port in enumerate(self.ports):
            env = {**self.env, "LINLI_WEBHOOK_URL": "https://bot.example.org/linli-hook",
                   "LINLI_WEBHOOK_LISTEN": "127.0.0.1", "LINLI_WEBHOOK_PORT": str(port),
                   "LINLI_WEBHOOK_SECRET": SECRET}
            self.procs[i] = subprocess.Popen(
                [sys.executable, "-m", "bot", "run"], env=env, cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=open(self.folder / f"linli-{i}.log", "ab"))  # noqa: SIM115
        self.proc = self.procs[0]

    def kill(self) -> None:
        victim = self.rng.randrange(len(self.procs))
        proc = self.procs[victim]
        assert proc is not None
        holder = query(self.db, "SELECT holder FROM leases WHERE name = 'sender'")
        proc.kill()
        proc.wait(10)
        self.killed, self.kills = victim, self.kills + 1
        self.procs[victim] = None
        if holder and f":{proc.pid}:" in holder[0][0]:  # it was sending: what it had in flight
            for row in query(self.db, "SELECT chat_id, payload FROM outbox"
                             " WHERE status = 'sending' AND method = 'send_message'"):
                self.in_flight[(row["chat_id"], _plain(json.loads(row["payload"])["text"]))] += 1

    async def stop(self) -> int:
        codes = []
        for proc in self.procs:
            if proc is not None:
                proc.terminate()
        for proc in self.procs:
            if proc is not None:
                codes.append(await asyncio.to_thread(proc.wait, 30))
        return max(codes, default=0)


async def test_three_instances_behind_one_webhook_one_killed(
        tg: FakeTelegram, tmp_path: Path) -> None:
    seed = 7
    ports = [free_port() for _ in range(INSTANCES)]
    proxy = RoundRobin([f"http://127.0.0.1:{port}" for port in ports])
    await proxy.start()
    tg.webhook_target = proxy.url
    run = Cluster(tg, tmp_path, seed, proxy, ports)
    outcome = Outcome(seed)
    people = await neighbourhood(tg, run)
    for uid in people:  # queued until the webhook is set, then delivered
        tg.user_sends(uid, uid, "/start")
    run.start()
    try:
        await tg.wait_for_call("setWebhook", timeout=30)
        await run.open_poll()
        await run.stream(45, kills=1)
        await run.settle(timeout=90)
    except AssertionError as exc:
        outcome.wrong.append(str(exc))
    finally:
        outcome.code = await run.stop()
        await proxy.stop()
    _check(run, outcome)
    print("\n".join(outcome.problems()[:40]), flush=True)
    logs = "".join((tmp_path / f"linli-{i}.log").read_text() for i in range(INSTANCES))
    assert outcome.problems() == [], "\n".join(outcome.problems()) + "\n" + logs[-3000:]
    print(f"{run.kills} kill, {len(run.texts)} reports, {len(run.broadcasts)} broadcasts,"
          f" {outcome.cut_on_wire} cut off mid-request arrived twice; served {proxy.served}")
    assert outcome.code == 0 and run.kills == 1
    assert len(run.texts) >= 10 and run.broadcasts
    # the webhook's updates were spread over the instances, each served some
    assert sum(1 for n in proxy.served if n) == INSTANCES, proxy.served
    # Telegram's limits were kept once for all: never a 429
    flooded = [c for c in tg.calls if c.error and "Too Many Requests" in c.error]
    assert not flooded, flooded[:3]
    # the killed instance was not the only one to send: another took the sender lease
    assert "sending for every instance" in logs

