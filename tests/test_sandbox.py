"""`linli sandbox`: its own folder and never the production database, loopback only, a world
kept between runs (`--fresh` starts over, `--org` an office's own file), and a clock control
that exists in the sandbox's server and nowhere in `linli run`."""

from __future__ import annotations

import ast
import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import psutil
import pytest

from bot.__main__ import _parser
from sandbox.demo import CHIEF, PROPERTY, QIAN, ZHANG
from sandbox.fakegram import FakeTelegram
from sandbox.runner import Options, Sandbox
from tests.harness import BotHarness
from tests.orgs import harmony, harmony_leaders, property_company, resident

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    box = Sandbox(Options(folder=tmp_path / "sandbox", fresh=True, port=0))
    await box.start()
    try:
        yield box
    finally:
        await box.stop()


async def _reports(box: Sandbox) -> list[tuple[int, str]]:
    rows = await box.linli.db.fetchall("SELECT id, state FROM reports ORDER BY id")
    return [(row["id"], row["state"]) for row in rows]


async def test_the_demo_is_made_by_the_bot_in_real_states(sandbox: Sandbox) -> None:
    assert await _reports(sandbox) == [(1, "closed"), (2, "acknowledged"), (3, "open")]
    proposals = await sandbox.linli.db.fetchval("SELECT count(*) FROM proposals")
    assert proposals == 3
    assert [p for p in sandbox.tg.polls.values() if not p.poll["is_closed"]]
    assert await sandbox.linli.db.fetchval("SELECT count(*) FROM events") == 1
    roles = {p.role for p in sandbox.world.people}  # type: ignore[union-attr]
    assert roles >= {"resident", "grid_leader", "building_leader", "compound_leader",
                     "community_leader", "property"}
    assert sum(p.role == "resident" for p in sandbox.world.people) == 12  # type: ignore[union-attr]


async def test_never_the_production_database_nor_the_network(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    production = tmp_path / "production.db"
    production.write_bytes(b"the office's real data")
    before = production.stat()
    monkeypatch.setenv("LINLI_DATABASE", str(production))
    monkeypatch.setenv("LINLI_BOT_TOKEN", "123:a-real-token")
    monkeypatch.setenv("LINLI_API_BASE_URL", "https://api.telegram.org/bot")
    monkeypatch.setenv("LINLI_WEB_PORT", "8089")  # the dashboard of `linli run` stays off
    box = Sandbox(Options(folder=tmp_path / "box", fresh=True, port=0))
    await box.start()
    try:
        assert box.settings is not None
        assert box.settings.database == tmp_path / "box" / "linli.db"
        assert box.settings.api_base_url.startswith("http://127.0.0.1:")
        assert box.settings.api_base_file_url.startswith("http://127.0.0.1:")
        assert box.settings.bot_token.get_secret_value() == box.tg.token  # type: ignore[union-attr]
        assert not box.settings.web.enabled
        assert box.url.startswith("http://127.0.0.1:")
        box.tg.user_sends(ZHANG, ZHANG, "/report 楼道里的灯又坏了")
        await box.tg.wait_for(lambda m: m["chat"]["id"] == ZHANG and "#4" in m["text"])
        remote = {c.raddr.ip for c in psutil.Process().net_connections(kind="inet") if c.raddr}
        assert remote, "the bot polls the emulator over a connection"
        assert all(ipaddress.ip_address(ip).is_loopback for ip in remote), remote
        listening = {c.laddr.ip for c in psutil.Process().net_connections(kind="inet")
                     if c.status == psutil.CONN_LISTEN}
        assert all(ipaddress.ip_address(ip).is_loopback for ip in listening), listening
    finally:
        await box.stop()
    after = production.stat()
    assert production.read_bytes() == b"the office's real data"
    assert (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size)
    assert not Path(f"{production}-wal").exists()
    assert (tmp_path / "box" / "linli.db").is_file()


async def test_the_world_is_kept_between_runs_and_fresh_starts_over(tmp_path: Path) -> None:
    folder = tmp_path / "box"
    box = Sandbox(Options(folder=folder, fresh=True, port=0))
    await box.start()
    box.tg.user_sends(ZHANG, ZHANG, "/report 楼下的路灯不亮")
    await box.tg.wait_for(lambda m: m["chat"]["id"] == ZHANG and "#4" in m["text"])
    await box.settle()
    seen = len(box.tg.sent(ZHANG))
    assert box.clock is not None
    lead = box.clock.now()
    await box.stop()

    again = Sandbox(Options(folder=folder, port=0))
    await again.start()
    try:
        assert [n for n, _ in await _reports(again)] == [1, 2, 3, 4]
        assert len(again.tg.sent(ZHANG)) == seen  # the chat as it was
        assert again.clock is not None and abs((again.clock.now() - lead).total_seconds()) < 30
        # update ids go on where they were: the bot takes the next message, not as a repeat
        again.tg.user_sends(ZHANG, ZHANG, "/status 4")
        await again.tg.wait_for(lambda m: m["chat"]["id"] == ZHANG and "处理记录" in m["text"])
        # a card the bot sent in the first run is still there to press
        card = next(m for m in again.tg.sent(PROPERTY) if "诉求 #3" in (m.get("text") or ""))
        assert again.tg.message(PROPERTY, card["message_id"]) is not None
    finally:
        await again.stop()

    fresh = Sandbox(Options(folder=folder, fresh=True, port=0))
    await fresh.start()
    try:
        assert [n for n, _ in await _reports(fresh)] == [1, 2, 3]
    finally:
        await fresh.stop()


async def test_an_offices_own_org_file(tmp_path: Path) -> None:
    org = tmp_path / "office.toml"
    org.write_text(harmony(building_chat=-100777) + harmony_leaders(11, 12, 13, 14)
                   + property_company(21) + resident(31, "b3-u1", "2-301"), encoding="utf-8")
    box = Sandbox(Options(folder=tmp_path / "box", fresh=True, org=org, port=0))
    await box.start()
    try:
        assert await _reports(box) == []
        names = await box.linli.db.fetchval("SELECT count(*) FROM nodes")
        assert names == 4
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{box.url}api/world") as answer:
                people = {p["id"]: p for p in (await answer.json())["people"]}
        assert people[11]["name"] == "王邻长" and people[11]["role"] == "grid_leader"
        assert people[14]["role"] == "community_leader" and people[21]["role"] == "property"
        assert people[31]["role"] == "resident" and "2-301" in people[31]["place"]
        box.tg.user_sends(31, 31, "/report 楼道堆了很多纸箱")
        await box.tg.wait_for(lambda m: m["chat"]["id"] == 11 and "诉求 #1" in m["text"])
    finally:
        await box.stop()


async def test_the_clock_strip_moves_the_bots_clock_and_fires_deadlines(
        sandbox: Sandbox) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{sandbox.url}api/clock") as answer:
            before = await answer.json()
        assert before["next"] is not None
        async with http.post(f"{sandbox.url}api/clock", json={"step": "next"}) as answer:
            moved = await answer.json()
        assert moved["fired"] >= 1 and moved["now"] > before["next"]
        # report #3 waited on the property company: now the grid leader has it
        await sandbox.tg.wait_for(lambda m: m["chat"]["id"] == PROPERTY and "超时" in m["text"])
        async with http.post(f"{sandbox.url}api/clock", json={"step": "week"}) as answer:
            assert answer.status == 400
        # another site open in the same browser cannot move it
        async with http.post(f"{sandbox.url}api/clock", json={"step": "day"},
                             headers={"Origin": "http://evil.example"}) as answer:
            assert answer.status == 403
        async with http.get(f"{sandbox.url}api/clock") as answer:
            assert (await answer.json())["now"][:16] == moved["now"][:16]


async def test_people_see_only_their_own_chats(sandbox: Sandbox) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{sandbox.url}api/messages",
                            params={"user": QIAN, "chat": CHIEF}) as answer:
            assert answer.status == 403
        async with http.get(f"{sandbox.url}api/messages",
                            params={"user": QIAN, "chat": QIAN}) as answer:
            texts = [m.get("text", "") for m in (await answer.json())["messages"]]
        assert any("#1" in t for t in texts)
        async with http.get(f"{sandbox.url}api/chats", params={"user": QIAN}) as answer:
            chats = {c["title"] for c in (await answer.json())["chats"]}
        assert chats == {"邻里小助手", "3号楼业主群", "阳光小区议事厅"}


