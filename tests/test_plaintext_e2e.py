"""Residents talk the way they talk: plain text, greetings, the unit after /join, voice,
and "me too" (issue 13, items 2-4), end to end through the fake Telegram server."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sandbox.fakegram import FakeTelegram
from tests.consent import agree
from tests.harness import BotHarness
from tests.orgs import harmony, harmony_leaders, node, resident
from tests.test_reports_e2e import _button

GROUP = -100300
GRID, BUILDING, COMPOUND, COMMUNITY = 1001, 1002, 1003, 1004
ZHANG, QIAN, NEWCOMER, SUN = 3001, 3002, 3003, 3004
NAMES = {GRID: "王", BUILDING: "李", COMPOUND: "赵", COMMUNITY: "孙", ZHANG: "张阿姨",
         QIAN: "钱大爷", NEWCOMER: "周阿姨", SUN: "孙奶奶"}
ORG = (harmony(building_chat=GROUP) + node("b3-u2", "3号楼2单元", "grid", "b3")
       + harmony_leaders(GRID, BUILDING, COMPOUND, COMMUNITY)
       + resident(ZHANG, "b3-u1", "1-502") + resident(QIAN, "b3-u2", "2-301")
       + resident(SUN, "b3-u1", "1-601"))


async def _world(tg: FakeTelegram, linli: BotHarness) -> None:
    for uid, name in NAMES.items():
        tg.add_user(uid, name)
    tg.add_group(GROUP, "3号楼业主群", members=list(NAMES))
    await linli.import_org(ORG)
    for uid in NAMES:
        tg.user_sends(uid, uid, "/start")
    await linli.settle()


def _texts(tg: FakeTelegram, chat: int) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in tg.sent(chat)]


def _last(tg: FakeTelegram, chat: int) -> dict[str, Any]:
    return tg.sent(chat)[-1]


def _current(tg: FakeTelegram, chat: int, message: dict[str, Any]) -> dict[str, Any]:
    current = tg.message(chat, message["message_id"])
    assert current is not None
    return current


async def _press(tg: FakeTelegram, linli: BotHarness, chat: int, message: dict[str, Any],
                 label: str) -> dict[str, Any]:
    """Press a button on the message as it is now; the message as it is after."""
    tg.press_button(chat, chat, message["message_id"], _button(_current(tg, chat, message), label))
    await linli.settle()
    return _current(tg, chat, message)


async def _say(tg: FakeTelegram, linli: BotHarness, uid: int, text: str) -> dict[str, Any]:
    tg.user_sends(uid, uid, text)
    await linli.settle()
    return _last(tg, uid)


async def _count(linli: BotHarness, sql: str = "SELECT count(*) FROM reports") -> int:
    return int(await linli.linli.db.fetchval(sql))


async def test_free_text_is_offered_and_filed_like_a_report(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    offer = await _say(tg, linli, ZHANG, "楼道的灯坏了好几天了，晚上看不见路")
    assert offer["text"].startswith("要把这件事作为诉求提交吗？")
    assert "「楼道的灯坏了好几天了，晚上看不见路」" in offer["text"]
    assert "类别：设施维修" in offer["text"]  # the /report TEXT keyword guess (坏)
    assert await _count(linli) == 0
    after = await _press(tg, linli, ZHANG, offer, "提交")
    assert after["text"] == "已提交，谢谢您！"
    receipt = _last(tg, ZHANG)
    assert receipt["text"] == "已收到您的诉求 #1，邻长会尽快联系您。"
    report = await linli.linli.report_repo.get(1)
    assert (report.text, report.category, report.reporter_id) == (
        "楼道的灯坏了好几天了，晚上看不见路", "repair", ZHANG)
    prompt = _last(tg, GRID)
    assert "诉求 #1" in prompt["text"] and "张阿姨" in prompt["text"]
    # the same draft cannot be filed twice from the old buttons
    tg.press_button(ZHANG, ZHANG, offer["message_id"], "ro:ok:" + _button(
        offer, "提交").split(":")[2])
    await linli.settle()
    assert await _count(linli) == 1


async def test_change_category_then_submit(tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    offer = await _say(tg, linli, ZHANG, "希望小区多装几个健身器材")
    assert "类别：意见建议" in offer["text"]
    picking = await _press(tg, linli, ZHANG, offer, "改类别")
    assert picking["text"] == "请选择这件事的类别："
    back = await _press(tg, linli, ZHANG, picking, "便民服务")
    assert "类别：便民服务" in back["text"] and "健身器材" in back["text"]
    await _press(tg, linli, ZHANG, back, "提交")
    report = await linli.linli.report_repo.get(1)
    assert report.category == "service"
    assert _last(tg, ZHANG)["text"].startswith("已收到您的诉求 #1")


async def test_no_thanks_stores_nothing(tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    offer = await _say(tg, linli, ZHANG, "楼下的垃圾桶满了")
    after = await _press(tg, linli, ZHANG, offer, "不用了")
    assert after["text"] == "好的，这条不提交了。有需要随时告诉我。"
    assert await _count(linli) == 0
    assert await _count(linli, "SELECT count(*) FROM pending_inputs") == 0
    assert not [m for m in tg.sent(GRID) if "诉求 #" in (m.get("text") or "")]


async def test_a_greeting_gets_a_friendly_answer_and_the_menu(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    for words in ("你好", "在吗？", "谢谢！", "hi", "Thanks"):
        answer = await _say(tg, linli, ZHANG, words)
        assert "要把这件事作为诉求提交吗" not in answer["text"], words
        assert "使用说明" in answer["text"] and "/report" in answer["text"], words
        markup = answer.get("reply_markup") or {}
        assert "inline_keyboard" not in markup, words  # nothing to file
        assert "📝 反映问题" in str(markup.get("keyboard")), words  # the menu's big buttons
    assert _texts(tg, ZHANG)[-3].startswith("不客气")
    assert _texts(tg, ZHANG)[-5].startswith("您好！")
    assert await _count(linli, "SELECT count(*) FROM pending_inputs") == 0


async def _join_private(tg: FakeTelegram, linli: BotHarness, uid: int) -> None:
    tg.user_sends(uid, uid, "/join")
    await linli.settle()
    pick = _last(tg, uid)
    for label in ("阳光小区", "3号楼", "3号楼2单元"):
        button = next(b for row in pick["reply_markup"]["inline_keyboard"] for b in row
                      if b["text"] == label)
        tg.press_button(uid, uid, pick["message_id"], button["callback_data"])
        await linli.settle()
        pick = _current(tg, uid, pick)
    await agree(tg, uid, uid)  # the personal-information notice, once the place is picked
    await linli.settle()
    assert "门牌号" in _last(tg, uid)["text"]


async def test_a_sentence_after_join_is_not_a_door_number(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    await _join_private(tg, linli, NEWCOMER)
    # the door-number question is open; a sentence is a new message, not the unit
    offer = await _say(tg, linli, NEWCOMER, "楼道的灯坏了好几天了，晚上看不见路")
    assert offer["text"].startswith("要把这件事作为诉求提交吗？")
    for words in ("你好", "电梯坏了"):
        await _say(tg, linli, NEWCOMER, words)
    home = await linli.linli.org_repo.resident(NEWCOMER)
    assert home is not None and home.unit is None
    # a door number is still taken afterwards, though a newer offer waits
    saved = await _say(tg, linli, NEWCOMER, "1-502")
    home = await linli.linli.org_repo.resident(NEWCOMER)
    assert home is not None and home.unit == "1-502", saved
    assert "1-502" in saved["text"] and "要把这件事" not in saved["text"]
    assert await _count(linli) == 0  # nothing was filed on its own


async def test_the_unit_question_takes_unit_shapes(tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    await _join_private(tg, linli, NEWCOMER)
    await _say(tg, linli, NEWCOMER, "3单元502室")
    home = await linli.linli.org_repo.resident(NEWCOMER)
    assert home is not None and home.unit == "3单元502室"


async def test_unregistered_text_is_kept_and_offered_after_join(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    kept = await _say(tg, linli, NEWCOMER, "小区门口的路灯不亮了")
    assert "/join" in kept["text"] and "保存" in kept["text"]
    assert await _count(linli) == 0
    tg.user_sends(NEWCOMER, GROUP, "/join")
    await linli.settle()
    pick = _last(tg, GROUP)
    unit1 = next(b for row in pick["reply_markup"]["inline_keyboard"] for b in row
                 if b["text"] == "3号楼1单元")
    tg.press_button(NEWCOMER, GROUP, pick["message_id"], unit1["callback_data"])
    await agree(tg, NEWCOMER, GROUP)  # the personal-information notice, then 同意
    await linli.settle()
    offer = next(m for m in tg.sent(NEWCOMER) if "还没提交" in (m.get("text") or ""))
    assert "路灯不亮" in offer["text"]  # offered in private, the group sees no words of it
    assert not any("路灯" in (m.get("text") or "") for m in tg.sent(GROUP))
    tg.press_button(NEWCOMER, NEWCOMER, offer["message_id"], _button(offer, "提交"))
    await linli.settle()
    report = await linli.linli.report_repo.get(1)
    assert report is not None and report.text == "小区门口的路灯不亮了"


def _voices(tg: FakeTelegram, chat: int) -> list[dict[str, Any]]:
    return [m for m in tg.sent(chat) if m["method"] in ("sendVoice", "sendVideoNote")]


async def test_a_voice_report_reaches_the_grid_leader_as_a_voice_and_climbs_with_it(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    update = tg.user_sends(ZHANG, ZHANG, voice=12)
    file_id = update["message"]["voice"]["file_id"]
    await linli.settle()
    offer = _last(tg, ZHANG)
    assert offer["text"].startswith("收到您的语音（12 秒）。要作为诉求提交吗？")
    assert "机器转写" not in offer["text"]  # no engine by default
    await _press(tg, linli, ZHANG, offer, "提交")
    assert _last(tg, ZHANG)["text"] == "已收到您的诉求 #1，邻长会尽快联系您。"
    report = await linli.linli.report_repo.get(1)
    assert (report.text, report.voice_file_id, report.voice_duration, report.voice_kind) == (
        "（语音）", file_id, 12, "voice")
    voice = _voices(tg, GRID)
    assert [v["voice"]["file_id"] for v in voice] == [file_id]
    card = next(m for m in tg.sent(GRID) if "诉求 #1" in (m.get("text") or ""))
    assert "🎤 语音 12 秒" in card["text"] and "内容：（语音）" in card["text"]
    # missed deadlines: the voice climbs with the report
    for hours, leader in ((2, BUILDING), (4, COMPOUND)):
        linli.clock.advance(timedelta(hours=hours, seconds=1))
        assert await linli.linli.scheduler.sweep() == 1
        await linli.settle()
        assert [v["voice"]["file_id"] for v in _voices(tg, leader)] == [file_id], leader
        assert any("🎤 语音 12 秒" in (m.get("text") or "") for m in tg.sent(leader))
    # a reassignment down the chain sends it again to whoever gets the report
    prompt = next(m for m in reversed(tg.sent(COMPOUND)) if m.get("reply_markup"))
    picking = await _press(tg, linli, COMPOUND, prompt, "转派")
    del picking
    choice = _last(tg, COMPOUND)
    tg.press_button(COMPOUND, COMPOUND, choice["message_id"], _button(choice, "3号楼1单元"))
    await linli.settle()
    assert len(_voices(tg, GRID)) == 2
    # /status shows it: the card line for the reporter, the voice itself for the chain
    tg.user_sends(ZHANG, ZHANG, "/status 1")
    tg.user_sends(BUILDING, BUILDING, "/status 1")
    await linli.settle()
    assert "🎤 语音 12 秒" in _last(tg, ZHANG)["text"]
    assert not _voices(tg, ZHANG)
    assert len(_voices(tg, BUILDING)) == 2 and "🎤 语音 12 秒" in _last(tg, BUILDING)["text"]
    # a voice never went to a group
    assert not [c for c in tg.calls if c.method in ("sendVoice", "sendVideoNote", "copyMessage")
                and int(c.params.get("chat_id", 0)) < 0]


async def test_a_video_note_and_words_added_to_a_voice(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    tg.user_sends(QIAN, QIAN, video_note=8)
    await linli.settle()
    offer = _last(tg, QIAN)
    assert offer["text"].startswith("收到您的视频留言（8 秒）")
    # words typed while the voice waits are added to it
    added = await _say(tg, linli, QIAN, "二单元门口的水管漏水了")
    assert "「二单元门口的水管漏水了」" in added["text"] and "类别：设施维修" in added["text"]
    await _press(tg, linli, QIAN, added, "提交")
    report = await linli.linli.report_repo.get(1)
    assert (report.text, report.voice_kind, report.category) == (
        "二单元门口的水管漏水了", "video_note", "repair")
    # 3号楼2单元 has no neighbour leader: the building leader gets the video note itself
    notes = _voices(tg, BUILDING)
    assert [n["method"] for n in notes] == ["sendVideoNote"] and not _voices(tg, GRID)
    card = next(m for m in tg.sent(BUILDING) if "诉求 #1" in (m.get("text") or ""))
    assert "📹 视频留言 8 秒" in card["text"]


async def test_group_report_reply_to_own_voice(tg: FakeTelegram, linli: BotHarness) -> None:
    await _world(tg, linli)
    spoken = tg.user_sends(ZHANG, GROUP, voice=5)
    before = len(tg.sent(GROUP))
    tg.user_sends(QIAN, GROUP, "/report", reply_to_message_id=spoken["message"]["message_id"])
    await linli.settle()
    assert "自己发的语音" in _last(tg, GROUP)["text"]  # someone else's voice: refused
    tg.user_sends(ZHANG, GROUP, "/report", reply_to_message_id=spoken["message"]["message_id"])
    await linli.settle()
    assert len(tg.sent(GROUP)) == before + 1  # only the refusal above
    offer = _last(tg, ZHANG)
    assert offer["text"].startswith("收到您的语音（5 秒）")
    await _press(tg, linli, ZHANG, offer, "提交")
    report = await linli.linli.report_repo.get(1)
    assert report.source_chat_id == GROUP and report.voice_duration == 5
    assert _last(tg, ZHANG)["text"].startswith("已收到您的诉求 #1")
    assert len(tg.sent(GROUP)) == before + 1  # confirmed in private: the group stays quiet


async def test_transcription_engine(tg: FakeTelegram, tmp_path: Path) -> None:
    harness = BotHarness(tg, tmp_path, speech={"engine": "tests.fakespeech:FakeSpeech"})
    await harness.start()
    try:
        await _world(tg, harness)
        tg.user_sends(ZHANG, ZHANG, voice=9, spoken="三号楼电梯坏了，上不去楼")
        await harness.settle()
        offer = _last(tg, ZHANG)
        assert "机器转写，仅供参考：「三号楼电梯坏了，上不去楼」" in offer["text"]
        assert "类别：设施维修" in offer["text"]  # guessed from the transcript
        await _press(tg, harness, ZHANG, offer, "提交")
        report = await harness.linli.report_repo.get(1)
        assert (report.text, report.transcript, report.category) == (
            "（语音）", "三号楼电梯坏了，上不去楼", "repair")
        card = next(m for m in tg.sent(GRID) if "诉求 #1" in (m.get("text") or ""))
        assert "机器转写，仅供参考：三号楼电梯坏了，上不去楼" in card["text"]
    finally:
        await harness.stop()
