"""The same figures everywhere: /stats, the desk's overview, its .xlsx and the monthly report,
for the hand-computed fixture of tests/test_stats.py (October 2026, the whole community)."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from openpyxl import load_workbook

from bot.core.clock import ShiftedClock
from sandbox.fakegram import FakeTelegram
from tests.harness import BotHarness
from tests.test_stats import COMMUNITY, hand_computed

# worked out by hand in tests/test_stats.py; care: 4 visits due, 1 on time (by 1 November
# the visit due an hour before 20 October is late too)
EXPECTED = {"收到诉求": "9", "响应率": "75.0%", "解决率": "55.6%", "满意率": "80.0%",
            "小事不出格率": "80.0%", "大事不出社区率": "55.6%", "超期件数": "3",
            "走访按时率": "25.0%"}
MONTHLY_AT = datetime(2026, 11, 1, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


async def test_stats_desk_export_and_monthly_report_agree(tg: FakeTelegram,
                                                          tmp_path: Path) -> None:
    fx = await hand_computed(tmp_path)
    await fx.db.close()
    tg.add_user(COMMUNITY, "孙书记")
    harness = BotHarness(tg, tmp_path, clock=ShiftedClock(datetime(2026, 10, 31, 12, 0,
                                                                   tzinfo=UTC)),
                         database=fx.settings.database, web={"port": 0})
    await harness.start()
    try:
        tg.user_sends(COMMUNITY, COMMUNITY, "/start")
        await tg.wait_for(lambda m: m["chat"]["id"] == COMMUNITY)
        harness.clock.advance(MONTHLY_AT - harness.clock.now())
        await harness.linli.scheduler.sweep()
        monthly = await tg.wait_for(lambda m: m["chat"]["id"] == COMMUNITY
                                    and "月度考核报告" in (m.get("text") or ""))
        tg.user_sends(COMMUNITY, COMMUNITY, "/stats 2026-10")
        stats = await tg.wait_for(lambda m: m["chat"]["id"] == COMMUNITY
                                  and "考核评价" in (m.get("text") or "")
                                  and "月度考核报告" not in m["text"])
        for label, value in EXPECTED.items():
            assert f"{label}：{value}" in stats["text"], label
            assert f"{label}：{value}" in monthly["text"], label

        tg.user_sends(COMMUNITY, COMMUNITY, "/dashboard")
        said = await tg.wait_for(lambda m: m["chat"]["id"] == COMMUNITY
                                 and "/login/" in (m.get("text") or ""))
        link = re.search(r"http://\S+/login/\S+", said["text"]).group(0)  # type: ignore[union-attr]
        base = link.split("/login/")[0]
        # a jar that keeps cookies of 127.0.0.1, as a browser does
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(link) as signed_in:
                assert signed_in.status == 200
            async with http.get(f"{base}/?period=2026-10") as page:
                html = await page.text()
            cards = dict(re.findall(r'<div class="label">([^<]+)</div>\s*'
                                    r'<div class="value">([^<]+)</div>', html))
            assert cards == EXPECTED
            async with http.get(f"{base}/?period=2026-10&format=xlsx") as export:
                book = load_workbook(io.BytesIO(await export.read()))
        sheet = book.active
        shown = {}
        for label, value in (row[:2] for row in sheet.iter_rows(min_row=2, values_only=True)):
            shown[label] = f"{value * 100:.1f}%" if isinstance(value, float) else str(value)
        assert shown == EXPECTED
        rate_cell = next(r[1] for r in sheet.iter_rows(min_row=2) if r[0].value == "响应率")
        assert rate_cell.number_format == "0.0%"  # a percentage Excel can sum, not text
    finally:
        await harness.stop()


async def test_the_leaders_ranking_of_the_desk(tg: FakeTelegram, tmp_path: Path) -> None:
    """The ranking's rows for the hand-computed October: the grid leader's three rates,
    handled, overdue and median response time, in the page and in the .xlsx."""
    fx = await hand_computed(tmp_path)
    await fx.db.close()
    tg.add_user(COMMUNITY, "孙书记")
    harness = BotHarness(tg, tmp_path, clock=ShiftedClock(MONTHLY_AT),
                         database=fx.settings.database, web={"port": 0})
    await harness.start()
    try:
        tg.user_sends(COMMUNITY, COMMUNITY, "/dashboard")
        said = await tg.wait_for(lambda m: m["chat"]["id"] == COMMUNITY
                                 and "/login/" in (m.get("text") or ""))
        link = re.search(r"http://\S+/login/\S+", said["text"]).group(0)  # type: ignore[union-attr]
        base = link.split("/login/")[0]
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(link):
                pass
            async with http.get(f"{base}/leaders?period=2026-10&level=grid") as page:
                html = await page.text()
            async with http.get(f"{base}/leaders?period=2026-10&format=xlsx") as export:
                sheet = load_workbook(io.BytesIO(await export.read())).active
        # 王邻长 (g1): reached 8, missed 3, on time 5/8, resolved 4/8, satisfied 1 of 2 rated,
        # acknowledged after 30 45 60 70 90 minutes: a median of one hour
        assert re.search(r"<td>王邻长</td><td>3号楼1单元</td><td>邻里网格</td><td>8</td><td>3</td>"
                         r"<td>62.5%</td><td>50.0%</td><td>50.0%</td><td>1.0</td>", html), html
        assert "孙书记" not in html  # only the grid level was asked for
        rows = {r[0]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
        assert rows["王邻长"][3:] == (8, 3, 0.625, 0.5, 0.5, 1.0)
    finally:
        await harness.stop()
