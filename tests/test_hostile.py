"""Hostile input, generated: every command's arguments and every kind of button data.

One bot runs for the whole module (in a loop of its own thread, so hypothesis can drive
it from plain functions). Each generated input is sent as a real update; then:
- the update was handled and the bot answered (a message, or the button's answer);
- nothing went wrong inside (no apology for an internal error, no error logged);
- every message the bot sent was accepted by Telegram (HTML never broke parse_mode);
- what the input had no right to change did not change.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.fakegram import FakeTelegram
from tests.harness import BotHarness

GROUP_A, GROUP_B = -100801, -100802
GRID_A, GRID_B, BUILDING_A, BUILDING_B, COMMUNITY = 1101, 1102, 1201, 1202, 1401
RESIDENT_A, RESIDENT_B, OUTSIDER = 4001, 4002, 4999
ORG = f"""
[[nodes]]
key = "c"
name = "和谐社区"
level = "community"

[[leaders]]
node = "c"
user_id = {COMMUNITY}
name = "孙书记"

[[nodes]]
key = "a"
name = "A栋"
level = "building"
parent = "c"
chat_id = {GROUP_A}

[[nodes]]
key = "a-g"
name = "A栋1单元"
level = "grid"
parent = "a"

[[nodes]]
key = "b"
name = "B栋"
level = "building"
parent = "c"
chat_id = {GROUP_B}

[[nodes]]
key = "b-g"
name = "B栋1单元"
level = "grid"
parent = "b"

[[leaders]]
node = "a"
user_id = {BUILDING_A}
name = "A楼长"

[[leaders]]
node = "a-g"
user_id = {GRID_A}
name = "A邻长"

[[leaders]]
node = "b"
user_id = {BUILDING_B}
name = "B楼长"

[[leaders]]
node = "b-g"
user_id = {GRID_B}
name = "B邻长"

[[residents]]
user_id = {RESIDENT_A}
node = "a-g"
unit = "1-101"

