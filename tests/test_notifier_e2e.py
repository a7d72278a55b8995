"""The notifier against the fake server: unreachable users, crashes, migration, limits."""

from __future__ import annotations

import asyncio

from bot.core.notifier import Delivery, Outgoing
from sandbox.fakegram import FakeTelegram
from tests.harness import ADMIN, BotHarness

GROUP = -100200
LEADER = 1001
ORG = """
[[nodes]]
key = "harmony"
name = "和谐社区"
level = "community"

[[nodes]]
key = "b1"
name = "1号楼"
level = "building"
parent = "harmony"
chat_id = -100200

[[leaders]]
node = "b1"
user_id = 1001
name = "王楼长"
"""


async def _until(condition, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.02)


async def test_never_started_user_ends_unreachable_and_fallback_is_used(
    tg: FakeTelegram, linli: BotHarness
) -> None:
    tg.add_user(LEADER, "王")  # never wrote to the bot
    tg.add_group(GROUP, "1号楼群", members=[LEADER])
    await linli.import_org(ORG)
    notifier = linli.linli.notifier
    delivery = await notifier.send(
        Outgoing(LEADER, "您有一条新诉求 #1", fallback=Outgoing(GROUP, "@王 请私聊我查看诉求 #1")),
        wait=True,
    )
    assert isinstance(delivery, Delivery) and delivery.status == "unreachable"
    await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and "#1" in m["text"])
    refused = [c for c in tg.calls if c.method == "sendMessage" and c.params["chat_id"] == LEADER]
    assert refused and not refused[0].ok
    assert (await linli.linli.users.get(LEADER)).unreachable
    # known unreachable: the next one goes straight to its fallback, no call to Telegram
    await notifier.send(Outgoing(LEADER, "第二条 #2", fallback=Outgoing(GROUP, "提醒 #2")))
    await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and "#2" in m["text"])
    assert len([c for c in tg.calls if c.params.get("chat_id") == LEADER]) == 1
    # once the user opens the private chat, messages reach them again
    tg.user_sends(LEADER, LEADER, "/start")
    await tg.wait_for(lambda m: m["chat"]["id"] == LEADER)
    await notifier.send(Outgoing(LEADER, "第三条 #3"))
    await tg.wait_for(lambda m: m["chat"]["id"] == LEADER and "#3" in m["text"])


async def test_a_crash_between_recording_and_sending_sends_exactly_once(
    tg: FakeTelegram, linli: BotHarness
) -> None:
    tg.add_user(LEADER, "王")
    tg.user_sends(LEADER, LEADER, "/start")
    await tg.wait_for(lambda m: m["chat"]["id"] == LEADER)
    notifier = linli.linli.notifier
    await notifier.stop()  # the dispatcher dies: what is recorded is not yet sent
    await notifier.send(Outgoing(LEADER, "重要通知 #7"))
    # and one caught mid-send (claimed, then the process died)
    await notifier.send(Outgoing(LEADER, "重要通知 #8"))
    rows = await linli.linli.outbox.due(linli.clock.now(), limit=10)
    assert await linli.linli.outbox.claim_many([rows[-1][0]])
    assert not [m for m in tg.sent(LEADER) if "重要通知" in m["text"]]
    await linli.restart()
    await tg.wait_for(lambda m: "#8" in (m.get("text") or ""))
    await asyncio.sleep(0.3)  # room for a duplicate to show up, were there one
    await linli.restart()
    await asyncio.sleep(0.3)
    texts = [m["text"] for m in tg.sent(LEADER)]
    assert texts.count("重要通知 #7") == 1 and texts.count("重要通知 #8") == 1


async def test_migration_keeps_the_binding(tg: FakeTelegram, linli: BotHarness) -> None:
    tg.add_user(ADMIN, "管理员")
    tg.add_group(GROUP, "1号楼群", members=[ADMIN])
    await linli.import_org(ORG)
    tg.add_bot_to_group(GROUP, ADMIN)
    await tg.wait_for(lambda m: m["chat"]["id"] == GROUP)
    new_id = -1001000000200
    tg.migrate_group(GROUP, new_id)
    org = linli.linli.org_repo

    async def moved() -> bool:
        chat = await org.chat(new_id)
        return chat is not None and chat.node_id is not None

    await _until(moved)
    assert await org.chat(GROUP) is None
    # the group keeps working under its new id
    tg.user_sends(ADMIN, new_id, "/join")
    await tg.wait_for(lambda m: m["chat"]["id"] == new_id)


