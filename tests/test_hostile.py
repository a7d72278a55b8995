"""Hostile input, generated: every command's arguments and every kind of button data.

One bot runs for the whole module (in a loop of its own thread, so hypothesis can drive
it from plain functions). Each generated input is sent as a real update; then:
- the update was handled and the bot answered (a message, or the button's answer);
- nothing went wrong inside (no apology for an internal error, no error logged);
- every message the bot sent was accepted by Telegram (HTML never broke parse_mode);
- what the input had no right to change did not change.

The properties are plain async functions over a World, so bench/fuzz.py runs the same
ones, with the same strategies, for tens of thousands of examples; failures are raised as
Traceback (something went wrong inside) or UnauthorisedChange, which the bench counts.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.inputs import visible
from sandbox.fakegram import FakeTelegram
from storage.timeutil import to_db
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

# text that tries to break things: markup, SQL, control and direction characters, digits
# that are digits only to str.isdigit(), numbers beyond SQLite's integers, text that draws
# nothing, days at the ends of the calendar, durations longer than datetime reaches
NASTY = st.sampled_from([
    "<b>", "</i>", "<a href='x'>", "&amp;", "&", "<", ">", "*", "_", "`", "[x](y)", "~",
    "'; DROP TABLE reports; --", "\" OR 1=1 --", "%s", "{0}", "{name}", "\\", "\u202e",
    "\u200f", "\u200b", "\x00", "\x07", "\x1b[31m", "\n", "\t", "#1", "-1", "0", "99999999999",
    "١٢", "😀", "𠀀", "@linli_test_bot", "/report", " ",
    "²", "¹²³", "#²", "①", "１２", "9223372036854775808", "99999999999999999999", "9" * 30,
    "\u2060", "\ufeff", "\u200b\u2060\ufeff", "\u200d", "\u3164", "\u00ad",
    "0001-01-01 00:30", "9999-12-31 23:59", "0001-01", "9999-12", "2026-02-30", "00:00",
    "P9999999D", "9999999d", "9999d", "PT99999999H", "864000000000", "monthly ² 09:00",
    " | 议事会 | 活动室", "3001 独居老人 ", "|", "；",
])
# words shaped like the arguments commands take: numbers, days, durations, keywords
SHAPED = st.lists(st.sampled_from([
    "²", "#²", "¹²", "99999999999999999999", "9223372036854775808", "0", "#1", "1", "١٢", "１２",
    "0001-01-01 00:30", "9999-12-31 23:59", "9999-12", "0001-01", "2026-02-30 10:00",
    "P9999999D", "9999d", "864000000000", "PT2H", "monthly", "weekly", "daily", "now", "week",
    "独居老人", "4002", "4001", "|", "议事会", "\u200b\ufeff", "a", "b-g", "grid_leader",
]), min_size=1, max_size=5).map(" ".join)
ARGUMENT = st.one_of(  # shaped words, hostile ones alone or a few, or a generated mixture
    SHAPED, SHAPED, NASTY, st.lists(NASTY, min_size=2, max_size=4).map(" ".join),
    st.lists(st.one_of(NASTY, st.text(max_size=12)), max_size=6).map("".join))
COMMANDS = ["start", "help", "lang", "report", "cancel", "myreports", "queue", "status",
            "join", "org", "invite", "bind", "unknowncommand", "event", "events", "broadcast",
            "broadcasts", "family", "nominate", "propose", "topics", "topicpoll", "forum",
            "decide", "care", "care_add", "care_remove", "stats", "volunteer", "help_request",
            "dashboard", "mydata", "unit", "remove_leader", "whoami", "forget", "away",
            "report_for"]
PEOPLE = [RESIDENT_A, RESIDENT_B, OUTSIDER, GRID_B, BUILDING_B]
# every callback data format the bot writes (handlers/ and bot/), and some it never does
PREFIXES = ["r:ack", "r:res", "r:esc", "r:cat", "r:rea", "r:to", "r:set", "r:rate", "rf:cat",
            "rf:ok", "rf:draft", "rf:no", "jn", "ju:skip", "rr", "lang", "x", "",
            "ev:r", "ev:s", "ev:rc", "ev:ok", "ev:no", "ev:ics", "ev:c", "ev:m", "ev:e", "ev:h",
            "fm:v", "fm:r", "fm:x", "bc:x", "cp:sup", "cp:mg", "cp:dc", "cp:mt", "cp:stop",
            "cd:done", "cf:go", "cf:may", "cf:no", "cv:in", "hr:acc", "hr:ok", "hr:no", "hr:done",
            "hr:sk", "vo:pause", "vo:resume", "vo:leave", "aw:to", "pv:ok", "pv:no", "r:rn",
            "r:save", "rl:p", "rl:y", "rq:who", "cc:in", "cc:ask", "cc:ok", "cc:no", "cc:inall",
            "cc:askall",
            # the guided forms (handlers/forms.py): fm:CODE:v:STEP:VALUE, ok, ed, no
            "fm:fo:v:chat", "fm:fo:v:title", "fm:fo:v:starts", "fm:fo:v:agenda", "fm:fo:ok",
            "fm:fo:ed", "fm:fo:no", "fm:de:v:meeting", "fm:de:v:item", "fm:de:v:owner",
            "fm:de:v:due", "fm:de:ok", "fm:bc:v:scope", "fm:bc:v:when", "fm:bc:ok",
            "fm:ca:v:who", "fm:ca:v:kind", "fm:ca:v:cadence", "fm:ca:v:note", "fm:ca:ok"]
WORDS = st.sampled_from(["", "a", "1.5", "0x1", "²", "١", "99999999999999999999", "s", "u",
                         "repair", "g", "m", "n", "time", "place", "weekly", "spring", "zh",
                         "xx", "2026-02-30", "0001-01-01", "9999-12-31", "2026-12-21",
                         "h²", "h99", "h09", "d9999-12-31", "d2026-02-30", "d2026-11-26",
                         "c-100802", "c²", "m1", "m²", "i1", "i²", "n1201", "u4002", "t1", "more"])
NUMBER = st.one_of(st.integers(-3, 5), st.integers(), WORDS)
FORGED = st.builds(lambda p, parts: ":".join([p, *map(str, parts)]),
                   st.sampled_from(PREFIXES), st.lists(NUMBER, max_size=4))
CALLBACK_DATA = st.one_of(FORGED, st.text(min_size=1, max_size=20)).map(
    lambda s: s.encode()[:64].decode(errors="ignore") or "x")
RETRY_HORIZON = 10  # seconds: a message retried within this is waited for (429 retry_after)
INTERNAL = ("出了点问题", "something went wrong")  # error.internal, zh and en


class Traceback(AssertionError):
    """Something went wrong inside: an error logged, an apology for it, a send refused."""


class UnauthorisedChange(AssertionError):
    """An input changed what it had no right to change."""


class ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class World:
    """A bot and a fake Telegram on their own event loop."""

    def __init__(self, folder: Path, **settings: Any) -> None:
        self.folder, self.settings = folder, settings
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
        self.bot = BotHarness(self.tg, self.folder, **self.settings)
        await self.bot.start()
        self.bot.linli.notifier.groups.per_window = None  # the bot's own count of it too
        # and PTB's limiter, which spaces a group's messages 3 s apart past a burst of 20
        # (set to 0, PTB meters no group: thousands of generated examples, not minutes each)
        assert self.bot.app is not None
        limiter = self.bot.app.bot.rate_limiter
        assert limiter is not None
        limiter._group_max_rate = 0  # type: ignore[attr-defined]
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
        """Every update handled and every message out, also one that Telegram answered
        with 429 and that waits out its retry_after (the harness's settle counts only what
        is due now: seen in CI as an answer that came a second after the check)."""
        soon = ("SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')"
                " AND not_before <= ?")
        async with asyncio.timeout(30):
            while True:
                await self.bot.settle()
                horizon = to_db(self.bot.clock.now() + timedelta(seconds=RETRY_HORIZON))
                if not await self.bot.linli.db.fetchval(soon, (horizon,)):
                    return
                await asyncio.sleep(0.05)

    async def snapshot(self, queries: dict[str, str]) -> dict[str, list[tuple[Any, ...]]]:
        db = self.bot.linli.db
        return {name: [tuple(r) for r in await db.fetchall(sql)] for name, sql in queries.items()}

    async def check_quiet(self, since: int = 0) -> None:
        """Nothing went wrong inside, and Telegram accepted every message (from call
        ``since`` on)."""
        if self.errors.records:
            found = [r.getMessage() for r in self.errors.records]
            self.errors.records.clear()
            raise Traceback(found)
        failed = await self.bot.linli.db.fetchall(
            "SELECT chat_id, error FROM outbox WHERE status = 'failed'")
        if failed:
            raise Traceback([tuple(r) for r in failed])
        calls = self.tg.calls[since:]
        refused = [c for c in calls if c.method.startswith(("send", "edit"))
                   and not c.ok and "not modified" not in (c.error or "")
                   and "Too Many Requests" not in (c.error or "")]
        if refused:
            raise Traceback([(c.method, c.error) for c in refused])
        internal = [c.params for c in calls if c.ok and any(
            word in str(c.params.get("text") or c.params.get("caption") or "")
            for word in INTERNAL)]
        if internal:
            raise Traceback(internal)

    def chat_of(self, who: int, in_group: bool) -> int:
        if not in_group:
            return who
        return GROUP_B if who in (RESIDENT_B, GRID_B, BUILDING_B) else GROUP_A


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


# what else an edit or a command for another bot must leave as it is
EVERYTHING = {
    **PROTECTED, **REPORTS,
    "pending": "SELECT user_id, kind, payload FROM pending_inputs ORDER BY 1, 2",
    "counts": "SELECT (SELECT count(*) FROM broadcasts), (SELECT count(*) FROM proposals),"
              " (SELECT count(*) FROM proposal_supports), (SELECT count(*) FROM meetings),"
              " (SELECT count(*) FROM decisions), (SELECT count(*) FROM care_entries),"
              " (SELECT count(*) FROM events), (SELECT count(*) FROM family_selections),"
              " (SELECT count(*) FROM family_nominations), (SELECT count(*) FROM volunteers),"
              " (SELECT count(*) FROM help_requests), (SELECT count(*) FROM topic_polls),"
              " (SELECT count(*) FROM residents)",
}
OTHER_BOT = "other_bot"


async def _unchanged(world: World, queries: dict[str, str],
                     before: dict[str, list[tuple[Any, ...]]], what: str) -> None:
    after = await world.snapshot(queries)
    if after != before:
        changed = [name for name in queries if after[name] != before[name]]
        raise UnauthorisedChange(f"{what!r} changed {changed}")


async def any_command(world: World, command: str, argument: str, who: int,
                      in_group: bool) -> None:
    """Any command with any argument: answered, nothing broken, nothing protected moved."""
    chat = world.chat_of(who, in_group)
    protected = await world.snapshot(PROTECTED)
    before = await world.snapshot(REPORTS)
    calls = len(world.tg.calls)
    text = f"/{command} {argument}" if argument else f"/{command}"
    world.tg.user_sends(who, chat, text[:4096])
    await world.settle()
    await world.check_quiet(calls)
    await _unchanged(world, PROTECTED, protected, text)
    after = await world.snapshot(REPORTS)
    if command != "report":
        if after != before:
            raise UnauthorisedChange(text)
    else:  # a valid report is filed with its text as given; anything else changes nothing
        new = await world.bot.linli.db.fetchall(
            "SELECT text FROM reports WHERE id > ?", (len(before["reports"]),))
        if not all(r["text"] == visible(argument) for r in new):
            raise UnauthorisedChange(f"{argument!r} filed as {[r['text'] for r in new]}")
    answered = [c for c in world.tg.calls[calls:] if c.ok
                and c.method in ("sendMessage", "sendPhoto", "sendDocument", "sendPoll")
                and c.params.get("chat_id") in (chat, who)]
    assert answered, f"no answer to {text!r}"


async def any_button(world: World, data: str, who: int) -> None:
    """Any callback data pressed by anyone without rights on #1: answered, nothing moved."""
    protected = await world.snapshot(PROTECTED)
    reports = await world.snapshot(REPORTS)
    own = [m for m in world.tg.sent(who)]
    assert own, "every user has a message of the bot in private"
    calls = len(world.tg.calls)
    query = world.tg.press_button(who, who, own[-1]["message_id"], data)
    await world.settle()
    await world.check_quiet(calls)
    assert world.tg.answers_to(query) is not None, f"button {data!r} never answered"
    await _unchanged(world, PROTECTED, protected, data)
    after = await world.snapshot(REPORTS)
    # nobody here may act on #1 (A's report, owned by A's grid leader)
    if after["reports"][0] != reports["reports"][0]:
        raise UnauthorisedChange(data)


