"""/stats and the monthly report end to end: text, chart and CSV through the notifier."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sandbox.fakegram import FakeTelegram
from tests.harness import BotHarness
from tests.services_world import (
    BUILDING,
    COMMUNITY,
    GRID,
    GRID4,
    GROUP,
    RESIDENT,
    button,
    settle,
    texts,
    world,
)


async def _one_report(tg: FakeTelegram, linli: BotHarness) -> None:
    tg.user_sends(RESIDENT, RESIDENT, "/report 楼道灯不亮了")
    prompt = await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #1" in m["text"])
    tg.press_button(GRID, GRID, prompt["message_id"], button(prompt, "受理"))
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "受理" in m["text"])


async def test_stats_for_a_leader_with_chart_and_csv(tg: FakeTelegram, linli: BotHarness) -> None:
    await world(tg, linli)
    await _one_report(tg, linli)
    tg.user_sends(BUILDING, BUILDING, "/stats")
    said = await tg.wait_for(lambda m: m["chat"]["id"] == BUILDING and "考核评价" in m["text"])
    assert "收到诉求：1" in said["text"] and "响应率：100.0%" in said["text"]
    assert "王邻长（3号楼1单元）：经手 1，受理 1" in said["text"]
    assert "周邻长" not in said["text"]  # another building is not in this scope
    files = [m for m in tg.sent(BUILDING) if "document" in m or "photo" in m]
    for _ in range(50):
        if len(files) == 2:
            break
        await settle(linli)
        files = [m for m in tg.sent(BUILDING) if "document" in m or "photo" in m]
    chart, docs = files[0], files[1:]
    # the chart is a photo (seen in the chat, not a file to open), titled with names
    assert "photo" in chart and chart["caption"] == "3号楼 2026年11月 各项比率"
    png = tg.files[chart["photo"][-1]["file_id"]].data
    assert png.startswith(b"\x89PNG") and len(png) > 5_000
    assert [d["document"]["file_name"] for d in docs] == ["stats-b3-2026-11.csv"]
    rows = list(csv.reader(io.StringIO(tg.files[docs[0]["document"]["file_id"]].data
                                       .decode("utf-8-sig"))))
    assert rows[0] == ["指标", "数值"] and ["收到诉求", "1"] in rows


async def test_stats_for_last_month_in_chinese(tg: FakeTelegram, linli: BotHarness) -> None:
    """A report filed on 25 November counts in 「上月」 once December has come, not in 「本月」."""
    await world(tg, linli)
    await _one_report(tg, linli)
    linli.clock.advance(timedelta(days=7))  # 2 December
    tg.user_sends(BUILDING, BUILDING, "/stats 上月")
    said = await tg.wait_for(lambda m: m["chat"]["id"] == BUILDING and "考核评价 · 2026年11月"
                             in (m.get("text") or ""))
    assert "收到诉求：1" in said["text"]
    tg.user_sends(BUILDING, BUILDING, "/stats 本月")
    said = await tg.wait_for(lambda m: m["chat"]["id"] == BUILDING and "考核评价 · 2026年12月"
                             in (m.get("text") or ""))
    assert "收到诉求：0" in said["text"]
    tg.user_sends(BUILDING, BUILDING, "/stats 上周")  # Monday 23 to Sunday 29 November
    said = await tg.wait_for(lambda m: m["chat"]["id"] == BUILDING and "11月23日—11月29日"
                             in (m.get("text") or ""))
    assert "收到诉求：1" in said["text"]
    tg.user_sends(BUILDING, BUILDING, "/stats 去年")
    said = await tg.wait_for(lambda m: m["chat"]["id"] == BUILDING
                             and "「去年」" in (m.get("text") or ""))
    assert "用法：/stats" in said["text"]


async def test_stats_refusals(tg: FakeTelegram, linli: BotHarness) -> None:
    await world(tg, linli)
    tg.user_sends(RESIDENT, RESIDENT, "/stats")
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "只对负责人开放" in m["text"])
    tg.user_sends(GRID, GRID, "/stats last-year")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "用法：/stats" in m["text"])
    tg.user_sends(GRID, GROUP, "/stats")
    await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and "私聊" in m["text"])
    await settle(linli)
    assert not any("document" in m for m in tg.sent())


async def test_monthly_report_on_the_first(tg: FakeTelegram, linli: BotHarness) -> None:
    await world(tg, linli)
    await _one_report(tg, linli)
    linli.clock.advance(timedelta(days=6))  # 2026-12-01 09:00 in Shanghai is due
    await linli.linli.scheduler.sweep()
    report = await tg.wait_for(lambda m: m["chat"]["id"] == COMMUNITY
                               and "2026年11月 月度考核报告" in m["text"])
    assert "和谐社区 考核评价 · 2026年11月" in report["text"]
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "2026年11月 您的月度情况" in m["text"])
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID4 and "经手 0 件" in m["text"])
    await tg.wait_for(lambda m: m["chat"]["id"] == COMMUNITY and "photo" in m
                      and m["caption"] == "和谐社区 2026年11月 各项比率")
    await tg.wait_for(lambda m: m["chat"]["id"] == COMMUNITY and "document" in m
                      and m["document"]["file_name"].endswith(".csv"))
    await settle(linli)
    # once a month: the next is armed for January, and a second sweep sends nothing more
    before = len(tg.sent(COMMUNITY))
    await linli.linli.scheduler.sweep()
    await settle(linli)
    assert len(tg.sent(COMMUNITY)) == before
    assert sum("月度考核报告" in x for x in texts(tg, COMMUNITY)) == 1
    armed = await linli.linli.scheduler.deadlines.armed_for("monthly_report", 0)
    assert armed
