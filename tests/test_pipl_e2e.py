"""Personal information end to end: consent before /join registers, /mydata, /forget
(nothing of theirs findable in any table or in the log; figures unchanged; the leader's
old prompt anonymised), a leader correcting a unit, and retention."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.assess.stats import parse_period
from bot.reports.reports import Draft
from sandbox.fakegram import FakeTelegram
from storage.copy import tables
from tests.harness import BotHarness
from tests.orgs import harmony, harmony_leaders, resident

GROUP = -100300
GRID, BUILDING, COMPOUND, COMMUNITY = 1001, 1002, 1003, 1004
NEIGHBOUR, NEWCOMER = 3002, 5001
ORG = (harmony(building_chat=GROUP) + harmony_leaders(GRID, BUILDING, COMPOUND, COMMUNITY)
       + resident(NEIGHBOUR, "b3-u1", "1-503"))
NAME, UNIT = "林晓梅", "7-701"
TEXT = "我家楼上漏水严重，电话13812345678，请尽快处理"
NEIGHBOUR_TEXT = "楼下垃圾没人清理"


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    """The log of the whole scenario, as `linli run` writes it (INFO and above)."""
    path = tmp_path / "linli.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield path
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()


async def _world(tg: FakeTelegram, linli: BotHarness) -> None:
    names = {GRID: "王", BUILDING: "李", COMPOUND: "赵", COMMUNITY: "孙", NEIGHBOUR: "钱大爷",
             NEWCOMER: NAME}
    for uid, name in names.items():
        tg.add_user(uid, name)
    tg.add_group(GROUP, "3号楼业主群", members=list(names))
    await linli.import_org(ORG)
    for uid in names:
        tg.user_sends(uid, uid, "/start")
    for uid in names:
        await tg.wait_for(lambda m, uid=uid: m["chat"]["id"] == uid)


def _press(tg: FakeTelegram, user: int, chat: int, message: dict[str, Any], label: str) -> None:
    data = next(b["callback_data"] for row in message["reply_markup"]["inline_keyboard"]
                for b in row if b["text"] == label)
    tg.press_button(user, chat, message["message_id"], data)


async def _join_in_group(tg: FakeTelegram, user: int) -> dict[str, Any]:
    tg.user_sends(user, GROUP, "/join")
    pick = await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and "选择" in (m.get("text") or "")
                             and bool(m.get("reply_markup")))
    _press(tg, user, GROUP, pick, "3号楼1单元")
    return await tg.wait_for(lambda m: m["chat"]["id"] == GROUP
                             and "同意后才会登记" in (m.get("text") or ""))


async def _everything(linli: BotHarness) -> str:
    """Every value of every table, JSON and base64 decoded, as one text to search."""
    db = linli.linli.db
    parts = []
    for table in await tables(db):
        for row in await db.fetchall(f'SELECT * FROM "{table}"'):
            for value in tuple(row):
                text = str(value)
                parts.append(text)
                try:
                    parts.append(json.dumps(json.loads(text), ensure_ascii=False))
                    document = json.loads(text).get("document")
                    if document:
                        parts.append(base64.b64decode(document).decode("utf-8", "replace"))
                except (ValueError, TypeError, AttributeError):
                    pass
    return "\n".join(parts)


async def test_join_needs_consent_and_a_leader_corrects_the_unit(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    notice = await _join_in_group(tg, NEWCOMER)
    for part in ("保存", "谁能看到", "保存多久", "/forget"):
        assert part in notice["text"], part
    # another resident cannot answer for them
    tg.press_button(NEIGHBOUR, GROUP, notice["message_id"],
                    notice["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
    _press(tg, NEWCOMER, GROUP, notice, "不同意")
    await tg.wait_for_call("editMessageText", lambda p: "没有登记" in (p.get("text") or ""))
    await linli.settle()
    assert await linli.linli.org_repo.resident(NEWCOMER) is None
    assert await linli.linli.db.fetchval("SELECT count(*) FROM consents") == 0
    assert await linli.linli.db.fetchval(
        "SELECT count(*) FROM pending_inputs WHERE user_id = ?", (NEWCOMER,)) == 0

    notice = await _join_in_group(tg, NEWCOMER)
    _press(tg, NEWCOMER, GROUP, notice, "同意")
    await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and "已为您登记" in (m.get("text") or ""))
    assert (await linli.linli.org_repo.resident(NEWCOMER)) is not None
    consent = await linli.linli.privacy.repo.consent(NEWCOMER, "join")
    assert consent is not None and consent.how == "pressed"
    # a second /join (moving) does not ask again
    tg.user_sends(NEWCOMER, GROUP, "/join")
    pick = await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and "选择" in (m.get("text") or "")
                             and m["message_id"] != notice["message_id"]
                             and bool(m.get("reply_markup")))
    _press(tg, NEWCOMER, GROUP, pick, "3号楼1单元")
    await linli.settle()
    assert len([m for m in tg.sent(GROUP) if "同意后才会登记" in (m.get("text") or "")]) == 2

    # the grid leader corrects the unit; a resident may not
    tg.user_sends(NEIGHBOUR, NEIGHBOUR, f"/unit {NEWCOMER} 9-909")
    await tg.wait_for(lambda m: m["chat"]["id"] == NEIGHBOUR and "负责人" in m["text"])
    tg.user_sends(GRID, GRID, "/unit")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "/unit 张阿姨 1-502" in m["text"])
    tg.user_sends(GRID, GRID, f"/unit 林小梅 {UNIT}")  # a slip of the name: said, not guessed
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "没有叫“林小梅”" in m["text"])
    tg.user_sends(GRID, GRID, f"/unit {NAME} {UNIT}")  # by name, as leaders say it
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and f"门牌号改为 {UNIT}" in m["text"])
    await tg.wait_for(lambda m: m["chat"]["id"] == NEWCOMER and UNIT in m["text"])
    assert (await linli.linli.org_repo.resident(NEWCOMER)).unit == UNIT


async def test_mydata_and_forget(tg: FakeTelegram, linli: BotHarness, log_file: Path) -> None:
    await _world(tg, linli)
    notice = await _join_in_group(tg, NEWCOMER)
    _press(tg, NEWCOMER, GROUP, notice, "同意")
    await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and "已为您登记" in (m.get("text") or ""))
    tg.user_sends(GRID, GRID, f"/unit {NEWCOMER} {UNIT}")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "门牌号改为" in m["text"])
    tg.user_sends(NEWCOMER, NEWCOMER, f"/report {TEXT}")
    prompt = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #1" in m["text"]
                               and bool(m.get("reply_markup")))
    assert NAME in prompt["text"] and UNIT in prompt["text"]
    tg.user_sends(NEIGHBOUR, NEIGHBOUR, f"/report {NEIGHBOUR_TEXT}")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #2" in m["text"])
    _press(tg, GRID, GRID, prompt, "受理")
    await tg.wait_for(lambda m: m["chat"]["id"] == NEWCOMER and "受理" in m["text"])
    await linli.settle()

    # /mydata: theirs, and nobody else's
    tg.user_sends(NEWCOMER, NEWCOMER, "/mydata")
    sent = await tg.wait_for(lambda m: m["chat"]["id"] == NEWCOMER and "document" in m)
    data = json.loads(tg.files[sent["document"]["file_id"]].data)
    tables = data["tables"]
    assert [r["text"] for r in tables["reports"]] == [TEXT]
    assert [e["action"] for e in tables["report_events"]] == ["filed", "acknowledged"]
    assert tables["residents"][0]["unit"] == UNIT and tables["users"][0]["first_name"] == NAME
    assert tables["consents"][0]["purpose"] == "join"
    dumped = json.dumps(data, ensure_ascii=False)
    assert NEIGHBOUR_TEXT not in dumped and "钱大爷" not in dumped and "1-503" not in dumped
    # the file is a copy of everything: once sent, the outbox keeps none of it
    await linli.settle()
    kept = await linli.linli.db.fetchval("SELECT payload FROM outbox WHERE ref = ?",
                                         (f"mydata:{NEWCOMER}",))
    assert kept == "{}"
    # in a group, it is not sent there
    tg.user_sends(NEWCOMER, GROUP, "/mydata")
    await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and "私聊" in (m.get("text") or ""))

    scope = await linli.linli.stats.scope_of(COMMUNITY)
    period = parse_period(linli.settings, None, linli.clock.now())
    before = await linli.linli.stats.compute(scope, period, linli.clock.now())

    tg.user_sends(NEWCOMER, NEWCOMER, "/forget")
    confirm = await tg.wait_for(lambda m: m["chat"]["id"] == NEWCOMER
                                and "无法恢复" in (m.get("text") or ""))
    _press(tg, NEWCOMER, NEWCOMER, confirm, "取消")
    await tg.wait_for_call("editMessageText", lambda p: "没有删除" in (p.get("text") or ""))
    assert await linli.linli.org_repo.resident(NEWCOMER) is not None
    tg.user_sends(NEWCOMER, NEWCOMER, "/forget")
    confirm = await tg.wait_for(lambda m: m["chat"]["id"] == NEWCOMER
                                and "无法恢复" in (m.get("text") or "")
                                and m["message_id"] != confirm["message_id"])
    _press(tg, NEWCOMER, NEWCOMER, confirm, "确定删除")
    await tg.wait_for_call("editMessageText", lambda p: "已删除" in (p.get("text") or ""))
    # the leader's old prompt now shows the anonymous version, still with its buttons
    edited = await tg.wait_for_call("editMessageText", lambda p: p["chat_id"] == GRID
                                    and "已注销居民" in (p.get("text") or ""))
    assert int(edited.params["message_id"]) == prompt["message_id"]
    await linli.settle()
    card = tg.message(GRID, prompt["message_id"])
    assert "已注销居民" in card["text"] and "内容已删除" in card["text"]
    assert NAME not in card["text"] and UNIT not in card["text"] and "漏水" not in card["text"]

    # nothing of theirs in any table (the users row goes until they write again)
    everything = await _everything(linli)
    for secret in (NAME, UNIT, TEXT, "13812345678", "漏水"):
        assert secret not in everything, secret
    assert NEIGHBOUR_TEXT in everything and "1-503" in everything  # the neighbour's stay
    after = await linli.linli.stats.compute(scope, period, linli.clock.now())
    assert after == before
    report = await linli.linli.report_repo.get(1)
    assert report is not None and report.state == "acknowledged" and report.text == ""

    # the log of the whole scenario never held a name, a unit, a text or a phone number
    logged = log_file.read_text(encoding="utf-8")
    assert "report" in logged or "Linli" in logged  # the log was written
    for secret in (NAME, UNIT, "1-503", "钱大爷", TEXT, NEIGHBOUR_TEXT, "13812345678", "漏水"):
        assert secret not in logged, secret


async def test_a_leader_cannot_forget_themselves(tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    tg.user_sends(GRID, GRID, "/forget")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "卸任" in m["text"])
    assert await linli.linli.org_repo.led_nodes(GRID)


async def test_retention_removes_what_it_should_and_nothing_else(
        tg: FakeTelegram, tmp_path: Path) -> None:
    log = tmp_path / "bot.log"
    harness = BotHarness(tg, tmp_path, privacy={"log_file": log})
    await harness.start()
    try:
        await _world(tg, harness)
        linli = harness.linli
        node = await linli.org_repo.node_by_key("b3-u1")
        photo = Draft("repair", "灯坏了", photo_file_id="photo-1", latitude=31.2, longitude=121.4)
        closed = await linli.reports.file(NEIGHBOUR, node.id, photo, None)
        still_open = await linli.reports.file(NEIGHBOUR, node.id, Draft(
            "repair", "门坏了", photo_file_id="photo-2"), None)
        await linli.reports.resolve(GRID, closed.id, None, "已修好")
        await linli.reports.rate(NEIGHBOUR, closed.id, "s")
        start = harness.clock.now()
        old_line = (start - timedelta(days=40)).astimezone().strftime("%Y-%m-%d %H:%M:%S")
        log.write_text(f"{old_line},000 INFO old line\n  continued\n", encoding="utf-8")
        with log.open("a", encoding="utf-8") as fh:
            fh.write(f"{start.astimezone():%Y-%m-%d %H:%M:%S},000 INFO recent line\n")

        harness.clock.advance(timedelta(days=1))
        await linli.scheduler.sweep()
        kept = await linli.report_repo.get(closed.id)
        assert kept.photo_file_id == "photo-1" and kept.text == "灯坏了"  # not a year yet
        assert log.read_text(encoding="utf-8").splitlines()[0].endswith("recent line")

        harness.clock.advance(timedelta(days=366))
        await linli.scheduler.sweep()
        one_year = await linli.report_repo.get(closed.id)
        assert one_year.photo_file_id is None and one_year.latitude is None
        assert one_year.text == "灯坏了" and one_year.resolution == "已修好"
        assert (await linli.report_repo.get(still_open.id)).photo_file_id == "photo-2"

        harness.clock.advance(timedelta(days=2 * 365))
        await linli.scheduler.sweep()
        three_years = await linli.report_repo.get(closed.id)
        assert three_years.text == "" and three_years.resolution is None
        assert three_years.state == "closed" and three_years.rating == "satisfied"
        opened = await linli.report_repo.get(still_open.id)
        assert opened.text == "门坏了" and opened.photo_file_id == "photo-2"
        events = [(e.action, e.note) for e in await linli.report_repo.events(closed.id)]
        assert ("resolved", None) in events and ("rated", "satisfied") in events
    finally:
        await harness.stop()