async def any_edit(world: World, command: str, argument: str, edited: str, who: int,
                   in_group: bool) -> None:
    """A command, then its message edited: the edit runs nothing, whatever it now says,
    and is never answered in a group."""
    chat = world.chat_of(who, in_group)
    text = (f"/{command} {argument}" if argument else f"/{command}")[:4096]
    sent = world.tg.user_sends(who, chat, text)
    await world.settle()
    before = await world.snapshot(EVERYTHING)
    calls = len(world.tg.calls)
    new_text = edited if edited.startswith("/") else f"/{command} {edited}"
    world.tg.user_edits(who, chat, sent["message"]["message_id"], new_text[:4096])
    await world.settle()
    await world.check_quiet(calls)
    await _unchanged(world, EVERYTHING, before, f"{text!r} edited to {new_text!r}")
    said = [c for c in world.tg.calls[calls:] if c.method.startswith("send")]
    if in_group and [c for c in said if c.params.get("chat_id") == chat]:
        raise UnauthorisedChange(f"an edit answered in the group: {new_text!r}")
    assert all(c.params.get("chat_id") == who for c in said), [c.params for c in said]


async def for_another_bot(world: World, command: str, argument: str, who: int,
                          in_group: bool, caption: bool) -> None:
    """/command@other_bot, in text or a photo's caption: not ours, so nothing happens."""
    chat = world.chat_of(who, in_group)
    text = (f"/{command}@{OTHER_BOT} {argument}" if argument
            else f"/{command}@{OTHER_BOT}")[:1024]
    before = await world.snapshot(EVERYTHING)
    calls = len(world.tg.calls)
    if caption:
        world.tg.user_sends(who, chat, photo=True, caption=text)
    else:
        world.tg.user_sends(who, chat, text)
    await world.settle()
    await world.check_quiet(calls)
    await _unchanged(world, EVERYTHING, before, text)
    if in_group and [c for c in world.tg.calls[calls:] if c.method.startswith("send")]:
        raise UnauthorisedChange(f"answered {text!r} meant for another bot")