async def test_there_is_no_clock_control_in_linli_run(
        tg: FakeTelegram, tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["run", "--clock", "P1D"])
    run = _parser()._subparsers._group_actions[0].choices["run"]  # type: ignore[union-attr]
    assert [a.dest for a in run._actions] == ["help"]
    # the dashboard `linli run` serves has no such route, and refuses the sandbox's
    harness = BotHarness(tg, tmp_path, web={"port": 0})
    await harness.start()
    try:
        desk = harness.app.bot_data["dashboard"]  # type: ignore[union-attr]
        paths = [r.resource.canonical for r in desk.runner.app.router.routes()]
        assert paths and not [p for p in paths if "clock" in p or p.startswith("/api")]
        before = harness.clock.now()
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{desk.url}/api/clock", json={"step": "day"}) as answer:
                assert answer.status in (401, 403, 404)
        assert (harness.clock.now() - before).total_seconds() < 5
    finally:
        await harness.stop()
    # and nothing of the bot, its handlers, storage or the dashboard imports the sandbox
    # but `linli sandbox` itself
    found = []
    for folder in ("bot", "handlers", "storage", "web", "config"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                found += [f"{path.relative_to(ROOT)}:{n}" for n in names
                          if n.split(".")[0] == "sandbox"]
    assert found == ["bot/__main__.py:sandbox.runner"]


async def test_linli_sandbox_as_a_newcomer_runs_it(tmp_path: Path) -> None:
    """The README's first command: a process, no token, prints the URL, stops on Ctrl-C."""
    import asyncio
    import os
    import re
    import signal
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "sandbox", "--port", "0", "--data", str(tmp_path / "box"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env)
    assert process.stdout is not None
    try:
        url = None
        async with asyncio.timeout(60):
            while url is None:
                line = (await process.stdout.readline()).decode()
                assert line, "the sandbox ended before it printed its URL"
                match = re.search(r"open (http://127\.0\.0\.1:\d+/)", line)
                url = match.group(1) if match else None
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as answer:
                assert answer.status == 200 and "邻里" in await answer.text()
    finally:
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(30):
            rest = (await process.stdout.read()).decode()
            assert await process.wait() == 0, rest
    assert "linli sandbox --fresh" in rest
    assert (tmp_path / "box" / "linli.db").is_file()


# the sandbox keeps its own SQLite file in its folder, whatever LINLI_DATABASE says
pytestmark = pytest.mark.sqlite_only("the sandbox's own SQLite file")