async def test_migration_learned_from_a_refused_send(tg: FakeTelegram, linli: BotHarness) -> None:
    tg.add_group(GROUP, "1号楼群")
    await linli.import_org(ORG)
    new_id = -1001000000201
    tg.migrate_group(GROUP, new_id)
    # the service messages arrive too, but the send may race them: either way it lands
    await linli.linli.notifier.send(Outgoing(GROUP, "楼栋通知"))
    await tg.wait_for(lambda m: m["chat"]["id"] == new_id and m["text"] == "楼栋通知")
    chat = await linli.linli.org_repo.chat(new_id)
    assert chat is not None and chat.node_id is not None


async def test_long_text_is_split_in_order(tg: FakeTelegram, linli: BotHarness) -> None:
    tg.add_user(LEADER, "王")
    tg.user_sends(LEADER, LEADER, "/start")
    await tg.wait_for(lambda m: m["chat"]["id"] == LEADER)
    lines = "\n".join(f"第{i:04d}行：楼道灯不亮 &lt;急&gt;" for i in range(700))
    delivery = await linli.linli.notifier.send(Outgoing(LEADER, lines), wait=True)
    assert delivery.status == "sent" and len(delivery.message_ids) >= 3
    parts = [m["text"] for m in tg.sent(LEADER)][-len(delivery.message_ids):]
    joined = "\n".join(parts)
    assert joined.index("第0000行") < joined.index("第0699行")
    assert joined.count("楼道灯不亮") == 700


async def test_flood_control_and_server_errors_lose_nothing(
    tg: FakeTelegram, linli: BotHarness
) -> None:
    users = list(range(5001, 5041))
    for uid in users:
        tg.add_user(uid, f"居民{uid}")
        tg.user_sends(uid, uid, "/start")
    await tg.wait_for(lambda m: m["chat"]["id"] == users[-1], timeout=10)
    tg.overall_per_second = 10  # stricter than the bot's own limiter: 429s will come
    tg.fail_next("sendMessage", status=502, count=3)
    for uid in users:
        await linli.linli.notifier.send(Outgoing(uid, f"停水通知 {uid}"))
    for uid in users:
        await tg.wait_for(lambda m, uid=uid: m.get("text") == f"停水通知 {uid}", timeout=20)
    assert any(c.error and "retry after" in c.error.lower() for c in tg.calls)
    for uid in users:
        assert [m["text"] for m in tg.sent(uid)].count(f"停水通知 {uid}") == 1


async def test_removed_from_group_marks_binding_inactive(
    tg: FakeTelegram, linli: BotHarness
) -> None:
    tg.add_user(ADMIN, "管理员")
    tg.add_group(GROUP, "1号楼群", members=[ADMIN])
    await linli.import_org(ORG)
    tg.add_bot_to_group(GROUP, ADMIN)
    await tg.wait_for(lambda m: m["chat"]["id"] == GROUP)
    tg.remove_bot_from_group(GROUP, ADMIN)
    org = linli.linli.org_repo

    async def inactive() -> bool:
        chat = await org.chat(GROUP)
        return chat is not None and not chat.active

    await _until(inactive)
    assert (await org.chat(GROUP)).node_id is not None  # kept on record
    tg.add_bot_to_group(GROUP, ADMIN)
    await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and "回来" in m["text"])
    assert (await org.chat(GROUP)).active


async def test_documents_polls_and_forum_topics_go_through_the_outbox(
    tg: FakeTelegram, linli: BotHarness
) -> None:
    forum = -100300
    tg.add_user(LEADER, "王")
    tg.add_group(forum, "议事厅", type="supergroup", is_forum=True, members=[LEADER],
                 bot_status="administrator")
    tg.add_group(GROUP, "1号楼群", members=[LEADER])
    await linli.import_org(ORG)
    notifier = linli.linli.notifier
    heard: list[tuple[str, str, dict]] = []

    async def finished(_tx, row, delivery, extra) -> None:  # type: ignore[no-untyped-def]
        heard.append((row.method, delivery.status, extra))

    notifier.on_finished("test:", finished)
    topic = await notifier.send(Outgoing(forum, method="create_forum_topic", name="恳谈会 #1",
                                         ref="test:topic"), wait=True)
    assert isinstance(topic, Delivery) and topic.status == "sent"
    thread_id = heard[-1][2]["thread_id"]
    assert thread_id in tg.chats[forum].topics

    ics = b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
    await notifier.send(Outgoing(forum, "日历 #1", method="send_document", document=ics,
                                 filename="event-1.ics", thread_id=thread_id, ref="test:doc"),
                        wait=True)
    sent = await tg.wait_for(lambda m: "document" in m)
    assert sent["document"]["file_name"] == "event-1.ics"
    assert sent.get("message_thread_id") == thread_id
    assert tg.files[sent["document"]["file_id"]].data == ics

    poll = await notifier.send(
        Outgoing(forum, method="send_poll", ref="test:poll", thread_id=thread_id,
                 poll={"question": "议题", "options": ["停车", "绿化"], "multiple": True}),
        wait=True,
    )
    assert isinstance(poll, Delivery) and poll.status == "sent"
    poll_id = heard[-1][2]["poll_id"]
    posted = await tg.wait_for(lambda m: "poll" in m)
    assert posted["poll"]["id"] == poll_id and posted["poll"]["allows_multiple_answers"]
    assert not posted["poll"]["is_anonymous"]
    await notifier.send(Outgoing(forum, method="stop_poll", message_id=poll.message_ids[0],
                                 ref="test:stop"), wait=True)
    assert heard[-1][:2] == ("stop_poll", "sent")
    assert tg.polls[poll_id].poll["is_closed"]
    # a topic in a chat that is not a forum is refused by Telegram: the feature hears "failed"
    await notifier.send(Outgoing(GROUP, method="create_forum_topic", name="x", ref="test:bad"),
                        wait=True)
    assert heard[-1][1] == "failed" and "forum" in heard[-1][2]["error"]