COMMAND_CASES = {"command": st.sampled_from(COMMANDS), "argument": ARGUMENT,
                 "who": st.sampled_from(PEOPLE), "in_group": st.booleans()}
PROPERTIES: dict[str, tuple[Callable[..., Coroutine[Any, Any, None]], dict[str, Any]]] = {
    "commands": (any_command, COMMAND_CASES),
    "buttons": (any_button, {"data": CALLBACK_DATA, "who": st.sampled_from(PEOPLE)}),
    "edits": (any_edit, {**COMMAND_CASES, "edited": ARGUMENT}),
    "other_bot": (for_another_bot, {**COMMAND_CASES, "caption": st.booleans()}),
}


@FUZZ
@given(**COMMAND_CASES)
def test_any_command_with_any_argument(world: World, command: str, argument: str, who: int,
                                       in_group: bool) -> None:
    world.run(any_command(world, command, argument, who, in_group))


@FUZZ
@given(data=CALLBACK_DATA, who=st.sampled_from(PEOPLE))
def test_any_button_data_from_anyone_without_rights(world: World, data: str, who: int) -> None:
    world.run(any_button(world, data, who))


@FUZZ
@given(**PROPERTIES["edits"][1])
def test_an_edited_command_runs_nothing_again(world: World, command: str, argument: str,
                                              edited: str, who: int, in_group: bool) -> None:
    world.run(any_edit(world, command, argument, edited, who, in_group))


@FUZZ
@given(**PROPERTIES["other_bot"][1])
def test_a_command_for_another_bot_is_not_ours(world: World, command: str, argument: str,
                                               who: int, in_group: bool, caption: bool) -> None:
    world.run(for_another_bot(world, command, argument, who, in_group, caption))


@pytest.mark.parametrize("text", [
    "/status ²", "/status #99999999999999999999", "/care_remove ²", "/stats 9999-12",
    "/stats 0001-01", "/broadcast 0001-01-01 00:30 新年好", "/broadcast 9999-12-31 23:59 好",
    "/report \u200b\u2060\ufeff", "/propose \ufeff", "/nominate \u200b",
    "/forum 9999-12-31 23:59 | 议事会 | 活动室", "/decide ²", "/care_add 4002 独居老人 P9999999D",
    "/unit ² 1-101", "/unit 99999999999999999999 1-101",
])
def test_the_inputs_that_once_crashed(world: World, text: str) -> None:
    for who in (RESIDENT_B, GRID_B, BUILDING_B):
        world.run(any_command(world, text.split()[0][1:], text.split(maxsplit=1)[1], who,
                              text.startswith("/forum")))


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