[[residents]]
user_id = {RESIDENT_B}
node = "b-g"
unit = "2-202"
"""

# what may not change, whatever anyone sends (reports are checked separately)
PROTECTED = {
    "leaders": "SELECT node_id, user_id, name FROM leaders ORDER BY 1, 2",
    "chats": "SELECT chat_id, node_id, active FROM chats ORDER BY 1",
    "invites": "SELECT count(*) FROM invites",
    "nodes": "SELECT id, key, parent_id FROM nodes ORDER BY 1",
}
REPORTS = {
    "reports": "SELECT id, state, rung_node_id, owner_id, category, version FROM reports"
               " ORDER BY id",
    "report_events": "SELECT count(*) FROM report_events",
}

# text that tries to break things: markup, SQL, control and direction characters
NASTY = st.sampled_from([
    "<b>", "</i>", "<a href='x'>", "&amp;", "&", "<", ">", "*", "_", "`", "[x](y)", "~",
    "'; DROP TABLE reports; --", "\" OR 1=1 --", "%s", "{0}", "{name}", "\\", "\u202e",
    "\u200f", "\u200b", "\x00", "\x07", "\x1b[31m", "\n", "\t", "#1", "-1", "0", "99999999999",
    "١٢", "😀", "𠀀", "@linli_test_bot", "/report", " ",
])
ARGUMENT = st.lists(st.one_of(NASTY, st.text(max_size=12)), max_size=6).map("".join)
COMMANDS = ["start", "help", "lang", "report", "cancel", "myreports", "queue", "status",
            "join", "org", "invite", "bind", "unknowncommand", "event", "events", "broadcast",
            "broadcasts", "family", "nominate"]
PEOPLE = [RESIDENT_A, RESIDENT_B, OUTSIDER, GRID_B, BUILDING_B]
PREFIXES = ["r:ack", "r:res", "r:esc", "r:cat", "r:rea", "r:to", "r:set", "r:rate", "rf:cat",
            "rf:ok", "rf:draft", "rf:no", "jn", "ju:skip", "rr", "lang", "x", "",
            "ev:r", "ev:s", "ev:rc", "ev:ok", "ev:no", "ev:ics", "ev:c", "ev:m", "ev:e", "ev:h",
            "fm:v", "fm:r", "fm:x", "bc:x"]
NUMBER = st.one_of(st.integers(-3, 5), st.integers(), st.sampled_from(["", "a", "1.5", "0x1"]))
FORGED = st.builds(lambda p, parts: ":".join([p, *map(str, parts)]),
                   st.sampled_from(PREFIXES), st.lists(NUMBER, max_size=4))
CALLBACK_DATA = st.one_of(FORGED, st.text(min_size=1, max_size=20)).map(
    lambda s: s.encode()[:64].decode(errors="ignore") or "x")


class ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class World:
    """A bot and a fake Telegram on their own event loop."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.errors = ErrorLog()
        logging.getLogger().addHandler(self.errors)

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def open(self) -> None:
        self.tg = FakeTelegram()
        # hundreds of answers into two groups within a minute: Telegram's per-group limit
        # would only slow this test down (flood control has tests of its own)
        self.tg.group_per_minute = None
        await self.tg.start()
        self.bot = BotHarness(self.tg, self.folder)
        await self.bot.start()
        self.bot.linli.notifier.groups.per_window = None  # the bot's own count of it too
        everyone = [GRID_A, GRID_B, BUILDING_A, BUILDING_B, COMMUNITY, RESIDENT_A, RESIDENT_B,
                    OUTSIDER]
        for uid in everyone:
            self.tg.add_user(uid, f"用户{uid}")
        self.tg.add_group(GROUP_A, "A栋群", members=everyone)
        self.tg.add_group(GROUP_B, "B栋群", members=everyone)
        await self.bot.import_org(ORG)
        for uid in everyone:
            self.tg.user_sends(uid, uid, "/start")
        await self.settle()
        # a report in building A, acknowledged: B's people and outsiders must not touch it
        self.tg.user_sends(RESIDENT_A, RESIDENT_A, "/report A栋楼道堆满杂物")
        prompt = await self.tg.wait_for(lambda m: m["chat"]["id"] == GRID_A and "#1" in m["text"])
        self.tg.press_button(GRID_A, GRID_A, prompt["message_id"], "r:ack:1:1")
        await self.settle()
        self.errors.records.clear()

    async def close(self) -> None:
        await self.bot.stop()
        await self.tg.stop()

    async def settle(self) -> None:
        """Every update handled and every message out."""
        await self.bot.settle()

    async def snapshot(self, queries: dict[str, str]) -> dict[str, list[tuple[Any, ...]]]:
        db = self.bot.linli.db
        return {name: [tuple(r) for r in await db.fetchall(sql)] for name, sql in queries.items()}

    async def check_quiet(self) -> None:
        """Nothing went wrong inside, and Telegram accepted every message."""
        assert not self.errors.records, [r.getMessage() for r in self.errors.records]
        failed = await self.bot.linli.db.fetchall(
            "SELECT chat_id, error FROM outbox WHERE status = 'failed'")
        assert not failed, [tuple(r) for r in failed]
        refused = [c for c in self.tg.calls if c.method.startswith(("send", "edit"))
                   and not c.ok and "not modified" not in (c.error or "")
                   and "Too Many Requests" not in (c.error or "")]
        assert not refused, [(c.method, c.error) for c in refused]
        internal = [m for m in self.tg.sent() if "出了点问题" in (m.get("text") or "")]
        assert not internal, internal


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(tmp_path_factory.mktemp("hostile"))
    w.run(w.open(), timeout=60)
    try:
        yield w
    finally:
        w.run(w.close())
        logging.getLogger().removeHandler(w.errors)
        w.loop.call_soon_threadsafe(w.loop.stop)
        w.thread.join(5)


FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(command=st.sampled_from(COMMANDS), argument=ARGUMENT, who=st.sampled_from(PEOPLE),
       in_group=st.booleans())
