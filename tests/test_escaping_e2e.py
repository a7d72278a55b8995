"""Every text we send is escaped for the parse mode in use (issue 19, item 9): a
resident's '<' and '&' reach a poll's options, button labels and callback answers as
typed (those are plain text in the Bot API; messages are HTML)."""

from __future__ import annotations

from sandbox.fakegram import FakeTelegram
from tests.harness import BotHarness
from tests.test_consultation_e2e import BUILDING, COMPOUND, FORUM, LI, QIAN, ZHANG, said, world

ODD = "楼下 <充电桩> & 车棚 a<b &lt;"  # what a resident typed, '&lt;' included


async def test_angle_brackets_and_ampersands_arrive_as_typed(tg: FakeTelegram,
                                                             linli: BotHarness) -> None:
    await world(tg, linli)
    tg.user_sends(ZHANG, ZHANG, f"/propose {ODD}")
    await said(tg, ZHANG, "已收到您的议题 #1")
    tg.user_sends(QIAN, QIAN, "/propose 小区里多放几张长椅")
    await said(tg, QIAN, "已收到您的议题 #2")
    tg.user_sends(LI, LI, "/propose 垃圾分类点 & 快递柜")
    await said(tg, LI, "已收到您的议题 #3")

    # a leader merging sees the topics on buttons, as typed
    tg.user_sends(BUILDING, BUILDING, "/topics")
    listing = await said(tg, BUILDING, "#3")
    tg.press_button(BUILDING, BUILDING, listing["message_id"], "cp:mg:2")
    pick = await said(tg, BUILDING, "把议题 #2 合并到哪个议题")
    labels = [b["text"] for row in pick["reply_markup"]["inline_keyboard"] for b in row]
    assert f"#1 {ODD}"[:23] in labels, labels
    assert "#3 垃圾分类点 & 快递柜" in labels, labels

    # the poll: its options are plain text in the Bot API, and read as typed
    tg.user_sends(COMPOUND, FORUM, "/topicpoll 1,2,3 30m")
    poll = await tg.wait_for(lambda m: m["chat"]["id"] == FORUM and m["method"] == "sendPoll",
                             timeout=10)
    options = [o["text"] for o in poll["poll"]["options"]]
    assert options == [f"#1 {ODD}", "#2 小区里多放几张长椅", "#3 垃圾分类点 & 快递柜"], options
    assert "议题投票 #1" in poll["poll"]["question"]
    intro = await said(tg, FORUM, "小区里多放几张长椅")
    assert ODD in intro["text"]  # the message beside it is HTML: escaped, and shown as typed
