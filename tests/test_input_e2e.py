"""Input the bot must not be fooled or felled by (issue 19, items 4, 5 and 7), end to end:
edited messages run nothing again, commands for another bot are not ours (in captions
as in text), and odd numbers, dates, durations and invisible text get a usage hint
instead of a traceback, changing nothing."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from sandbox.fakegram import FakeTelegram
from tests.harness import BotHarness
from tests.orgs import harmony, harmony_leaders, resident

GROUP = -100_900
GRID, BUILDING, COMPOUND, COMMUNITY = 1001, 1002, 1003, 1004
RESIDENT, NEIGHBOUR = 3001, 3002
ORG = (harmony(building_chat=GROUP) + harmony_leaders(GRID, BUILDING, COMPOUND, COMMUNITY)
       + resident(RESIDENT, "b3-u1", "1-502") + resident(NEIGHBOUR, "b3-u1", "1-503"))
NOT_REREAD = "修改后的消息不会重新处理"
INTERNAL = "出了点问题"


@pytest.fixture
async def world(tg: FakeTelegram, linli: BotHarness) -> BotHarness:
    names = {GRID: "王", BUILDING: "李", COMPOUND: "赵", COMMUNITY: "孙", RESIDENT: "张阿姨",
             NEIGHBOUR: "钱大爷"}
    for uid, name in names.items():
        tg.add_user(uid, name)
    tg.add_group(GROUP, "3号楼业主群", members=list(names))
    await linli.import_org(ORG)
    for uid in names:
        tg.user_sends(uid, uid, "/start")
    await linli.settle()
    return linli


def _said(tg: FakeTelegram, chat: int, needle: str) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in tg.sent(chat)
            if needle in (m.get("text") or m.get("caption") or "")]


async def _count(linli: BotHarness, table: str) -> int:
    return int(await linli.linli.db.fetchval(f"SELECT count(*) FROM {table}"))


def _tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


# -- item 4: an edit runs nothing again -----------------------------------------------


async def test_an_edited_report_files_no_second_report(
        tg: FakeTelegram, world: BotHarness) -> None:
    sent = tg.user_sends(RESIDENT, RESIDENT, "/report 楼道灯坏了")
    await world.settle()
    assert await _count(world, "reports") == 1
    mid = sent["message"]["message_id"]
    tg.user_edits(RESIDENT, RESIDENT, mid, "/report 楼道灯坏了，在三楼")
    await world.settle()
    tg.user_edits(RESIDENT, RESIDENT, mid, "/report 楼道灯坏了，在三楼东侧")
    await world.settle()
    assert await _count(world, "reports") == 1
    report = await world.linli.report_repo.get(1)
    assert report.text == "楼道灯坏了"  # the edit did not rewrite it either
    assert len(_said(tg, RESIDENT, NOT_REREAD)) == 1  # said once for the message, not per edit


async def test_an_edited_photo_report_in_the_group_files_nothing_and_stays_out_of_the_group(
        tg: FakeTelegram, world: BotHarness) -> None:
    sent = tg.user_sends(RESIDENT, GROUP, photo=True, caption="/report 垃圾桶满了")
    await world.settle()
    assert await _count(world, "reports") == 1
    group_before = len(tg.sent(GROUP))
    tg.user_edits(RESIDENT, GROUP, sent["message"]["message_id"], "/report 垃圾桶满了，两天没收")
    await world.settle()
    assert await _count(world, "reports") == 1
    assert len(tg.sent(GROUP)) == group_before  # nothing said in the group
    assert len(_said(tg, RESIDENT, NOT_REREAD)) == 1  # the writer hears it in private


async def test_an_edited_group_chat_message_gets_no_answer_at_all(
        tg: FakeTelegram, world: BotHarness) -> None:
    sent = tg.user_sends(RESIDENT, GROUP, "大家晚上好")
    await world.settle()
    tg.user_edits(RESIDENT, GROUP, sent["message"]["message_id"], "大家晚上好呀")
    await world.settle()
    assert not _said(tg, RESIDENT, NOT_REREAD) and not _said(tg, GROUP, NOT_REREAD)


async def test_an_edited_broadcast_is_not_sent_twice(
        tg: FakeTelegram, world: BotHarness) -> None:
    sent = tg.user_sends(COMPOUND, COMPOUND, "/broadcast now 本周六上午停水，请提前储水。")
    await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and "停水" in m["text"])
    await world.settle()
    tg.user_edits(COMPOUND, COMPOUND, sent["message"]["message_id"],
                  "/broadcast now 本周日上午停水，请提前储水。")
    await world.settle()
    assert len(_said(tg, GROUP, "停水")) == 1
    assert await _count(world, "broadcasts") == 1
    assert len(_said(tg, COMPOUND, NOT_REREAD)) == 1


async def test_an_edited_answer_to_a_question_is_not_read_again(
        tg: FakeTelegram, world: BotHarness) -> None:
    tg.user_sends(RESIDENT, RESIDENT, "/report")
    question = await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT
                                 and m.get("reply_markup") is not None)
    tg.press_button(RESIDENT, RESIDENT, question["message_id"], "rf:cat:repair")
    await world.settle()
    answer = tg.user_sends(RESIDENT, RESIDENT, "门禁坏了")
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "门禁坏了" in m["text"])
    await world.settle()
    confirms = len(_said(tg, RESIDENT, "门禁"))
    tg.user_edits(RESIDENT, RESIDENT, answer["message"]["message_id"], "门禁和电梯都坏了")
    await world.settle()
    linli = world.linli
    pending = await linli.pending.get(RESIDENT, "report_flow", linli.clock.now())
    assert pending is not None and pending.payload["text"] == "门禁坏了"
    assert len(_said(tg, RESIDENT, "门禁")) == confirms  # no second confirmation card
    assert len(_said(tg, RESIDENT, NOT_REREAD)) == 1


async def test_an_edit_is_answered_in_english_for_an_english_speaker(
        tg: FakeTelegram, world: BotHarness) -> None:
    tg.user_sends(NEIGHBOUR, NEIGHBOUR, "/lang en")
    await world.settle()
    sent = tg.user_sends(NEIGHBOUR, NEIGHBOUR, "/report the lift is broken")
    await world.settle()
    tg.user_edits(NEIGHBOUR, NEIGHBOUR, sent["message"]["message_id"], "/report lift broken")
    await world.settle()
    assert await _count(world, "reports") == 1
    assert len(_said(tg, NEIGHBOUR, "Edited messages are not read again")) == 1


# -- item 5: commands for another bot ---------------------------------------------------


async def test_commands_for_another_bot_are_not_ours_in_captions_as_in_text(
        tg: FakeTelegram, world: BotHarness) -> None:
    tg.user_sends(RESIDENT, GROUP, "/report@other_bot 楼道灯坏了")
    tg.user_sends(RESIDENT, GROUP, photo=True, caption="/report@other_bot 楼道灯坏了")
    tg.user_sends(COMPOUND, GROUP, photo=True, caption="/broadcast@other_bot now 停水通知")
    tg.user_sends(RESIDENT, RESIDENT, "/report@other_bot 楼道灯坏了")
    await world.settle()
    assert await _count(world, "reports") == 0
    assert await _count(world, "broadcasts") == 0
    assert not [m for m in tg.sent(GROUP) if "#" in (m.get("text") or "")]
    # addressed to us by name, the same caption files a report
    tg.user_sends(RESIDENT, GROUP, photo=True, caption="/report@linli_test_bot 楼道灯坏了")
    await world.settle()
    assert await _count(world, "reports") == 1


# -- item 7: no input crashes a handler -----------------------------------------------


CRASHERS: list[tuple[int, int, str, str]] = [
    # who, where, what they send, a word of the answer they must get
    (RESIDENT, RESIDENT, "/status ²", "/status"),
    (RESIDENT, RESIDENT, "/status 99999999999999999999", "/status"),
    (GRID, GRID, "/care_remove ²", "/care_remove"),
    (GRID, GRID, "/care_remove 99999999999999999999", "/care_remove"),
    (GRID, GRID, "/care_add 99999999999999999999 独居老人 P7D", "99999999999999999999"),
    (GRID, GRID, "/care_add 3001 独居老人 P9999999D", "P9999999D"),
    (GRID, GRID, "/care_add 3001 独居老人 864000000000", "864000000000"),
    (COMPOUND, COMPOUND, "/broadcast 0001-01-01 00:30 新年快乐", "0001-01-01"),
    (COMPOUND, COMPOUND, "/broadcast 9999-12-31 23:59 新年快乐", "9999-12-31"),
    (COMPOUND, COMPOUND, "/stats 9999-12", "/stats"),
    (COMPOUND, COMPOUND, "/stats 0001-01", "/stats"),
    (BUILDING, GROUP, "/forum 0001-01-01 00:30 | 议事会 | 活动室", "0001-01-01"),
    (BUILDING, GROUP, "/forum 9999-12-31 23:59 | 议事会 | 活动室", "9999-12-31"),
    (BUILDING, GROUP, "/forum 9999d | 议事会 | 活动室", "时间"),
    (BUILDING, BUILDING, "/decide ²", "/decide"),
    (BUILDING, BUILDING, "/unit ² 1-101", "/unit"),
    (BUILDING, BUILDING, "/unit 99999999999999999999 1-101", "/unit"),
    (RESIDENT, RESIDENT, "/report \u200b\u2060\ufeff", "/report"),
    (RESIDENT, RESIDENT, "/propose \u200b\u2060\ufeff", "/propose"),
]


@pytest.mark.parametrize(("who", "where", "text", "hint"), CRASHERS,
                         ids=[c[2] for c in CRASHERS])
async def test_odd_input_gets_a_usage_hint_not_a_traceback(
        tg: FakeTelegram, world: BotHarness, caplog: pytest.LogCaptureFixture,
        who: int, where: int, text: str, hint: str) -> None:
    before = {t: await _count(world, t) for t in (
        "reports", "broadcasts", "care_entries", "proposals", "meetings")}
    calls = len(tg.calls)
    tg.user_sends(who, where, text)
    await world.settle()
    assert _tracebacks(caplog) == []
    answers = [c.params.get("text", "") for c in tg.calls[calls:]
               if c.method == "sendMessage" and c.ok]
    assert answers and not [a for a in answers if INTERNAL in a], answers
    assert any(hint in a for a in answers), answers
    assert {t: await _count(world, t) for t in before} == before


async def test_invisible_answers_count_as_empty(
        tg: FakeTelegram, world: BotHarness, caplog: pytest.LogCaptureFixture) -> None:
    tg.user_sends(RESIDENT, RESIDENT, "/report")
    question = await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT
                                 and m.get("reply_markup") is not None)
    tg.press_button(RESIDENT, RESIDENT, question["message_id"], "rf:cat:repair")
    await world.settle()
    tg.user_sends(RESIDENT, RESIDENT, "\u200b \u2060\ufeff\u200d")
    await world.settle()
    linli = world.linli
    pending = await linli.pending.get(RESIDENT, "report_flow", linli.clock.now())
    assert pending is not None and pending.payload["step"] == "text"  # still asked
    assert _tracebacks(caplog) == []
    # a unit of invisible characters is no unit (/join asks a resident for it again)
    tg.user_sends(NEIGHBOUR, NEIGHBOUR, "/join")
    await world.settle()
    assert await linli.pending.get(NEIGHBOUR, "unit", linli.clock.now()) is not None
    tg.user_sends(NEIGHBOUR, NEIGHBOUR, "\ufeff\u200b")
    await world.settle()
    home = await linli.org_repo.resident(NEIGHBOUR)
    assert home is not None and home.unit == "1-503"


async def test_a_forged_holiday_button_with_an_impossible_date_is_refused_before_it_is_read(
        tg: FakeTelegram, world: BotHarness, caplog: pytest.LogCaptureFixture) -> None:
    own = tg.sent(RESIDENT)[-1]
    queries: dict[str, Any] = {}
    for data in ("ev:h:spring:2026-02-30", "ev:h:spring:0000-00-00", "ev:h:spring:9999-99-99"):
        queries[data] = tg.press_button(RESIDENT, RESIDENT, own["message_id"], data)
    leader_own = tg.sent(BUILDING)[-1]
    queries["leader"] = tg.press_button(BUILDING, BUILDING, leader_own["message_id"],
                                        "ev:h:spring:2026-02-30")
    await world.settle()
    assert _tracebacks(caplog) == []
    for data, query in queries.items():
        answer = tg.answers_to(query)
        assert answer is not None and INTERNAL not in (answer.get("text") or ""), data
    resident_answer = tg.answers_to(queries["ev:h:spring:2026-02-30"])
    assert resident_answer is not None and "负责人" in resident_answer["text"]
    linli = world.linli
    assert await linli.pending.get(BUILDING, "event_flow", linli.clock.now()) is None
