"""The fake Telegram server behaves like the Bot API, as seen by python-telegram-bot itself."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    MenuButtonCommands,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    PollAnswerHandler,
)

from sandbox.fakegram import FakeTelegram, faults
from sandbox.fakegram.errors import ApiError

RESIDENT, LEADER, STRANGER = 1001, 1002, 1003
GROUP, SUPERGROUP, FORUM = -4001, -1004002, -1004003


@pytest.fixture
async def server() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram(
        bot_id=777000111, bot_username="linli_test_bot", bot_first_name="邻里小助手"
    )
    await fake.start()
    fake.add_user(RESIDENT, "张", last_name="阿姨", username="zhang_ayi")
    fake.add_user(LEADER, "王", username="wang_leader", language_code="en")
    fake.add_user(STRANGER, "李")
    fake.add_group(GROUP, "3号楼业主群", members=[RESIDENT], admins=[LEADER])
    fake.add_group(SUPERGROUP, "阳光小区", type="supergroup", members=[RESIDENT, LEADER])
    fake.add_group(FORUM, "社区论坛", type="supergroup", is_forum=True, members=[RESIDENT])
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def bot(server: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(server.token, base_url=server.base_url, base_file_url=server.base_file_url) as b:
        yield b


def started(server: FakeTelegram, *user_ids: int) -> None:
    """Users who wrote to the bot (so it may message them), with those messages confirmed."""
    for user_id in user_ids:
        server.user_sends(user_id, user_id, "/start")
    server.updates.confirm(10**9)


async def drain(bot: Bot) -> None:
    """Fetch and confirm every update waiting, as a polling bot would."""
    updates = await bot.get_updates(timeout=0)
    if updates:
        await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)


def kinds(updates: list[dict[str, Any]]) -> list[str]:
    return [next(key for key in update if key != "update_id") for update in updates]


async def eventually(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def last_error(server: FakeTelegram, method: str) -> str | None:
    return [call for call in server.calls if call.method == method][-1].error


async def raw_call(server: FakeTelegram, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
    """A request as a plain HTTP client makes it, form-encoded."""
    form = {key: str(value) for key, value in params.items()}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{server.base_url}{server.token}/{method}", data=form) as response,
    ):
        return response.status, await response.json()


def keyboard(*buttons: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d) for t, d in buttons]])


# ----- identity, transport, errors on the wire -----


async def test_get_me_and_urls(server: FakeTelegram, bot: Bot) -> None:
    assert server.base_url.startswith("http://127.0.0.1:") and server.base_url.endswith("/bot")
    assert server.base_file_url.endswith("/file/bot")
    me = await bot.get_me()
    assert (me.id, me.username, me.first_name, me.is_bot) == (
        777000111, "linli_test_bot", "邻里小助手", True,
    )  # fmt: skip


async def test_unknown_method_is_404(server: FakeTelegram) -> None:
    status, body = await raw_call(server, "sendTelepathy", chat_id=RESIDENT)
    assert status == 404
    assert body == {"ok": False, "error_code": 404, "description": "Not Found"}


async def test_error_status_equals_error_code(server: FakeTelegram) -> None:
    status, body = await raw_call(server, "sendMessage", chat_id=999, text="hi")
    assert status == 400
    assert body == {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}


async def test_method_names_are_case_insensitive(server: FakeTelegram) -> None:
    status, body = await raw_call(server, "getme")
    assert status == 200 and body["result"]["username"] == "linli_test_bot"


async def test_params_are_decoded_from_form_and_json(server: FakeTelegram, bot: Bot) -> None:
    started(server, RESIDENT)
    await bot.send_message(RESIDENT, "选一个", reply_markup=keyboard(("好", "ok:1")))
    call = server.calls[-1]
    assert call.params["chat_id"] == RESIDENT
    assert call.params["reply_markup"] == {
        "inline_keyboard": [[{"text": "好", "callback_data": "ok:1"}]]
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{server.base_url}{server.token}/sendMessage",
            json={"chat_id": RESIDENT, "text": "123"},
        ) as response,
    ):
        assert (await response.json())["result"]["text"] == "123"
    assert server.calls[-1].params["text"] == "123"  # text stays a string


async def test_uploads_arrive_as_multipart(server: FakeTelegram, bot: Bot) -> None:
    started(server, RESIDENT)
    message = await bot.send_document(
        RESIDENT, InputFile(b"%PDF-1.4 fake", filename="通知.pdf"), caption="停水通知"
    )
    assert message.document.file_name == "通知.pdf"
    assert message.caption == "停水通知"
    assert server.calls[-1].params["document"]["size"] == len(b"%PDF-1.4 fake")
    file = await bot.get_file(message.document.file_id)
    assert await file.download_as_bytearray() == b"%PDF-1.4 fake"


# ----- sending -----


async def test_sent_message_has_the_full_shape(server: FakeTelegram) -> None:
    started(server, RESIDENT)
    status, body = await raw_call(server, "sendMessage", chat_id=RESIDENT, text="您好 /help")
    message = body["result"]
    assert status == 200 and body["ok"] is True
    assert set(message) >= {"message_id", "date", "chat", "from", "text", "entities"}
    assert message["from"] == {
        "id": 777000111, "is_bot": True, "first_name": "邻里小助手", "username": "linli_test_bot",
    }  # fmt: skip
    assert message["chat"] == {
        "id": RESIDENT, "type": "private", "first_name": "张", "last_name": "阿姨",
        "username": "zhang_ayi",
    }  # fmt: skip
    assert message["entities"] == [{"type": "bot_command", "offset": 3, "length": 5}]
    assert not {"method", "html", "chat_id"} & set(message)  # test-only keys stay home
    _, trimmed = await raw_call(server, "sendMessage", chat_id=RESIDENT, text="\n  您好 \n")
    assert trimmed["result"]["text"] == "您好"


async def test_group_chats_have_titles_and_types(server: FakeTelegram, bot: Bot) -> None:
    group = await bot.send_message(GROUP, "a")
    supergroup = await bot.send_message(SUPERGROUP, "b")
    forum = await bot.send_message(FORUM, "c")
    assert (group.chat.type, group.chat.title) == ("group", "3号楼业主群")
    assert supergroup.chat.type == "supergroup" and not supergroup.chat.is_forum
    assert forum.chat.is_forum is True


async def test_message_ids_are_per_chat_and_increasing(server: FakeTelegram, bot: Bot) -> None:
    first = server.user_sends(RESIDENT, GROUP, "早上好")["message"]["message_id"]
    reply = await bot.send_message(GROUP, "早")
    other = await bot.send_message(SUPERGROUP, "早")
    assert reply.message_id == first + 1
    assert other.message_id == 1


async def test_chat_action(server: FakeTelegram, bot: Bot) -> None:
    started(server, RESIDENT)
    assert await bot.send_chat_action(RESIDENT, "typing") is True
    with pytest.raises(Forbidden):
        await bot.send_chat_action(STRANGER, "typing")


async def test_private_chat_rules(server: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(Forbidden):
        await bot.send_message(STRANGER, "您好")
    assert last_error(server, "sendMessage") == (
        "Forbidden: bot can't initiate conversation with a user"
    )
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(424242, "您好")
    server.user_sends(STRANGER, STRANGER, "你好")
    assert (await bot.send_message(STRANGER, "您好")).text == "您好"


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
async def test_empty_text_is_refused(server: FakeTelegram, bot: Bot, text: str) -> None:
    started(server, RESIDENT)
    with pytest.raises(BadRequest):
        await bot.send_message(RESIDENT, text)
    assert last_error(server, "sendMessage") == "Bad Request: message text is empty"


async def test_text_length_counts_utf16_after_html(server: FakeTelegram, bot: Bot) -> None:
    started(server, RESIDENT)
    await bot.send_message(RESIDENT, "😀" * 2048)  # 4096 UTF-16 code units
    await bot.send_message(RESIDENT, "<b>" + "&lt;" * 4096 + "</b>", parse_mode="HTML")
    await bot.send_message(RESIDENT, "邻" * 4096)
    for too_long in ("😀" * 2048 + "a", "邻" * 4097):
        with pytest.raises(BadRequest):
            await bot.send_message(RESIDENT, too_long)
        assert last_error(server, "sendMessage") == "Bad Request: message is too long"


async def test_caption_limit(server: FakeTelegram, bot: Bot) -> None:
    started(server, RESIDENT)
    photo = InputFile(b"\xff\xd8 photo", filename="leak.jpg")
    await bot.send_photo(RESIDENT, photo, caption="漏" * 1024)
    with pytest.raises(BadRequest):
        await bot.send_photo(RESIDENT, photo, caption="漏" * 1025)
    assert last_error(server, "sendPhoto") == "Bad Request: message caption is too long"


async def test_html_is_parsed_and_kept(server: FakeTelegram, bot: Bot) -> None:
    started(server, RESIDENT)
    html = '<b>报修</b> &amp; <a href="https://example.org">详情</a> 1 &lt; 2 &#128512; AT&T'
    message = await bot.send_message(RESIDENT, html, parse_mode="HTML")
    assert message.text == "报修 & 详情 1 < 2 😀 AT&T"  # a bare & stays, as on Telegram
    assert [(e.type, e.offset, e.length) for e in message.entities] == [
        ("bold", 0, 2), ("text_link", 5, 2),
    ]  # fmt: skip
    stored = server.sent(RESIDENT)[-1]
    assert stored["html"] == html and stored["text"] == message.text


async def test_html_spoilers_code_and_quotes(server: FakeTelegram, bot: Bot) -> None:
    started(server, RESIDENT)
    html = (
        '<tg-spoiler>a</tg-spoiler><span class="tg-spoiler">b</span><s>c</s><u>d</u><i>e</i>'
        '<pre><code class="language-python">f</code></pre><blockquote>g</blockquote>'
    )
    message = await bot.send_message(RESIDENT, html, parse_mode="HTML")
    kinds = [(e.type, e.offset) for e in message.entities]
    assert kinds == [
        ("spoiler", 0), ("spoiler", 1), ("strikethrough", 2), ("underline", 3),
        ("italic", 4), ("pre", 5), ("blockquote", 6),
    ]  # fmt: skip
    assert message.entities[5].language == "python"


@pytest.mark.parametrize(
    ("html", "description"),
    [
        ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
        ("邻里<br>", 'Unsupported start tag "br" at byte offset 6'),
        ("<b>重要", 'Can\'t find end tag corresponding to start tag "b"'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("x <", "Unclosed start tag at byte offset 2"),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ],
)
async def test_bad_html_is_refused(
    server: FakeTelegram, bot: Bot, html: str, description: str
) -> None:
    started(server, RESIDENT)
    with pytest.raises(BadRequest, match="Can't parse entities"):
        await bot.send_message(RESIDENT, html, parse_mode="HTML")
    assert last_error(server, "sendMessage") == f"Bad Request: can't parse entities: {description}"
    assert server.sent() == []


async def test_inline_keyboard_limits(server: FakeTelegram, bot: Bot) -> None:
    started(server, RESIDENT)
    await bot.send_message(RESIDENT, "ok", reply_markup=keyboard(("受理", "邻" * 21 + "x")))
    with pytest.raises(BadRequest):
        await bot.send_message(RESIDENT, "no", reply_markup=keyboard(("受理", "邻" * 22)))
    assert last_error(server, "sendMessage") == "Bad Request: BUTTON_DATA_INVALID"
    with pytest.raises(BadRequest):
        await bot.send_message(RESIDENT, "no", reply_markup=keyboard(("", "x")))
    assert last_error(server, "sendMessage") == "Bad Request: BUTTON_TEXT_INVALID"
    status, _ = await raw_call(
        server, "sendMessage", chat_id=RESIDENT, text="no",
        reply_markup='{"inline_keyboard": [[{"text": "plain"}]]}',
    )  # fmt: skip
    assert status == 400
    assert last_error(server, "sendMessage") == (
        "Bad Request: can't parse inline keyboard button: "
        "Text buttons are unallowed in the inline keyboard"
    )


async def test_photo_location_and_replies(server: FakeTelegram, bot: Bot) -> None:
    report = server.user_sends(RESIDENT, RESIDENT, photo=True, caption="楼道漏水")["message"]
    server.updates.confirm(10**9)
    again = await bot.send_photo(RESIDENT, report["photo"][-1]["file_id"], caption="收到")
    assert [p.file_id for p in again.photo] == [p["file_id"] for p in report["photo"]]
    here = await bot.send_location(
        RESIDENT, 31.23, 121.47, reply_to_message_id=report["message_id"]
    )
    assert (here.location.latitude, here.location.longitude) == (31.23, 121.47)
    assert here.reply_to_message.message_id == report["message_id"]
    assert here.reply_to_message.caption == "楼道漏水"
    with pytest.raises(BadRequest):
        await bot.send_message(RESIDENT, "?", reply_to_message_id=999)
    assert last_error(server, "sendMessage") == "Bad Request: message to be replied not found"
    with pytest.raises(BadRequest):
        await bot.send_photo(RESIDENT, "no-such-file-id")
    assert last_error(server, "sendPhoto") == (
        "Bad Request: wrong file identifier/HTTP URL specified"
    )


async def test_user_photo_can_be_downloaded(server: FakeTelegram, bot: Bot) -> None:
    message = server.user_sends(RESIDENT, RESIDENT, photo=True)["message"]
    biggest = message["photo"][-1]
    assert biggest["width"] > message["photo"][0]["width"]
    file = await bot.get_file(biggest["file_id"])
    data = await file.download_as_bytearray()
    assert data.startswith(b"\xff\xd8") and len(data) == biggest["file_size"]
    with pytest.raises(BadRequest):
        await bot.get_file("nope")
    assert last_error(server, "getFile") == "Bad Request: invalid file_id"


# ----- editing and deleting -----


async def test_edits_change_the_message_not_the_history(server: FakeTelegram, bot: Bot) -> None:
    started(server, LEADER)
    sent = await bot.send_message(LEADER, "新诉求 #1", reply_markup=keyboard(("受理", "ack:1")))
    edited = await bot.edit_message_text(
        "<b>已受理</b> #1", LEADER, sent.message_id, parse_mode="HTML",
        reply_markup=keyboard(("办结", "done:1")),
    )  # fmt: skip
    assert edited.text == "已受理 #1" and edited.edit_date is not None
    now = server.message(LEADER, sent.message_id)
    assert now is not None and now["html"] == "<b>已受理</b> #1"
    assert now["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "done:1"
    assert server.sent(LEADER)[-1]["text"] == "新诉求 #1"  # sent() keeps what was sent
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text(
            "<b>已受理</b> #1", LEADER, sent.message_id, parse_mode="HTML",
            reply_markup=keyboard(("办结", "done:1")),
        )  # fmt: skip
    assert last_error(server, "editMessageText") == (
        "Bad Request: message is not modified: specified new message content and reply "
        "markup are exactly the same as a current content and reply markup of the message"
    )
    await bot.edit_message_text("<b>已受理</b> #1", LEADER, sent.message_id, parse_mode="HTML")
    assert "reply_markup" not in server.message(LEADER, sent.message_id)  # keyboard dropped


async def test_edit_errors(server: FakeTelegram, bot: Bot) -> None:
    started(server, LEADER)
    with pytest.raises(BadRequest):
        await bot.edit_message_text("x", LEADER, 999)
    assert last_error(server, "editMessageText") == "Bad Request: message to edit not found"
    user_message = server.user_sends(LEADER, LEADER, "hi")["message"]["message_id"]
    with pytest.raises(BadRequest):
        await bot.edit_message_text("x", LEADER, user_message)
    assert last_error(server, "editMessageText") == "Bad Request: message can't be edited"


async def test_edit_markup_and_caption(server: FakeTelegram, bot: Bot) -> None:
    started(server, LEADER)
    photo = await bot.send_photo(LEADER, InputFile(b"jpg", filename="a.jpg"), caption="旧")
    await bot.edit_message_caption(LEADER, photo.message_id, caption="新")
    assert server.message(LEADER, photo.message_id)["caption"] == "新"
    await bot.edit_message_reply_markup(LEADER, photo.message_id, reply_markup=keyboard(("a", "b")))
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(
            LEADER, photo.message_id, reply_markup=keyboard(("a", "b"))
        )


async def test_delete_message(server: FakeTelegram, bot: Bot) -> None:
    started(server, LEADER)
    sent = await bot.send_message(LEADER, "临时")
    assert await bot.delete_message(LEADER, sent.message_id) is True
    assert server.message(LEADER, sent.message_id) is None
    with pytest.raises(BadRequest):
        await bot.delete_message(LEADER, sent.message_id)
    assert last_error(server, "deleteMessage") == "Bad Request: message to delete not found"
    theirs = server.user_sends(RESIDENT, GROUP, "广告")["message"]["message_id"]
    with pytest.raises(BadRequest):  # the bot is no admin of GROUP
        await bot.delete_message(GROUP, theirs)
    assert last_error(server, "deleteMessage") == "Bad Request: message can't be deleted"


# ----- updates -----


async def test_updates_queue_offsets_and_ids(server: FakeTelegram, bot: Bot) -> None:
    first = server.user_sends(RESIDENT, RESIDENT, "一")
    server.user_sends(RESIDENT, RESIDENT, "二")
    assert first["update_id"] == 1 and server.pending_updates() == 2
    updates = await bot.get_updates(timeout=0)
    assert [u.update_id for u in updates] == [1, 2]
    assert [u.message.text for u in updates] == ["一", "二"]
    assert server.pending_updates() == 2  # delivered, not yet confirmed
    assert await bot.get_updates(offset=3, timeout=0) == ()
    assert server.pending_updates() == 0
    info = await bot.get_webhook_info()
    assert info.url == "" and info.pending_update_count == 0


async def test_long_polling_returns_when_an_update_arrives(server: FakeTelegram, bot: Bot) -> None:
    started_at = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()
    assert time.monotonic() - started_at >= 0.9
    polling = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.05)
    started_at = time.monotonic()
    server.user_sends(RESIDENT, RESIDENT, "在吗")
    updates = await polling
    assert time.monotonic() - started_at < 1 and updates[0].message.text == "在吗"


async def test_second_get_updates_ends_the_first_with_conflict(
    server: FakeTelegram, bot: Bot
) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    assert await raw_call(server, "getUpdates", timeout=0) == (200, {"ok": True, "result": []})
    with pytest.raises(Conflict):
        await first
    polls = [call for call in server.calls if call.method == "getUpdates"]
    assert [call.error for call in polls] == [
        "Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running",
        None,
    ]


async def test_drop_pending_updates(server: FakeTelegram, bot: Bot) -> None:
    server.user_sends(RESIDENT, RESIDENT, "旧消息")
    await bot.delete_webhook(drop_pending_updates=True)
    assert server.pending_updates() == 0


async def test_commands_get_entities_with_utf16_offsets(server: FakeTelegram, bot: Bot) -> None:
    text = "😀 /report@linli_test_bot 楼道漏水 @wang_leader"
    update = server.user_sends(RESIDENT, SUPERGROUP, text)
    entities = update["message"]["entities"]
    assert entities[0] == {"type": "bot_command", "offset": 3, "length": 22}
    assert entities[1] == {"type": "mention", "offset": 31, "length": 12}
    message = (await bot.get_updates(timeout=0))[0].message
    assert message.parse_entity(message.entities[0]) == "/report@linli_test_bot"
    assert message.chat.type == "supergroup" and message.from_user.id == RESIDENT


async def test_allowed_updates_filter_and_default(server: FakeTelegram, bot: Bot) -> None:
    server.add_bot_to_group(SUPERGROUP, LEADER, status="administrator")
    await drain(bot)
    assert kinds(server.member_joins(SUPERGROUP, STRANGER)) == ["chat_member", "message"]
    default = await bot.get_updates(timeout=0)  # chat_member is opt-in
    assert [u.message.new_chat_members[0].id for u in default] == [STRANGER]
    assert server.allowed_updates is None
    server.add_user(1004, "赵")
    server.member_joins(SUPERGROUP, 1004)
    everything = await bot.get_updates(
        offset=default[-1].update_id + 1, timeout=0, allowed_updates=Update.ALL_TYPES
    )
    assert everything[0].chat_member.new_chat_member.user.id == 1004
    assert everything[1].message.new_chat_members[0].id == 1004
    assert server.allowed_updates == list(Update.ALL_TYPES)
    server.user_sends(RESIDENT, RESIDENT, "hi")
    polls_only = await bot.get_updates(
        offset=everything[-1].update_id + 1, timeout=0, allowed_updates=["poll"]
    )
    assert polls_only == () and server.pending_updates() == 0


async def test_chat_member_needs_an_admin_bot(server: FakeTelegram) -> None:
    updates = server.member_joins(GROUP, STRANGER)  # the bot is a plain member of GROUP
    assert kinds(updates) == ["message"]


# ----- buttons, polls -----


async def test_button_press_and_answer(server: FakeTelegram, bot: Bot) -> None:
    started(server, LEADER)
    sent = await bot.send_message(LEADER, "新诉求", reply_markup=keyboard(("受理", "ack:7")))
    query_id = server.press_button(LEADER, LEADER, sent.message_id, "ack:7")
    query = (await bot.get_updates(timeout=0))[-1].callback_query
    assert (query.id, query.data, query.from_user.id) == (query_id, "ack:7", LEADER)
    assert query.message.message_id == sent.message_id and query.message.text == "新诉求"
    assert query.message.reply_markup == sent.reply_markup and query.chat_instance
    assert server.answers_to(query_id) is None
    await query.answer("已受理", show_alert=True)
    assert server.answers_to(query_id) == {"text": "已受理", "show_alert": True}
    with pytest.raises(BadRequest):
        await query.answer("again")
    assert last_error(server, "answerCallbackQuery") == (
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    )


async def test_poll_limits(server: FakeTelegram, bot: Bot) -> None:
    cases = [
        (["只有一个"], "Bad Request: poll must have at least 2 option"),
        ([str(i) for i in range(13)], "Bad Request: poll can't have more than 12 options"),
        (["好", "x" * 101], "Bad Request: poll options length must not exceed 100"),
    ]
    for options, description in cases:
        with pytest.raises(BadRequest):
            await bot.send_poll(GROUP, "议题?", options)
        assert last_error(server, "sendPoll") == description
    with pytest.raises(BadRequest):
        await bot.send_poll(GROUP, "问" * 301, ["a", "b"])
    assert last_error(server, "sendPoll") == "Bad Request: poll question length must not exceed 300"


async def test_poll_votes_and_stop(server: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_poll(
        GROUP, "下次恳谈会议题?", ["停车", "绿化", "噪音"], is_anonymous=False,
        allows_multiple_answers=True,
    )  # fmt: skip
    poll = sent.poll
    assert (poll.type, poll.is_anonymous, poll.is_closed, poll.total_voter_count) == (
        "regular", False, False, 0,
    )  # fmt: skip
    updates = server.vote(RESIDENT, poll.id, [0, 2])
    server.vote(LEADER, poll.id, [0])
    got = await bot.get_updates(timeout=0)
    answer = got[0].poll_answer
    assert (answer.poll_id, answer.user.id, answer.option_ids) == (poll.id, RESIDENT, (0, 2))
    assert [o.voter_count for o in got[-1].poll.options] == [2, 0, 1]
    assert got[-1].poll.total_voter_count == 2 and len(updates) == 2
    server.vote(RESIDENT, poll.id, [])  # retract
    assert server.message(GROUP, sent.message_id)["poll"]["total_voter_count"] == 1
    stopped = await bot.stop_poll(GROUP, sent.message_id)
    assert stopped.is_closed and [o.voter_count for o in stopped.options] == [1, 0, 0]
    assert server.vote(STRANGER, poll.id, [1]) == []
    with pytest.raises(BadRequest, match="Poll has already been closed"):
        await bot.stop_poll(GROUP, sent.message_id)


async def test_anonymous_poll_sends_no_poll_answer(server: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_poll(GROUP, "满意吗?", ["满意", "不满意"])
    assert kinds(server.vote(RESIDENT, sent.poll.id, [1])) == ["poll"]


# ----- membership, migration, blocking -----


async def test_bot_added_and_removed(server: FakeTelegram, bot: Bot) -> None:
    server.add_bot_to_group(GROUP, LEADER, status="administrator")
    added, service = await bot.get_updates(timeout=0)
    change = added.my_chat_member
    assert (change.old_chat_member.status, change.new_chat_member.status) == (
        "left", "administrator",
    )  # fmt: skip
    assert change.from_user.id == LEADER and change.chat.id == GROUP
    assert service.message.new_chat_members[0].id == 777000111
    server.remove_bot_from_group(GROUP, LEADER)
    removed = (await bot.get_updates(offset=service.update_id + 1, timeout=0))[0]
    assert removed.my_chat_member.new_chat_member.status == "kicked"
    with pytest.raises(Forbidden, match="bot was kicked from the group chat"):
        await bot.send_message(GROUP, "还在吗")
    server.remove_bot_from_group(SUPERGROUP, LEADER)
    with pytest.raises(Forbidden):
        await bot.send_message(SUPERGROUP, "还在吗")
    assert last_error(server, "sendMessage") == (
        "Forbidden: bot was kicked from the supergroup chat"
    )


async def test_member_joins_updates(server: FakeTelegram, bot: Bot) -> None:
    server.add_bot_to_group(GROUP, LEADER, status="administrator")
    await drain(bot)
    await bot.get_updates(timeout=0, allowed_updates=["message", "chat_member"])
    server.member_joins(GROUP, STRANGER)
    joined, service = await bot.get_updates(timeout=0)
    member = joined.chat_member
    assert (member.old_chat_member.status, member.new_chat_member.status) == ("left", "member")
    assert member.new_chat_member.user.id == STRANGER
    assert service.message.new_chat_members[0].id == STRANGER


async def test_group_migration(server: FakeTelegram, bot: Bot) -> None:
    server.migrate_group(GROUP, -1009999)
    farewell, welcome = await bot.get_updates(timeout=0)
    assert farewell.message.migrate_to_chat_id == -1009999 and farewell.message.chat.id == GROUP
    assert welcome.message.migrate_from_chat_id == GROUP
    assert welcome.message.chat.type == "supergroup"
    with pytest.raises(ChatMigrated) as migrated:
        await bot.send_message(GROUP, "通知")
    assert migrated.value.new_chat_id == -1009999
    status, body = await raw_call(server, "sendMessage", chat_id=GROUP, text="通知")
    assert (status, body["parameters"]) == (400, {"migrate_to_chat_id": -1009999})
    assert body["description"] == "Bad Request: group chat was upgraded to a supergroup chat"
    assert (await bot.send_message(-1009999, "通知")).chat.title == "3号楼业主群"


async def test_user_blocks_and_unblocks(server: FakeTelegram, bot: Bot) -> None:
    started(server, RESIDENT)
    server.user_blocks_bot(RESIDENT)
    blocked = (await bot.get_updates(timeout=0))[0].my_chat_member
    assert blocked.chat.type == "private" and blocked.new_chat_member.status == "kicked"
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(RESIDENT, "提醒")
    server.user_unblocks_bot(RESIDENT)
    assert (await bot.send_message(RESIDENT, "提醒")).text == "提醒"


# ----- chats, topics, menus -----


async def test_chat_information(server: FakeTelegram, bot: Bot) -> None:
    chat = await bot.get_chat(GROUP)
    assert (chat.id, chat.title, chat.type) == (GROUP, "3号楼业主群", "group")
    assert (await bot.get_chat_member(GROUP, LEADER)).status == "administrator"
    assert (await bot.get_chat_member(GROUP, RESIDENT)).status == "member"
    assert (await bot.get_chat_member(GROUP, STRANGER)).status == "left"
    assert [m.user.id for m in await bot.get_chat_administrators(GROUP)] == [LEADER]
    with pytest.raises(BadRequest, match="User not found"):
        await bot.get_chat_member(GROUP, 5555)
    assert (await bot.get_chat(RESIDENT)).first_name == "张"
    await bot.leave_chat(GROUP)
    with pytest.raises(Forbidden):
        await bot.send_message(GROUP, "x")
    assert last_error(server, "sendMessage") == "Forbidden: bot is not a member of the group chat"


async def test_forum_topics(server: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(BadRequest):
        await bot.create_forum_topic(SUPERGROUP, "报修")
    assert last_error(server, "createForumTopic") == "Bad Request: the chat is not a forum"
    server.add_bot_to_group(FORUM, LEADER, status="administrator")
    topic = await bot.create_forum_topic(FORUM, "报修")
    assert topic.name == "报修" and topic.icon_color == 7322096 and topic.message_thread_id > 0
    message = await bot.send_message(FORUM, "在此报修", message_thread_id=topic.message_thread_id)
    assert message.is_topic_message and message.message_thread_id == topic.message_thread_id
    assert server.sent(FORUM)[-1]["message_thread_id"] == topic.message_thread_id
    with pytest.raises(BadRequest, match="Message thread not found"):
        await bot.send_message(FORUM, "x", message_thread_id=999)
    await bot.edit_forum_topic(FORUM, topic.message_thread_id, name="设施报修")
    await bot.close_forum_topic(FORUM, topic.message_thread_id)
    update = server.user_sends(RESIDENT, FORUM, "水管", message_thread_id=topic.message_thread_id)
    assert update["message"]["is_topic_message"] is True


async def test_pins(server: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(GROUP, "公告")
    with pytest.raises(BadRequest):
        await bot.pin_chat_message(GROUP, sent.message_id)
    assert last_error(server, "pinChatMessage") == (
        "Bad Request: not enough rights to manage pinned messages in the chat"
    )
    server.add_bot_to_group(GROUP, LEADER, status="administrator")
    assert await bot.pin_chat_message(GROUP, sent.message_id)
    assert await bot.unpin_chat_message(GROUP, sent.message_id)


async def test_command_menus(server: FakeTelegram, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand("report", "上报诉求")])
    await bot.set_my_commands(
        [BotCommand("join", "登记住户")], scope=BotCommandScopeAllPrivateChats(), language_code="zh"
    )
    await bot.set_my_commands([BotCommand("bind", "绑定群")], scope=BotCommandScopeChat(GROUP))
    assert server.commands[("default", "")] == [{"command": "report", "description": "上报诉求"}]
    assert server.commands[("all_private_chats", "zh")][0]["command"] == "join"
    assert server.commands[(f"chat:{GROUP}", "")][0]["command"] == "bind"
    got = await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats(), language_code="zh")
    assert [c.command for c in got] == ["join"]
    with pytest.raises(BadRequest):
        await bot.set_my_commands([BotCommand("join", "登记")], language_code="zh-hans")
    assert last_error(server, "setMyCommands") == "Bad Request: invalid language code specified"
    await bot.delete_my_commands()
    assert ("default", "") not in server.commands
    assert await bot.set_chat_menu_button(menu_button=MenuButtonCommands())


# ----- flood limits and faults -----


@pytest.mark.filterwarnings("ignore:Deprecated since version v22.2")
async def test_overall_flood_limit(server: FakeTelegram, bot: Bot) -> None:
    started(server, RESIDENT)
    server.overall_per_second = 3
    for i in range(3):
        await bot.send_message(RESIDENT, f"第{i}条")
    with pytest.raises(RetryAfter):
        await bot.send_message(RESIDENT, "第3条")
    status, body = await raw_call(server, "sendMessage", chat_id=RESIDENT, text="x")
    assert (status, body["description"], body["parameters"]) == (
        429, "Too Many Requests: retry after 1", {"retry_after": 1},
    )  # fmt: skip
    assert len(server.sent(RESIDENT)) == 3
    server.overall_per_second = None
    await bot.send_message(RESIDENT, "不限速")


@pytest.mark.filterwarnings("ignore:Deprecated since version v22.2")
async def test_group_flood_limit(server: FakeTelegram, bot: Bot) -> None:
    server.group_per_minute = 2
    await bot.send_message(GROUP, "1")
    second = await bot.send_message(GROUP, "2")
    with pytest.raises(RetryAfter):  # edits count too
        await bot.edit_message_text("2'", GROUP, second.message_id)
    description = last_error(server, "editMessageText") or ""
    assert description.startswith("Too Many Requests: retry after ")
    assert 59 <= int(description.rsplit(" ", 1)[1]) <= 60
    await bot.send_message(SUPERGROUP, "another group has its own window")
    started(server, RESIDENT)
    for i in range(3):
        await bot.send_message(RESIDENT, f"private chats have no per-minute window {i}")
    server.group_per_minute = None
    await bot.send_message(GROUP, "3")


def test_flood_window_slides(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(faults.time, "monotonic", lambda: clock[0])
    flood = faults.FloodControl()
    for _ in range(20):
        flood.admit(GROUP, per_second=None, group_per_minute=20)
        clock[0] += 1
    with pytest.raises(ApiError) as refused:
        flood.admit(GROUP, per_second=None, group_per_minute=20)
    assert refused.value.parameters == {"retry_after": 40}  # the first send leaves at 160
    clock[0] = 160.0
    flood.admit(GROUP, per_second=None, group_per_minute=20)
    flood.admit(RESIDENT, per_second=30, group_per_minute=20)  # private: overall window only


async def test_server_errors(server: FakeTelegram, bot: Bot) -> None:
    started(server, RESIDENT)
    server.fail_next("sendMessage", status=502)
    server.fail_next("sendMessage", status=500)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(RESIDENT, "1")
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.send_message(RESIDENT, "1")
    assert server.sent() == []
    await bot.send_message(RESIDENT, "1")
    assert [c.ok for c in server.calls if c.method == "sendMessage"] == [False, False, True]


async def test_hang_delivers_late(server: FakeTelegram, bot: Bot) -> None:
    started(server, RESIDENT)
    server.hang_next("sendMessage", 0.3)
    with pytest.raises(TimedOut):
        await bot.send_message(RESIDENT, "慢", read_timeout=0.1)
    assert [m["text"] for m in server.sent()] == ["慢"]  # carried out all the same


async def test_drop_closes_the_connection(server: FakeTelegram, bot: Bot) -> None:
    started(server, RESIDENT)
    server.drop_next("sendMessage")
    with pytest.raises(NetworkError):
        await bot.send_message(RESIDENT, "丢")
    assert server.sent() == [] and server.calls[-1].error == "connection dropped"
    assert (await bot.send_message(RESIDENT, "再来")).text == "再来"


async def test_script_mistakes_fail_loudly(server: FakeTelegram) -> None:
    with pytest.raises(ValueError, match="add_user"):
        server.user_sends(5555, 5555, "谁?")
    with pytest.raises(ValueError):
        server.user_sends(RESIDENT, LEADER, "not my private chat")
    with pytest.raises(ValueError):
        server.press_button(RESIDENT, GROUP, 999, "x")
    server.user_blocks_bot(RESIDENT)
    with pytest.raises(ValueError, match="user_unblocks_bot"):
        server.user_sends(RESIDENT, RESIDENT, "hi")


# ----- observing -----


async def test_wait_for_and_wait_for_call(server: FakeTelegram, bot: Bot) -> None:
    started(server, RESIDENT)

    async def later() -> None:
        await asyncio.sleep(0.05)
        await bot.send_message(RESIDENT, "延迟回复")

    task = asyncio.create_task(later())
    message = await server.wait_for(lambda m: m["text"] == "延迟回复", timeout=2)
    assert message["method"] == "sendMessage" and message["chat_id"] == RESIDENT
    call = await server.wait_for_call("sendmessage", lambda p: p["chat_id"] == RESIDENT)
    assert call.ok and call.at > 0
    await task
    with pytest.raises(AssertionError, match="延迟回复"):
        await server.wait_for(lambda m: m["text"] == "从未发送", timeout=0.05)
    with pytest.raises(AssertionError, match="no editMessageText call"):
        await server.wait_for_call("editMessageText", timeout=0.05)


# ----- the real Application on top -----


App = Application[Any, Any, Any, Any, Any, Any]


@asynccontextmanager
async def running_app(
    server: FakeTelegram, allowed_updates: list[str] | None
) -> AsyncIterator[App]:
    app = (
        Application.builder()
        .token(server.token)
        .base_url(server.base_url)
        .base_file_url(server.base_file_url)
        .build()
    )
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=allowed_updates)
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()


async def test_application_handles_fake_updates(server: FakeTelegram) -> None:
    seen: dict[str, Any] = {}

    async def report(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen["args"] = context.args
        assert update.effective_message is not None
        await update.effective_message.reply_text(
            "请选择", reply_markup=keyboard(("受理", "ack:1"))
        )

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None
        await update.callback_query.answer("好的")

    async def voted(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen["vote"] = update.poll_answer

    async def joined(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen["member"] = update.chat_member

    server.add_bot_to_group(SUPERGROUP, LEADER, status="administrator")
    async with running_app(server, allowed_updates=Update.ALL_TYPES) as app:
        app.add_handler(CommandHandler("report", report))
        app.add_handler(CallbackQueryHandler(pressed))
        app.add_handler(PollAnswerHandler(voted))
        app.add_handler(ChatMemberHandler(joined, ChatMemberHandler.CHAT_MEMBER))

        server.user_sends(RESIDENT, SUPERGROUP, "/report@linli_test_bot 楼道 漏水")
        prompt = await server.wait_for(lambda m: m["text"] == "请选择")
        assert seen["args"] == ["楼道", "漏水"]
        assert prompt["chat_id"] == SUPERGROUP
        assert prompt["reply_to_message"]["from"]["id"] == RESIDENT

        query_id = server.press_button(RESIDENT, SUPERGROUP, prompt["message_id"], "ack:1")
        await server.wait_for_call("answerCallbackQuery")
        assert server.answers_to(query_id) == {"text": "好的", "show_alert": False}

        poll = (await app.bot.send_poll(SUPERGROUP, "议题?", ["a", "b"], is_anonymous=False)).poll
        server.vote(LEADER, poll.id, [1])
        server.member_joins(SUPERGROUP, STRANGER)
        await eventually(lambda: "vote" in seen and "member" in seen)
        assert (seen["vote"].user.id, seen["vote"].option_ids) == (LEADER, (1,))
        assert seen["member"].new_chat_member.user.id == STRANGER
    assert server.allowed_updates == list(Update.ALL_TYPES)
    assert server.pending_updates() == 0  # the Application confirmed everything on stop


async def test_voice_and_video_notes(server: FakeTelegram, bot: Bot) -> None:
    server.user_sends(LEADER, LEADER, "/start")
    said = server.user_sends(RESIDENT, GROUP, voice=12, spoken="电梯坏了")["message"]
    assert said["voice"]["duration"] == 12 and said["voice"]["mime_type"] == "audio/ogg"
    note = server.user_sends(RESIDENT, RESIDENT, video_note=7)["message"]["video_note"]
    assert note["duration"] == 7 and note["length"] == 240
    # the bot sends a voice again by its file_id, as Telegram allows
    again = await bot.send_voice(LEADER, said["voice"]["file_id"], caption="诉求 #1 的语音")
    assert again.voice is not None and again.voice.file_id == said["voice"]["file_id"]
    assert again.caption == "诉求 #1 的语音"
    round_one = await bot.send_video_note(LEADER, note["file_id"])
    assert round_one.video_note is not None and round_one.video_note.file_id == note["file_id"]
    assert [m["method"] for m in server.sent(LEADER)] == ["sendVoice", "sendVideoNote"]
    # a file_id of another kind, or none Telegram knows, is refused
    photo = server.user_sends(RESIDENT, RESIDENT, photo=True)["message"]["photo"][-1]["file_id"]
    with pytest.raises(BadRequest, match="Type of file mismatch"):
        await bot.send_voice(LEADER, photo)
    with pytest.raises(BadRequest, match="Type of file mismatch"):
        await bot.send_video_note(LEADER, said["voice"]["file_id"])
    with pytest.raises(BadRequest, match="Wrong file identifier"):
        await bot.send_voice(LEADER, "no-such-voice")
    # what it says can be downloaded (a speech-to-text engine reads it)
    file = await bot.get_file(said["voice"]["file_id"])
    assert (await file.download_as_bytearray()).endswith("|电梯坏了".encode())


async def test_copy_message(server: FakeTelegram, bot: Bot) -> None:
    server.user_sends(LEADER, LEADER, "/start")
    said = server.user_sends(RESIDENT, GROUP, voice=5)["message"]
    copied = await bot.copy_message(LEADER, GROUP, said["message_id"])
    stored = server.message(LEADER, copied.message_id)
    assert stored is not None and stored["voice"] == said["voice"]
    assert "forward_origin" not in stored and stored["method"] == "copyMessage"
    with pytest.raises(BadRequest, match="Message to copy not found"):
        await bot.copy_message(LEADER, GROUP, 9999)


pytestmark = pytest.mark.no_storage