def test_any_command_with_any_argument(world: World, command: str, argument: str, who: int,
                                       in_group: bool) -> None:
    async def example() -> None:
        chat = (GROUP_B if who in (RESIDENT_B, GRID_B, BUILDING_B) else GROUP_A) \
            if in_group else who
        protected = await world.snapshot(PROTECTED)
        before = await world.snapshot(REPORTS)
        calls = len(world.tg.calls)
        text = f"/{command} {argument}" if argument else f"/{command}"
        world.tg.user_sends(who, chat, text[:4096])
        await world.settle()
        await world.check_quiet()
        assert await world.snapshot(PROTECTED) == protected
        after = await world.snapshot(REPORTS)
        if command != "report":
            assert after == before, text
        else:  # a valid report is filed with its text as given; anything else changes nothing
            new = await world.bot.linli.db.fetchall(
                "SELECT text FROM reports WHERE id > ?", (len(before["reports"]),))
            assert all(r["text"] == argument.strip() for r in new), (argument, new)
        answered = [c for c in world.tg.calls[calls:] if c.method == "sendMessage" and c.ok
                    and c.params.get("chat_id") in (chat, who)]
        assert answered, f"no answer to {text!r}"

    world.run(example())


@FUZZ
@given(data=CALLBACK_DATA, who=st.sampled_from(PEOPLE))
def test_any_button_data_from_anyone_without_rights(world: World, data: str, who: int) -> None:
    async def example() -> None:
        protected = await world.snapshot(PROTECTED)
        reports = await world.snapshot(REPORTS)
        own = [m for m in world.tg.sent(who)]
        assert own, "every user has a message of the bot in private"
        query = world.tg.press_button(who, who, own[-1]["message_id"], data)
        await world.settle()
        await world.check_quiet()
        assert world.tg.answers_to(query) is not None, f"button {data!r} never answered"
        assert await world.snapshot(PROTECTED) == protected
        after = await world.snapshot(REPORTS)
        # nobody here may act on #1 (A's report, owned by A's grid leader)
        assert after["reports"][0] == reports["reports"][0], data

    world.run(example())


def test_messages_of_zero_and_ten_thousand_characters(world: World) -> None:
    async def example() -> None:
        before = await world.snapshot(REPORTS)
        calls = len(world.tg.calls)
        world.tg.user_sends(RESIDENT_A, RESIDENT_A, "/report " + "长" * 4000)
        world.tg.user_sends(RESIDENT_A, RESIDENT_A, "/report    ")
        world.tg.user_sends(RESIDENT_A, RESIDENT_A, "\u202e" * 10_000)
        await world.settle()
        await world.check_quiet()
        assert await world.snapshot(REPORTS) == before
        said = [c.params["text"] for c in world.tg.calls[calls:] if c.method == "sendMessage"
                and c.params.get("chat_id") == RESIDENT_A]
        assert any("2000" in s or "2,000" in s for s in said), said
        assert len(said) >= 3, said

    world.run(example())


def test_a_removed_leader_and_a_leader_of_another_building_change_nothing(
        world: World) -> None:
    async def example() -> None:
        tg, linli = world.tg, world.bot.linli
        tg.user_sends(RESIDENT_A, GROUP_A, "/report A栋电梯按钮失灵了")
        prompt = await tg.wait_for(lambda m: m["chat"]["id"] == GRID_A and "电梯" in m["text"])
        number = int(prompt["text"].split("#")[1].split()[0])
        await world.settle()
        before = await world.snapshot(REPORTS)
        # B's grid leader forges A's button; A's building leader presses it early: refused
        tg.press_button(GRID_B, GRID_B, tg.sent(GRID_B)[-1]["message_id"], f"r:ack:{number}:1")
        # the grid leader of A is removed (the office edits the organisation), then presses
        async with linli.db.write() as tx:
            await tx.execute("DELETE FROM leaders WHERE user_id = ?", (GRID_A,))
            linli.db.org_changed()
        await asyncio.sleep(1.1)  # the organisation cache rechecks every second
        query = tg.press_button(GRID_A, GRID_A, prompt["message_id"], f"r:ack:{number}:1")
        await world.settle()
        await world.check_quiet()
        assert await world.snapshot(REPORTS) == before
        assert tg.answers_to(query) is not None
        async with linli.db.write() as tx:  # put them back for the other tests
            await tx.execute("INSERT INTO leaders(node_id, user_id, name, source, created_at)"
                             " SELECT id, ?, 'A邻长', 'file', '2026-11-25T00:00:00Z' FROM nodes"
                             " WHERE key = 'a-g'", (GRID_A,))
            linli.db.org_changed()

    world.run(example())