async def test_stop_right_after_a_kick_does_not_hang(linli: BotHarness) -> None:
    """The wake-up and the stop arrive together: the loop must still end (Python 3.11's
    wait_for swallowed such a cancellation, and the shutdown waited forever)."""
    notifier = linli.linli.notifier
    for _ in range(5):
        await asyncio.sleep(0.05)  # idle: the loop waits for a wake-up
        notifier.kick()
        async with asyncio.timeout(3):
            await notifier.stop()
        assert notifier._loop_task is None
        await notifier.start(linli.app.bot)  # type: ignore[union-attr]


async def test_a_message_queued_as_the_bot_stops_waits_untried_for_the_next_start(
        tg: FakeTelegram, linli: BotHarness) -> None:
    """A deadline that fires as the bot stops queues its messages: they wait for the next
    start, untried, instead of being sent through the HTTP client the shutdown closed
    (each such send failed, cost an attempt and came back with a backoff)."""
    tg.add_user(LEADER, "王")
    tg.user_sends(LEADER, LEADER, "/start")
    await tg.wait_for(lambda m: m["chat"]["id"] == LEADER)
    app, bot = linli.app, linli.linli
    assert app is not None and app.updater is not None and app.post_shutdown is not None
    # stop_polling's steps, with a message queued once the bot's client is shut down
    await app.updater.stop()
    await app.stop()
    if app.post_stop:
        await app.post_stop(app)
    await app.shutdown()
    async with bot.db.write() as tx:
        outbox_id = await bot.notifier.enqueue(tx, Outgoing(LEADER, "诉求 #1 超时未处理"),
                                               want_id=True)
    bot.notifier.kick()
    await asyncio.sleep(0.3)  # room for a send, were the notifier still running
    row = await bot.db.fetchone("SELECT status, attempts, error FROM outbox WHERE id = ?",
                                (outbox_id,))
    await app.post_shutdown(app)
    linli.app = None
    assert tuple(row) == ("pending", 0, None)
    await linli.start()
    await tg.wait_for(lambda m: "诉求 #1 超时未处理" in (m.get("text") or ""))
    await asyncio.sleep(0.3)
    assert [m["text"] for m in tg.sent(LEADER)].count("诉求 #1 超时未处理") == 1


async def test_a_busy_group_waits_for_its_window_and_other_chats_go_on(
        tg: FakeTelegram, linli: BotHarness) -> None:
    """Telegram takes 20 messages a minute into a group (here 5 in 2 s, to keep it quick):
    the notifier holds the rest back instead of drawing 429s, which would stop every send."""
    tg.add_user(LEADER, "王")
    tg.user_sends(LEADER, LEADER, "/start")
    tg.add_group(GROUP, "1号楼群", members=[LEADER])
    await linli.import_org(ORG)
    tg.group_per_minute, tg.group_window = 5, 2.0
    notifier = linli.linli.notifier
    notifier.groups.per_window, notifier.groups.seconds = 5, 2.0
    calls = len(tg.calls)
    for i in range(12):
        await notifier.send(Outgoing(GROUP, f"通知 {i}"))
    await notifier.send(Outgoing(LEADER, "私信照常送达"))
    await tg.wait_for(lambda m: m["chat"]["id"] == LEADER and "照常" in m["text"], timeout=2)
    await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and m["text"] == "通知 11", timeout=10)
    assert [m["text"] for m in tg.sent(GROUP)] == [f"通知 {i}" for i in range(12)]
    flooded = [c for c in tg.calls[calls:] if c.method == "sendMessage" and not c.ok]
    assert flooded == [], [(c.method, c.error) for c in flooded]
