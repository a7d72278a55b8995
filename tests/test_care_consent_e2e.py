"""The care list is sensitive (PIPL): an entry records the resident's consent, given in
person (recorded by the leader) or pressed by the resident in private, and no visit is
planned before it. Refusals, a resident the bot cannot reach, a resident without
Telegram, a pasted list, the list's buttons, and a leader in English."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sandbox.fakegram import FakeTelegram
from tests.consent import care_agreed
from tests.harness import BotHarness
from tests.services_world import (
    BUILDING,
    ELDER,
    GRID,
    NEIGHBOUR,
    RESIDENT,
    answer_of,
    button,
    settle,
    texts,
    world,
)


async def _redrawn(tg: FakeTelegram, chat: int, message: dict[str, Any], words: str) -> str:
    async with asyncio.timeout(5):
        while words not in (text := tg.message(chat, message["message_id"]).get("text") or ""):
            await asyncio.sleep(0.02)
    return text


async def _visits_after(linli: BotHarness, days: int) -> None:
    linli.clock.advance(timedelta(days=days, minutes=1))
    await linli.linli.scheduler.sweep()
    await settle(linli)


async def test_the_resident_confirms_in_private_and_visits_start_only_then(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await world(tg, linli)
    tg.user_sends(GRID, GRID, "/care_add 刘奶奶 独居老人 每周 腿脚不便")
    added = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "关爱名单 #1" in m["text"])
    assert "居民本人同意后才开始走访" in added["text"]
    labels = [b["text"] for row in added["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["居民已当面同意", "请居民本人确认"]
    # nothing is planned while the resident has not agreed
    await _visits_after(linli, 8)
    assert not any("走访提醒" in x for x in texts(tg, GRID))

    tg.press_button(GRID, GRID, added["message_id"], button(added, "请居民本人确认"))
    asked = await _redrawn(tg, GRID, added, "在私聊里确认")
    assert "刘奶奶" in asked
    question = await tg.wait_for(lambda m: m["chat"]["id"] == ELDER and "关爱名单" in m["text"])
    assert "3号楼1单元的邻长王想把您列入社区关爱名单（独居老人）" in question["text"]
    assert "每 7 天" in question["text"] and "告诉邻长" in question["text"]
    assert "腿脚不便" not in question["text"]  # the leader's note stays with the leaders
    # another resident forging the answer changes nothing
    own = tg.sent(NEIGHBOUR)[0]
    forged = tg.press_button(NEIGHBOUR, NEIGHBOUR, own["message_id"], "cc:ok:1")
    assert "另一位居民" in await answer_of(tg, forged)
    assert (await linli.linli.care.repo.entry(1)).consent is None

    tg.press_button(ELDER, ELDER, question["message_id"], button(question, "同意"))
    assert "谢谢您" in await _redrawn(tg, ELDER, question, "谢谢您")
    told = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "已同意加入关爱名单 #1"
                             in m["text"])
    assert "第一次走访在" in told["text"]
    consent = await linli.linli.privacy.repo.consent(ELDER, "care")
    assert consent is not None and (consent.how, consent.recorded_by) == ("pressed", ELDER)
    assert (await linli.linli.care.repo.entry(1)).consent == "pressed"
    # pressed again: already answered, nothing twice
    again = tg.press_button(ELDER, ELDER, question["message_id"], "cc:ok:1")
    assert "已经处理过了" in await answer_of(tg, again)
    await _visits_after(linli, 7)
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "走访提醒 #1" in m["text"])
    assert sum("已同意加入关爱名单" in x for x in texts(tg, GRID)) == 1


async def test_a_resident_who_declines_is_not_on_the_list(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await world(tg, linli)
    tg.user_sends(GRID, GRID, "/care_add 3002 低收入 每月")
    added = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "关爱名单 #1" in m["text"])
    tg.press_button(GRID, GRID, added["message_id"], button(added, "请居民本人确认"))
    question = await tg.wait_for(lambda m: m["chat"]["id"] == ELDER and "关爱名单" in m["text"])
    tg.press_button(ELDER, ELDER, question["message_id"], button(question, "不同意"))
    await _redrawn(tg, ELDER, question, "不会把您列入关爱名单")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "没有同意加入关爱名单，已撤销 #1"
                      in m["text"])
    entry = await linli.linli.care.repo.entry(1)
    assert entry is not None and not entry.active and entry.consent is None
    assert await linli.linli.privacy.repo.consent(ELDER, "care") is None
    # the leader's in-person button is stale now
    late = tg.press_button(GRID, GRID, added["message_id"], "cc:in:1")
    assert "没有 #1" in await answer_of(tg, late)
    tg.user_sends(GRID, GRID, "/care")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "暂无关爱对象" in m["text"])
    # added again later: asked again, the old answer does not count
    tg.user_sends(GRID, GRID, "/care_add 3002 低收入 每月")
    again = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "关爱名单 #1" in m["text"]
                              and m["message_id"] != added["message_id"])
    assert "居民同意了吗" in again["text"]


async def test_a_resident_the_bot_cannot_reach_is_asked_in_person(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await world(tg, linli)
    tg.user_blocks_bot(NEIGHBOUR)
    tg.user_sends(GRID, GRID, "/care_add 钱大爷 残疾人 每两周")
    added = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "关爱名单 #1" in m["text"])
    tg.press_button(GRID, GRID, added["message_id"], button(added, "请居民本人确认"))
    told = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "我联系不上 钱大爷" in m["text"])
    tg.press_button(GRID, GRID, told["message_id"], button(told, "居民已当面同意"))
    await _redrawn(tg, GRID, told, "已记录 钱大爷 当面同意")
    consent = await linli.linli.privacy.repo.consent(NEIGHBOUR, "care")
    assert consent is not None and (consent.how, consent.recorded_by) == ("in_person", GRID)


async def test_a_resident_without_telegram_agrees_in_person_only(
        tg: FakeTelegram, linli: BotHarness) -> None:
    await world(tg, linli)
    tg.user_sends(GRID, GRID, "/care_add 赵爷爷 1-302 独居老人 每周")
    added = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "关爱名单 #1" in m["text"])
    labels = [b["text"] for row in added["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["居民已当面同意"]
    forged = tg.press_button(GRID, GRID, added["message_id"], "cc:ask:1")
    assert "不用手机" in await answer_of(tg, forged)
    await care_agreed(tg, GRID, 1)
    await _visits_after(linli, 7)
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "走访提醒 #1" in m["text"]
                      and "赵爷爷" in m["text"])


async def test_a_pasted_list_and_the_lists_buttons(tg: FakeTelegram, linli: BotHarness) -> None:
    await world(tg, linli)
    tg.user_sends(BUILDING, BUILDING, "/care_add 3002 独居老人 P7D\n3001 低收入 P30D\n"
                                      "3003 残疾人 P14D")
    added = await tg.wait_for(lambda m: m["chat"]["id"] == BUILDING and "已登记 3 位" in m["text"])
    assert "3 位要本人同意" in added["text"]
    tg.user_sends(BUILDING, BUILDING, "/care")
    listed = await tg.wait_for(lambda m: m["chat"]["id"] == BUILDING
                               and "关爱名单（共 3 位）" in m["text"])
    assert listed["text"].count("待居民同意") == 3 and "下次" not in listed["text"]
    tg.press_button(BUILDING, BUILDING, listed["message_id"],
                    button(listed, "#3 钱大爷 已当面同意"))
    await _redrawn(tg, BUILDING, listed, "已记录 钱大爷 当面同意")
    tg.press_button(BUILDING, BUILDING, added["message_id"], button(added, "请居民本人确认"))
    await _redrawn(tg, BUILDING, added, "已请 2 位居民")
    await tg.wait_for(lambda m: m["chat"]["id"] == ELDER and "关爱名单" in m["text"])
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "关爱名单" in m["text"])
    tg.press_button(BUILDING, BUILDING, added["message_id"], button(added, "都已当面同意"))
    await _redrawn(tg, BUILDING, added, "已记录 2 位居民当面同意")
    entries = await linli.linli.care.visible_entries(BUILDING)
    assert sorted((e.user_id, e.consent) for e in entries) == [
        (RESIDENT, "in_person"), (ELDER, "in_person"), (NEIGHBOUR, "in_person")]
    tg.user_sends(BUILDING, BUILDING, "/care")
    again = await tg.wait_for(lambda m: m["chat"]["id"] == BUILDING and "关爱名单（共 3 位）"
                              in m["text"] and m["message_id"] != listed["message_id"])
    assert again["text"].count("当面同意") == 3 and "reply_markup" not in again
    # the residents' questions are stale now
    question = next(m for m in tg.sent(ELDER) if "关爱名单" in m["text"])
    late = tg.press_button(ELDER, ELDER, question["message_id"], button(question, "同意"))
    assert "已经处理过了" in await answer_of(tg, late)


async def test_a_leader_in_english(tg: FakeTelegram, linli: BotHarness) -> None:
    await world(tg, linli)
    tg.user_sends(GRID, GRID, "/lang en")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "English" in m["text"])
    tg.user_sends(GRID, GRID, "/care_add 3002 elderly_alone P7D")
    added = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "care list as #1" in m["text"])
    assert "Have they agreed?" in added["text"]
    labels = [b["text"] for row in added["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["They agreed in person", "Ask them to confirm"]
    await care_agreed(tg, GRID, 1, lang="en")
    text = tg.message(GRID, added["message_id"])["text"]
    assert "The first visit for #1 is on" in text
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in text.replace("刘奶奶", "").replace(
        "3号楼1单元", "").replace("独居老人", ""))
