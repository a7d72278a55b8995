"""A broadcast to 1,000 group chats through the fake server with Telegram's limits on.

    python bench/broadcast.py [--chats 1000]

`linli run` runs as a subprocess; a compound's area chief sends `/broadcast now ...`
to 1,000 bound building chats. The fake server enforces 30 messages/s bot-wide and
20/min per group (429 with retry_after beyond). Prints the achieved messages per
second (first to last group message, and from the command to the last), how many
chats got no copy or more than one (lost / doubled), and what the delivery report
told the sender. Target: at least 27/s, 0 lost.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import FakeTelegram, linli_env, start_process, stop_process, wait_first_poll

CHIEF = 500
TEXT = "停水通知：本周六9:00-12:00小区停水，请提前储水。"


def org(chats: int) -> str:
    out = ['[[nodes]]\nkey = "c"\nname = "社区"\nlevel = "community"\n',
           '[[nodes]]\nkey = "p"\nname = "小区"\nlevel = "compound"\nparent = "c"\n',
           f'[[leaders]]\nnode = "p"\nuser_id = {CHIEF}\n']
    for b in range(chats):
        out.append(f'[[nodes]]\nkey = "b{b}"\nname = "{b}号楼"\nlevel = "building"\n'
                   f'parent = "p"\nchat_id = {-(1_000_000_000_000 + b)}\n')
    return "\n".join(out)


async def run(tg: FakeTelegram, folder: Path, chats: int) -> None:
    (folder / "org.toml").write_text(org(chats), encoding="utf-8")
    env = linli_env(tg, folder)
    subprocess.run([sys.executable, "-m", "bot", "org", "import", str(folder / "org.toml")],
                   env=env, check=True, capture_output=True)
    tg.add_user(CHIEF, "片长")
    groups = [-(1_000_000_000_000 + b) for b in range(chats)]
    for chat in groups:
        tg.add_group(chat, f"{chat}群", members=[CHIEF])
    since = len(tg.calls)
    proc = await start_process([sys.executable, "-m", "bot", "run"], env)
    try:
        await wait_first_poll(tg, since)
        tg.user_sends(CHIEF, CHIEF, "/start")
        await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF, timeout=30)
        group_set = set(groups)
        began = time.perf_counter()
        tg.user_sends(CHIEF, CHIEF, f"/broadcast now {TEXT}")
        first = last = None
        seen = 0
        while seen < chats:
            if time.perf_counter() - began > 300:
                break
            now_seen = sum(1 for m in tg.sent() if m["chat_id"] in group_set)
            if now_seen and first is None:
                first = time.perf_counter()
            if now_seen > seen:
                seen, last = now_seen, time.perf_counter()
            await asyncio.sleep(0.01)
        report = await tg.wait_for(lambda m: m["chat"]["id"] == CHIEF and "未送达" in m["text"]
                                   and "送达情况" in m["text"], timeout=60)
        copies: dict[int, int] = {}
        for m in tg.sent():
            if m["chat_id"] in group_set and TEXT in (m.get("text") or ""):
                copies[m["chat_id"]] = copies.get(m["chat_id"], 0) + 1
        lost = sum(1 for chat in groups if copies.get(chat, 0) == 0)
        doubled = sum(1 for n in copies.values() if n > 1)
        refused = sum(1 for c in tg.calls if c.method == "sendMessage" and c.error
                      and "Too Many Requests" in c.error)
        assert first is not None and last is not None
        print(f"broadcast to {chats} chats, Telegram's limits on (30/s overall, 20/min per group)")
        print(f"achieved: {seen / max(last - first, 1e-9):.1f} msgs/s first to last copy, "
              f"{seen / (last - began):.1f} msgs/s from the command (limit 30/s; target ≥ 27)")
        print(f"lost: {lost}   sent twice: {doubled}   429 answers from the fake server: "
              f"{refused}")
        print("delivery report: " + report["text"].splitlines()[1])
    finally:
        await asyncio.to_thread(stop_process, proc)


async def main(chats: int) -> None:
    tg = FakeTelegram()
    await tg.start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            await run(tg, Path(folder), chats)
    finally:
        await tg.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--chats", type=int, default=1000)
    asyncio.run(main(parser.parse_args().chats))
