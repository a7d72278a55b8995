"""The community desk in a real headless Chromium (Debian's, driven by Playwright).

Sign-in by the one-time link and by a Mini App initData built with the test bot's token,
a building leader's scope, filters, an action that tells the reporter in chat, an .xlsx
export read back with openpyxl, forged and replayed sign-ins refused. Screenshots at phone
and desktop width land in tests/screenshots/ for a person to look at.
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
from openpyxl import load_workbook
from playwright.async_api import Browser, Page, async_playwright

from sandbox.fakegram import FakeTelegram
from tests.consent import care_agreed
from tests.harness import TOKEN, BotHarness
from tests.services_world import BUILDING, BUILDING4, GRID, RESIDENT, button, settle, world
from web.auth import sign_init_data

SHOTS = Path(__file__).parent / "screenshots"
CHROMIUM = "/usr/bin/chromium"
PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1280, "height": 900}


@pytest.fixture
async def desk(tg: FakeTelegram, tmp_path: Path) -> AsyncIterator[BotHarness]:
    harness = BotHarness(tg, tmp_path, web={"port": 0})
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    SHOTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        try:
            yield chromium
        finally:
            await chromium.close()


async def _link(tg: FakeTelegram, user_id: int) -> str:
    tg.user_sends(user_id, user_id, "/dashboard")
    said = await tg.wait_for(lambda m: m["chat"]["id"] == user_id
                             and "/login/" in (m.get("text") or ""))
    match = re.search(r"http://\S+/login/\S+", said["text"])
    assert match is not None
    return match.group(0)


async def _signed_in(browser: Browser, tg: FakeTelegram, user_id: int,
                     viewport: dict[str, int] = DESKTOP) -> Page:
    page = await browser.new_page(viewport=viewport, locale="zh-CN")  # type: ignore[arg-type]
    await page.goto(await _link(tg, user_id))
    return page


async def _report(tg: FakeTelegram, text: str = "楼道灯不亮了，晚上看不见") -> dict:
    tg.user_sends(RESIDENT, RESIDENT, f"/report {text}")
    return await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "诉求 #" in m["text"])


async def test_sign_in_by_link_then_the_link_is_used(
        tg: FakeTelegram, desk: BotHarness, browser: Browser) -> None:
    await world(tg, desk)
    link = await _link(tg, BUILDING)
    page = await browser.new_page(viewport=DESKTOP)  # type: ignore[arg-type]
    await page.goto(link)
    assert await page.locator("h1").first.inner_text() == "3号楼 · 2026年11月"
    assert await page.locator(".card[data-key=received] .label").inner_text() == "收到诉求"
    # the same link a second time (another browser, or someone who saw it) is refused
    other = await browser.new_page()
    answer = await other.goto(link)
    assert answer is not None and answer.status == 403
    assert "这个登录链接已失效" in await other.locator("h1").inner_text()
    # no sign-in at all: a page that says how to get one
    stranger = await (await browser.new_context()).new_page()
    answer = await stranger.goto(link.split("/login/")[0] + "/reports")
    assert answer is not None and answer.status == 401
    assert "/dashboard" in await stranger.content()


async def test_mini_app_sign_in_and_forged_or_replayed_data(
        tg: FakeTelegram, desk: BotHarness, browser: Browser) -> None:
    await world(tg, desk)
    base = desk.app.bot_data["dashboard"].url  # type: ignore[union-attr]
    fields = {"auth_date": str(int(desk.clock.now().timestamp())),
              "query_id": "AAE1", "user": json.dumps({"id": BUILDING, "first_name": "李"})}
    init_data = sign_init_data(fields, TOKEN)
    page = await browser.new_page(viewport=PHONE, locale="zh-CN")  # type: ignore[arg-type]
    await page.goto(f"{base}/app#tgWebAppData={quote(init_data)}&tgWebAppVersion=8.0")
    await page.wait_for_url(f"{base}/")
    assert "3号楼" in await page.locator("h1").inner_text()
    await page.screenshot(path=SHOTS / "overview-phone.png", full_page=True)
    async with aiohttp.ClientSession() as http:
        replayed = await http.post(f"{base}/auth/webapp", data={"init_data": init_data})
        assert replayed.status == 403 and (await replayed.json())["reason"] == "replayed"
        forged = sign_init_data({**fields, "user": json.dumps({"id": 1})}, "1:another-bot")
        answer = await http.post(f"{base}/auth/webapp", data={"init_data": forged})
        assert answer.status == 403 and (await answer.json())["reason"] == "forged"
        tampered = init_data.replace("%22%E6%9D%8E%22", "%22X%22")
        answer = await http.post(f"{base}/auth/webapp", data={"init_data": tampered})
        assert answer.status == 403
        old = sign_init_data({**fields, "auth_date": str(int(time.time()) - 10 * 86400)}, TOKEN)
        answer = await http.post(f"{base}/auth/webapp", data={"init_data": old})
        assert answer.status == 403 and (await answer.json())["reason"] == "expired"
    # a forged initData in the page itself: it says so, and nothing is signed in
    bad = await (await browser.new_context()).new_page()
    await bad.goto(f"{base}/app#tgWebAppData={quote(forged)}")
    await bad.wait_for_selector("#status.refused")
    assert "登录没有成功" in await bad.locator("#status").inner_text()


async def test_a_building_leader_sees_only_their_building(
        tg: FakeTelegram, desk: BotHarness, browser: Browser) -> None:
    await world(tg, desk)
    await _report(tg)
    tg.user_sends(BUILDING4, BUILDING4, "/dashboard")  # 4号楼's leader
    page = await _signed_in(browser, tg, BUILDING4)
    await page.goto(page.url.rstrip("/") + "/reports")
    assert "没有符合条件的诉求" in await page.content()
    answer = await page.goto(page.url.split("/reports")[0] + "/reports/1")
    assert answer is not None and answer.status == 403
    assert "不在您负责的范围内" in await page.content()
    # a resident has no desk at all
    tg.user_sends(RESIDENT, RESIDENT, "/dashboard")
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "只对负责人开放" in m["text"])


async def test_filter_act_and_export(
        tg: FakeTelegram, desk: BotHarness, browser: Browser, tmp_path: Path) -> None:
    await world(tg, desk)
    await _report(tg)
    prompt = await _report(tg, "电梯坏了，老人上不去楼")
    page = await _signed_in(browser, tg, GRID)
    base = page.url.rstrip("/")
    await page.goto(f"{base}/reports")
    await page.fill("input[name=q]", "电梯")
    await page.click("form.filters button[type=submit]")
    rows = page.locator("table.list tbody tr")
    assert await rows.count() == 1 and "电梯坏了" in await rows.first.inner_text()
    await rows.first.locator("a").click()
    await page.wait_for_url(re.compile(r".*/reports/\d+$"))
    await page.set_viewport_size(PHONE)
    await page.screenshot(path=SHOTS / "report-phone.png", full_page=True)
    await page.set_viewport_size(DESKTOP)
    await page.screenshot(path=SHOTS / "report-desktop.png", full_page=True)
    await page.click("button:has-text('受理')")
    await page.wait_for_selector(".notice")
    assert "已受理" in await page.locator(".notice").inner_text()
    told = await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT and "受理" in m["text"]
                             and "#2" in m["text"])
    assert "王邻长" in told["text"]
    # the chat button of the same report is now stale: no second acknowledgement
    tg.press_button(GRID, GRID, prompt["message_id"], button(prompt, "受理"))
    await settle(desk)
    events = await desk.linli.report_repo.events(2)
    assert [e.action for e in events].count("acknowledged") == 1
    # the list exports to .xlsx with Chinese headers, a frozen header row and real dates
    await page.goto(f"{base}/reports")
    async with page.expect_download() as waiting:
        await page.click("text=Excel (.xlsx)")
    download = await waiting.value
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    sheet = load_workbook(io.BytesIO(saved.read_bytes())).active
    assert [c.value for c in sheet[1]] == ["编号", "所在", "类别", "状态", "提交时间", "当前层级",
                                           "内容"]
    assert sheet.freeze_panes == "A2"
    assert {sheet.cell(row=r, column=1).value for r in (2, 3)} == {"#1", "#2"}
    assert sheet.cell(row=2, column=5).is_date
    await page.goto(f"{base}/")
    await page.screenshot(path=SHOTS / "overview-desktop.png", full_page=True)


async def test_care_visits_only_for_the_chain_and_the_other_lists(
        tg: FakeTelegram, desk: BotHarness, browser: Browser) -> None:
    await world(tg, desk)
    tg.user_sends(GRID, GRID, "/care_add 3002 独居老人 P7D")
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "关爱名单 #1" in m["text"])
    await care_agreed(tg, GRID, 1)
    desk.clock.advance(timedelta(days=7, minutes=1))
    await desk.linli.scheduler.sweep()
    await tg.wait_for(lambda m: m["chat"]["id"] == GRID and "走访提醒 #1" in m["text"])
    page = await _signed_in(browser, tg, BUILDING)
    base = page.url.rstrip("/")
    await page.goto(f"{base}/care")
    row = page.locator("table.list tbody tr").first
    assert "刘奶奶" in await row.inner_text() and "独居老人" in await row.inner_text()
    assert "1-301" in await row.inner_text()  # the unit: the chain may see it
    for path, heading in (("/followups", "恳谈事项跟进"), ("/events", "近期活动"),
                          ("/leaders", "负责人排名"), ("/org", "组织")):
        await page.goto(base + path)
        assert heading in await page.locator("h1").inner_text()
    # another building's leader: the care list of 3号楼 is not theirs
    other = await _signed_in(browser, tg, BUILDING4)
    await other.goto(f"{base}/care")
    assert "刘奶奶" not in await other.content()
    assert "目前没有待走访的关爱对象" in await other.content()


async def test_a_voice_report_plays_on_its_page(
        tg: FakeTelegram, desk: BotHarness, browser: Browser) -> None:
    await world(tg, desk)
    update = tg.user_sends(RESIDENT, RESIDENT, voice=12)
    offer = await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT
                              and "收到您的语音（12 秒）" in (m.get("text") or ""))
    tg.press_button(RESIDENT, RESIDENT, offer["message_id"], button(offer, "提交"))
    await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT
                      and "已收到您的诉求 #1" in (m.get("text") or ""))
    page = await _signed_in(browser, tg, GRID)
    base = page.url.rstrip("/")
    await page.goto(f"{base}/reports/1")
    assert "🎤 语音 12 秒" in await page.locator(".report-card").inner_text()
    source = await page.locator("audio.voice").get_attribute("src")
    answer = await page.request.get(base + source)
    assert answer.status == 200 and answer.headers["content-type"] == "audio/ogg"
    sent = tg.files[update["message"]["voice"]["file_id"]].data
    assert await answer.body() == sent  # the resident's own recording, fetched from Telegram
