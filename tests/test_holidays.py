"""Lunar holidays: their dates, and the draft offered two weeks ahead (injected clock)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bot.core.clock import ShiftedClock
from bot.culture.holidays import coming, holiday_date
from sandbox.fakegram import FakeTelegram
from tests.harness import BotHarness

SECRETARY, CHIEF = 1004, 1003
ORG = f"""
[[nodes]]
key = "harmony"
name = "和谐社区"
level = "community"

[[nodes]]
key = "sunshine"
name = "阳光小区"
level = "compound"
parent = "harmony"

[[nodes]]
key = "b1"
name = "1号楼"
level = "building"
parent = "sunshine"
chat_id = -100801

[[leaders]]
node = "harmony"
user_id = {SECRETARY}
name = "孙书记"

[[leaders]]
node = "sunshine"
user_id = {CHIEF}
name = "赵片长"
"""


def test_holiday_dates_from_the_lunar_calendar() -> None:
    assert holiday_date("spring", 2026) == date(2026, 2, 17)
    assert holiday_date("spring", 2027) == date(2027, 2, 6)
    assert holiday_date("dragon_boat", 2026) == date(2026, 6, 19)
    assert holiday_date("mid_autumn", 2026) == date(2026, 9, 25)
    assert holiday_date("double_ninth", 2026) == date(2026, 10, 18)
    assert holiday_date("mid_autumn", 2027) == date(2027, 9, 15)
    assert coming(date(2027, 9, 1)) == [("mid_autumn", date(2027, 9, 15))]
    assert coming(date(2027, 8, 31)) == []  # 15 days ahead: not yet


async def test_mid_autumn_draft_offered_two_weeks_ahead(tg: FakeTelegram, tmp_path: Path) -> None:
    # 2027-08-31 08:59 in Shanghai: 中秋节 (2027-09-15) is 15 days away
    clock = ShiftedClock(datetime(2027, 8, 31, 0, 59, tzinfo=UTC))
    linli = BotHarness(tg, tmp_path, clock=clock)
    await linli.start()
    try:
        for uid, name in ((SECRETARY, "孙书记"), (CHIEF, "赵片长")):
            tg.add_user(uid, name)
        tg.add_group(-100801, "1号楼业主群", members=[SECRETARY, CHIEF])
        await linli.import_org(ORG)
        for uid in (SECRETARY, CHIEF):
            tg.user_sends(uid, uid, "/start")
            await tg.wait_for(lambda m, uid=uid: m["chat"]["id"] == uid)
        clock.advance(timedelta(minutes=2))  # 09:01, 15 days ahead: no offer yet
        await linli.linli.scheduler.sweep()
        assert await linli.linli.scheduler.deadlines.fired_count("holiday") >= 1
        assert not [m for m in tg.sent(SECRETARY) if "中秋节" in (m.get("text") or "")]

        clock.advance(timedelta(days=1))  # 2027-09-01 09:01: two weeks before
        await linli.linli.scheduler.sweep()
        offer = await tg.wait_for(lambda m: m["chat"]["id"] == SECRETARY
                                  and "中秋节（2027-09-15）还有 14 天" in m.get("text", ""))
        assert "中秋邻里茶话会" in offer["text"]
        assert not [m for m in tg.sent(CHIEF) if "中秋节" in (m.get("text") or "")]
        clock.advance(timedelta(days=1))  # offered once, not every day
        await linli.linli.scheduler.sweep()
        await linli.restart()
        offers = [m for m in tg.sent(SECRETARY) if "还有" in (m.get("text") or "")]
        assert len(offers) == 1

        # the draft: title, description and time ready; the leader adds place and scope
        tg.press_button(SECRETARY, SECRETARY, offer["message_id"],
                        "ev:h:mid_autumn:2027-09-15")
        await tg.wait_for(lambda m: m["chat"]["id"] == SECRETARY
                          and "2027-09-15 09:30–11:30" in m.get("text", ""))
        tg.user_sends(SECRETARY, SECRETARY, "社区广场")
        scope = await tg.wait_for(lambda m: m["chat"]["id"] == SECRETARY
                                  and "第 6 步" in m.get("text", ""))
        tg.press_button(SECRETARY, SECRETARY, scope["message_id"],
                        next(b["callback_data"] for row in scope["reply_markup"]["inline_keyboard"]
                             for b in row if b["text"] == "和谐社区"))
        await tg.wait_for(lambda m: m["chat"]["id"] == SECRETARY and "第 7 步" in m.get("text", ""))
        tg.user_sends(SECRETARY, SECRETARY, "不限")
        repeat = await tg.wait_for(lambda m: m["chat"]["id"] == SECRETARY
                                   and "第 8 步" in m.get("text", ""))
        tg.press_button(SECRETARY, SECRETARY, repeat["message_id"], "ev:rc:none")
        confirm = await tg.wait_for(lambda m: m["chat"]["id"] == SECRETARY
                                    and "请确认" in m.get("text", ""))
        tg.press_button(SECRETARY, SECRETARY, confirm["message_id"], "ev:ok")
        post = await tg.wait_for(lambda m: m["chat"]["id"] == -100801
                                 and "中秋邻里茶话会" in m.get("text", ""))
        assert "2027-09-15（周三）09:30–11:30" in post["text"] and "社区广场" in post["text"]
        # a forged holiday key changes nothing
        tg.press_button(SECRETARY, SECRETARY, offer["message_id"], "ev:h:halloween:2027-10-31")
        await tg.wait_for_call("answerCallbackQuery", lambda p: "失效" in (p.get("text") or ""))
    finally:
        await linli.stop()
