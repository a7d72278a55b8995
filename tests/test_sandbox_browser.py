"""The sandbox's guided tour in a real headless Chromium (Debian's, driven by Playwright):
two people in two pages at once, each seeing the other's doings live. A leak reported,
acknowledged and resolved with buttons, rated; a photo uploaded; a report nobody answers
climbs when the clock jumps; a vote in the topic poll; an event's RSVP and its .ics file.
Screenshots at phone width land in tests/screenshots/ for a person to look at."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.async_api import Browser, Page, async_playwright, expect

from sandbox.demo import B3_GRID, B3_GROUP, B3_LEADER, FORUM, PROPERTY, QIAN, ZHANG
from sandbox.runner import Options, Sandbox

SHOTS = Path(__file__).parent / "screenshots"
CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    box = Sandbox(Options(folder=tmp_path / "sandbox", fresh=True, port=0))
    await box.start()
    try:
        yield box
    finally:
        await box.stop()


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


async def _page(browser: Browser, url: str, user: int, chat: int | None = None) -> Page:
    page = await browser.new_page(viewport=PHONE, locale="zh-CN")  # type: ignore[arg-type]
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors  # type: ignore[attr-defined]
    query = f"?user={user}" + (f"&chat={chat}" if chat is not None else "")
    await page.goto(url + query)
    await expect(page.locator("body.live")).to_have_count(1)  # the WebSocket is open
    return page


def _bubble(page: Page, text: str):  # type: ignore[no-untyped-def]
    return page.locator(".message", has_text=text).last


async def _shot(page: Page, name: str) -> None:
    await page.screenshot(path=str(SHOTS / f"sandbox-{name}.png"))


async def _send(page: Page, text: str) -> None:
    await page.fill("#text", text)
    await page.click("#send-button")


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 90, 40)).save(out, "JPEG")
    return out.getvalue()


async def test_the_tour_as_two_people_at_once(sandbox: Sandbox, browser: Browser) -> None:
    resident = await _page(browser, sandbox.url, ZHANG)
    await expect(resident.locator(".chat")).to_have_count(3)
    await _shot(resident, "1-chats")
    await resident.click(f".chat[data-chat='{ZHANG}']")
    company = await _page(browser, sandbox.url, PROPERTY, PROPERTY)

    # the command menu of the private chat
    await resident.click("#menu-button")
    await expect(resident.locator("#commands .command", has_text="/report")).to_have_count(1)
    await resident.click("#menu-button")

    # 1. the resident reports a leak; the property company's page shows the card live
    await _send(resident, "/report 厨房水管漏水，楼下天花板在滴水")
    await expect(_bubble(resident, "已收到您的诉求 #4")).to_be_visible()
    card = _bubble(company, "诉求 #4")
    await expect(card).to_be_visible()
    await _shot(company, "2-card")
    # 2. acknowledged with its button: the resident is told, the card is edited in place
    await card.get_by_role("button", name="受理", exact=True).click()
    await expect(_bubble(resident, "已由阳光物业物业小刘受理")).to_be_visible()
    await expect(card).to_contain_text("已编辑")
    # 3. resolved with a note
    await card.get_by_role("button", name="办结", exact=True).click()
    await expect(_bubble(company, "办结说明")).to_be_visible()
    await _send(company, "已更换水管接头")
    rating = _bubble(resident, "已更换水管接头")
    await expect(rating).to_be_visible()
    await _shot(resident, "3-rate")
    # 4. rated
    await rating.get_by_role("button", name="满意", exact=True).click()
    await expect(_bubble(resident, "感谢")).to_be_visible()
    report = await sandbox.linli.report_repo.get(4)
    assert (report.state, report.rating) == ("closed", "satisfied")

    # a photo, uploaded from the page, reaches the bot as a photo and shows in the chat
    await resident.click("#attach-button")
    async with resident.expect_file_chooser() as chooser:
        await resident.click("#attach-photo")
    await (await chooser.value).set_files(
        files=[{"name": "leak.jpg", "mimeType": "image/jpeg", "buffer": _jpeg()}])
    photo = resident.locator(".message.mine img.photo").last
    await expect(photo).to_be_visible()
    assert await photo.evaluate("img => img.complete && img.naturalWidth") == 64
    sent = [m for (chat, _), m in sandbox.tg.messages.items()
            if chat == ZHANG and m["from"]["id"] == ZHANG and "photo" in m]
    assert sent and sandbox.tg.files[sent[-1]["photo"][-1]["file_id"]].data == _jpeg()

    # a report nobody answers climbs when the clock jumps to its deadlines
    await company.click("#back")  # on a phone the person picker is above the chat list
    await company.select_option("#person", str(QIAN))
    await company.click(f".chat[data-chat='{QIAN}']")
    await _send(company, "/report 楼下晚上总有人大声喧哗")
    await expect(_bubble(company, "已收到您的诉求 #5")).to_be_visible()
    await sandbox.tg.wait_for(lambda m: m["chat"]["id"] == B3_GRID and "诉求 #5" in m["text"])
    before = await company.locator("#clock-now").text_content()
    for _ in range(8):
        if [m for m in sandbox.tg.sent(B3_LEADER) if "诉求 #5" in (m.get("text") or "")]:
            break
        await company.click("#jump-next")
        await expect(company.locator("#jump-next")).to_be_enabled()
    assert await company.locator("#clock-now").text_content() != before
    await company.click("#back")
    await company.select_option("#person", str(B3_LEADER))
    await company.click(f".chat[data-chat='{B3_LEADER}']")
    await expect(_bubble(company, "诉求 #5")).to_be_visible()
    report = await sandbox.linli.report_repo.get(5)
    node = await sandbox.linli.org_repo.node(report.rung_node_id)
    assert node.key == "b3"
    await _shot(company, "4-escalated")

    # the topic poll in the compound's forum: a vote from the page
    await resident.click("#back")
    await resident.click(f".chat[data-chat='{FORUM}']")
    poll = resident.locator(".poll").last
    await poll.locator(".option").first.click()
    await poll.locator(".vote").click()
    await expect(poll.locator(".option.chosen")).to_have_count(1)
    record = next(iter(sandbox.tg.polls.values()))
    assert record.votes[ZHANG] == [0]
    await _shot(resident, "5-poll")

    # the event in the building group: RSVP with its button (a toast), then the .ics file
    await resident.click("#back")
    await resident.click(f".chat[data-chat='{B3_GROUP}']")
    post = _bubble(resident, "社区活动 #1")
    await post.get_by_role("button", name="参加", exact=True).click()
    await expect(resident.locator(".toast, #alert-dialog:not([hidden])").first).to_be_visible()
    await expect(post).to_contain_text("参加 1/30")
    await _shot(resident, "6-event")
    await post.get_by_role("button", name="📅 加到日历", exact=True).click()
    await resident.click("#back")
    await resident.click(f".chat[data-chat='{ZHANG}']")
    document = resident.locator("a.document", has_text=".ics").last
    await expect(document).to_be_visible()
    async with resident.expect_download() as download:
        await document.click()
    saved = await (await download.value).path()
    assert Path(saved).read_text(encoding="utf-8").startswith("BEGIN:VCALENDAR")
    await _shot(resident, "7-ics")

    # the English switch: the page and the bot's answers
    await resident.click("#lang-toggle")
    await expect(resident.locator("#jump-next")).to_have_text("To the next deadline")
    await _send(resident, "/help")
    await expect(_bubble(resident, "report a problem")).to_be_visible()
    await expect(resident.locator(".message.theirs").last).not_to_contain_text("您")
    await _shot(resident, "8-english")
    assert resident.errors == [] and company.errors == []  # type: ignore[attr-defined]


# the sandbox keeps its own SQLite file in its folder, whatever LINLI_DATABASE says
pytestmark = pytest.mark.sqlite_only("the sandbox's own SQLite file")
