"""The one way out: every message Linli sends goes through here.

Every text in an :class:`Outgoing` is HTML, as the catalog renders it (a user's text
put in raw goes through ``esc``): message texts and captions are sent in HTML parse
mode, and what Telegram shows as plain text (button labels, a poll's question and
options) is turned into the plain text the HTML stands for.

A message is first recorded in the outbox (in the caller's transaction when it
comes with a domain change), then a dispatcher delivers it. So a crash loses no
message and a restart does not send one twice (a row is claimed before it is
sent). Sends go through PTB's AIORateLimiter; on top of it the dispatcher
retries flood control, time-outs and network errors, follows a group's
migration to a supergroup, and on 403 marks the chat unreachable and queues the
caller's fallback instead.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    InputPollOption,
    LinkPreviewOptions,
    Message,
    ReplyKeyboardMarkup,
    WebAppInfo,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TimedOut,
)

from bot.core import metrics
from bot.core.clock import Clock
from bot.core.grouplimit import GroupWindow
from bot.core.http import answer_lost
from bot.core.i18n import plain
from bot.core.instance import INSTANCE, dead_here
from bot.core.textsplit import split_html
from storage.db import Database, Tx
from storage.leases import LeaseRepo
from storage.org import OrgRepo
from storage.outbox import OutboxRepo, OutboxRow
from storage.users import UserRepo

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
CONCURRENCY = 16
# One instance sends for all (Telegram's limits hold per bot, not per process): the one
# holding the sender lease, renewed every RENEW_EVERY; when it dies, another takes over
# once SENDER_LEASE has passed (so within 10 s)
SENDER = "sender"
SENDER_LEASE = timedelta(seconds=6)
RENEW_EVERY = 2.0  # seconds
# New messages that Telegram has most likely made when a request went out whole and its
# answer did not come back in time: sending them again would show them twice.
NOT_REPEATED = frozenset({"send_message", "send_photo", "send_document", "send_voice",
                          "send_video_note"})
# Changes to a message already shown: coalesced while queued, sent after new messages.
EDITS = frozenset({"edit_text", "edit_buttons"})


@dataclass(frozen=True, slots=True)
class Button:
    text: str
    data: str | None = None  # callback data: short ids only (≤ 64 bytes)
    url: str | None = None
    web_app: str | None = None  # a Mini App's URL (private chats only)

    def __post_init__(self) -> None:
        if self.data is not None and len(self.data.encode()) > 64:
            raise ValueError(f"callback data over 64 bytes: {self.data!r}")


@dataclass(slots=True)
class Outgoing:
    """A message to send (or an edit of one already sent)."""

    chat_id: int
    text: str | None = None
    buttons: list[list[Button]] | None = None
    # send_message, send_photo, send_voice, send_video_note, send_document, send_poll,
    # stop_poll, create_forum_topic, edit_text, edit_buttons
    method: str = "send_message"
    photo: str | None = None  # a Telegram file_id; or send_photo with ``document`` (a PNG we drew)
    voice: str | None = None  # a voice's or video note's file_id (send_voice, send_video_note)
    document: bytes | None = None  # a small file (.ics, .csv, .png), kept in the outbox
    filename: str | None = None
    poll: dict[str, Any] | None = None  # {"question", "options", "multiple"}, HTML too
    name: str | None = None  # a forum topic's name
    message_id: int | None = None  # for edits
    thread_id: int | None = None
    ref: str | None = None
    dedup_key: str | None = None
    not_before: datetime | None = None
    fallback: Outgoing | None = None
    bulk: bool = False  # one of many alike (a broadcast): sent after what people wait for
    # a persistent reply keyboard (the private menu of big buttons), rows of button texts;
    # only on a message without inline buttons
    keyboard: list[list[str]] | None = None

    def payload(self) -> dict[str, Any]:
        buttons = None
        if self.buttons:
            buttons = [[{"text": b.text, "data": b.data, "url": b.url}
                        | ({"web_app": b.web_app} if b.web_app else {}) for b in row]
                       for row in self.buttons]
        payload = {"text": self.text, "photo": self.photo, "message_id": self.message_id,
                   "thread_id": self.thread_id, "buttons": buttons}
        if self.document is not None:
            payload["document"] = base64.b64encode(self.document).decode()
            payload["filename"] = self.filename or "file"
        if self.poll is not None:
            payload["poll"] = self.poll
        if self.name is not None:
            payload["name"] = self.name
        if self.keyboard:
            payload["keyboard"] = self.keyboard
        if self.voice is not None:
            payload["voice"] = self.voice
        return payload


@dataclass(frozen=True, slots=True)
class Delivery:
    outbox_id: int
    status: str  # sent, failed, unreachable
    message_ids: list[int] = field(default_factory=list)


UnreachableListener = Callable[[Tx, OutboxRow], Awaitable[None]]
# (tx, row, delivery, extra): extra holds what the send produced, e.g. {"poll_id": ...}
# for send_poll, {"thread_id": ...} for create_forum_topic, {"chat_title": ...} for a send.
FinishedListener = Callable[[Tx, OutboxRow, "Delivery", dict[str, Any]], Awaitable[None]]


def _markup(buttons: list[list[dict[str, Any]]] | None,
            keyboard: list[list[str]] | None = None,
            ) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | None:
    if not buttons:
        if keyboard:
            return ReplyKeyboardMarkup(keyboard, resize_keyboard=True, is_persistent=True)
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(plain(b["text"]), callback_data=b.get("data"), url=b.get("url"),
                               web_app=WebAppInfo(b["web_app"]) if b.get("web_app") else None)
          for b in row] for row in buttons]
    )


class Notifier:
    def __init__(
        self, db: Database, outbox: OutboxRepo, users: UserRepo, org: OrgRepo, clock: Clock
    ) -> None:
        self.db, self.outbox, self.users, self.org, self.clock = db, outbox, users, org, clock
        self.bot: Bot | None = None
        self._wake = asyncio.Event()
        self._inflight: dict[int, asyncio.Task[None]] = {}  # chat id → its one send in progress
        self._waiters: dict[int, list[asyncio.Future[Delivery]]] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._listeners: list[UnreachableListener] = []
        self._finished: list[tuple[str, FinishedListener]] = []
        self.groups = GroupWindow()
        self.leases = LeaseRepo(db)
        self.me = INSTANCE
        self.sending = False  # this instance holds the sender lease
        self._renewed = 0.0  # time.monotonic() of the last renewal

    # -- queueing -------------------------------------------------------------------

    async def enqueue(self, tx: Tx, msg: Outgoing, *, want_id: bool = False) -> int | None:
        """Record a message inside the caller's transaction; call :meth:`kick` after commit.
        With ``want_id`` it returns the message's outbox id (None if queued before)."""
        now = self.clock.now()
        edit_of = msg.message_id if msg.method in EDITS else None
        if edit_of is not None and msg.dedup_key is None and msg.fallback is None:
            # only the latest state of a message is worth sending: 60 presses of +1 while
            # one edit waits make that one edit show the 60th count, not 60 edits
            queued = await self.outbox.coalesce_edit(
                tx, chat_id=msg.chat_id, edit_of=edit_of, method=msg.method,
                payload=msg.payload(), ref=msg.ref)
            if queued is not None:
                return queued if want_id else None
        fallback = None
        if msg.fallback is not None:
            fb = msg.fallback
            fallback = {"chat_id": fb.chat_id, "method": fb.method, "payload": fb.payload(),
                        "ref": fb.ref}
        return await self.outbox.add(
            tx, chat_id=msg.chat_id, method=msg.method, payload=msg.payload(), fallback=fallback,
            ref=msg.ref, dedup_key=msg.dedup_key, not_before=msg.not_before or now, now=now,
            bulk=msg.bulk, want_id=want_id, edit_of=edit_of,
        )

    async def send(self, msg: Outgoing, *, wait: bool = False,
                   timeout: float = 30.0) -> Delivery | None:
        """Record and deliver one message; with ``wait`` return how its delivery ended
        (None if its dedup key was queued before)."""
        async with self.db.write() as tx:
            outbox_id = await self.enqueue(tx, msg, want_id=wait)
        self.kick()
        if wait and outbox_id is not None:
            return await self.wait(outbox_id, timeout)
        return None

    def kick(self) -> None:
        self._wake.set()

    async def wait(self, outbox_id: int, timeout: float = 30.0) -> Delivery:
        row = await self.outbox.get(outbox_id)
        if row is not None and row.status in ("sent", "failed", "unreachable"):
            return Delivery(outbox_id, row.status, row.message_ids)
        future: asyncio.Future[Delivery] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(outbox_id, []).append(future)
        self.kick()
        async with asyncio.timeout(timeout):  # not wait_for: see _run
            return await future

    def on_unreachable(self, listener: UnreachableListener) -> None:
        """Features hear of a 403 (in the same transaction that records it)."""
        self._listeners.append(listener)

    def on_finished(self, ref_prefix: str, listener: FinishedListener) -> None:
        """Features hear how their messages (``ref`` starting with the prefix) ended:
        sent, failed or unreachable, in the transaction that records it. This is
        how a poll's id or a new forum topic's thread reaches the feature."""
        self._finished.append((ref_prefix, listener))

    async def _tell_finished(self, tx: Tx, row: OutboxRow, delivery: Delivery,
                             extra: dict[str, Any]) -> None:
        for prefix, listener in self._finished:
            if row.ref is not None and row.ref.startswith(prefix):
                await listener(tx, row, delivery, extra)

    # -- the dispatcher -------------------------------------------------------------

    async def start(self, bot: Bot) -> None:
        self.bot = bot
        await self._keep_lease()
        self._loop_task = asyncio.create_task(self._run(), name="linli-notifier")

    async def _keep_lease(self) -> None:
        """Take or renew the sender lease when due. On taking it, the messages the last
        holder had in flight (it crashed, or lost the lease) are sent again (at least once)."""
        if self.sending and time.monotonic() - self._renewed < RENEW_EVERY:
            return
        now = self.clock.now()
        held = await self.leases.hold(SENDER, self.me, now, SENDER_LEASE)
        if not held:  # a holder of this machine that has died need not be waited out
            other = await self.leases.holder(SENDER)
            if other is not None and dead_here(other):
                held = await self.leases.take_from(SENDER, other, self.me, now, SENDER_LEASE)
        if held:
            self._renewed = time.monotonic()
        if held and not self.sending:
            self.sending = True
            released = await self.outbox.release_inflight()
            log.info("sending for every instance (sender lease %s)", self.me)
            if released:
                log.warning("re-sending %d message(s) interrupted by a crash", released)
        elif not held and self.sending:
            self.sending = False
            log.warning("sender lease lost to another instance; not sending")

    async def stop(self, grace: float = 5.0) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None
        if self._inflight:
            await asyncio.wait(list(self._inflight.values()), timeout=grace)
        if self.sending:
            self.sending = False
            try:
                await self.leases.give_up(SENDER, self.me)
            except Exception:  # the database went first: the lease runs out by itself
                log.warning("could not give up the sender lease", exc_info=True)

    async def idle(self) -> bool:
        """True when nothing due is queued or being sent (tests and benchmarks)."""
        return not self._inflight and not await self.outbox.due(self.clock.now(), limit=1)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self._dispatch_due()
            except Exception:
                log.exception("notifier dispatch failed; retrying shortly")
            # asyncio.timeout, not wait_for: on Python 3.11, wait_for swallows a cancellation
            # that arrives as the event is set, and stop() then waited for this loop forever
            try:
                async with asyncio.timeout(1.0):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _dispatch_due(self) -> None:
        await self._keep_lease()
        free = CONCURRENCY - len(self._inflight)
        if free <= 0 or not self.sending:
            return
        chosen: dict[int, int] = {}  # chat id → its oldest due message
        due = await self.outbox.due(self.clock.now(), limit=CONCURRENCY * 8,
                                    skip=self.groups.full(),
                                    skip_edits=self.groups.full(for_edits=True))
        for outbox_id, chat_id in due:
            # one send at a time per chat keeps its messages in order
            if chat_id not in self._inflight and chat_id not in chosen:
                chosen[chat_id] = outbox_id
                if len(chosen) >= free:
                    break
        for row in await self.outbox.claim_many(list(chosen.values())):
            self.groups.sent(row.chat_id, edit=row.method in EDITS)
            task = asyncio.create_task(self._deliver(row), name=f"linli-send-{row.id}")
            self._inflight[row.chat_id] = task
            task.add_done_callback(lambda _t, chat=row.chat_id: self._done(chat))

    def _done(self, chat_id: int) -> None:
        self._inflight.pop(chat_id, None)
        self._wake.set()

    # -- delivering one row ---------------------------------------------------------

    async def _deliver(self, row: OutboxRow) -> None:
        try:
            await self._attempt(row)
        except Exception:
            log.exception("delivery of outbox #%d crashed", row.id)
            await self._finish(row, "failed", error="internal error")

    async def _attempt(self, row: OutboxRow) -> None:
        began = self.clock.now()
        if row.chat_id > 0:
            user = await self.users.get(row.chat_id)
            if user is not None and user.unreachable:
                await self._unreachable(row, "known unreachable")
                return
        extra: dict[str, Any] = {}
        try:
            message_ids = await self._perform(row, extra)
        except RetryAfter as exc:
            metrics.FLOOD_WAITS.inc()
            wait = exc.retry_after
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            await self._later(row, seconds, f"flood control: {seconds}s", count_attempt=False)
        except ChatMigrated as exc:
            await self._migrate(row, exc.new_chat_id)
        except Forbidden as exc:
            await self._unreachable(row, exc.message, tried_at=began)
        except TimedOut as exc:
            if row.method in NOT_REPEATED and answer_lost(exc):
                log.warning("outbox #%d to %s: no answer in time; taken as sent, not repeated",
                            row.id, row.chat_id)
                await self._finish(row, "sent", message_ids=list(row.message_ids),
                                   error="unconfirmed: Telegram's answer did not come in time")
            else:
                await self._network_error(row, exc)
        except BadRequest as exc:
            await self._bad_request(row, exc)
        except NetworkError as exc:  # 500, 502, a dropped connection
            await self._network_error(row, exc)
        else:
            await self._finish(row, "sent", message_ids=message_ids, extra=extra)

    async def _network_error(self, row: OutboxRow, exc: NetworkError) -> None:
        if row.attempts >= MAX_ATTEMPTS:
            await self._finish(row, "failed", error=f"gave up: {exc.message}")
        else:
            await self._later(row, min(2 ** max(row.attempts - 1, 0), 300), exc.message)

    async def _perform(self, row: OutboxRow, extra: dict[str, Any]) -> list[int]:
        assert self.bot is not None
        p = row.payload
        markup = _markup(p.get("buttons"), p.get("keyboard"))
        thread = p.get("thread_id")
        if row.method == "edit_text":
            await self.bot.edit_message_text(
                p["text"], chat_id=row.chat_id, message_id=p["message_id"], reply_markup=markup,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
            return [p["message_id"]]
        if row.method == "edit_buttons":
            await self.bot.edit_message_reply_markup(
                chat_id=row.chat_id, message_id=p["message_id"], reply_markup=markup
            )
            return [p["message_id"]]
        if row.method == "send_photo":
            photo = p["photo"] or InputFile(base64.b64decode(p["document"]),
                                            filename=p["filename"])  # an image we drew
            message = await self.bot.send_photo(
                row.chat_id, photo, caption=p.get("text"), reply_markup=markup,
                message_thread_id=thread,
            )
            extra["chat_title"] = message.chat.title
            return [message.message_id]
        if row.method == "send_voice":
            message = await self.bot.send_voice(
                row.chat_id, p["voice"], caption=p.get("text"), reply_markup=markup,
                message_thread_id=thread,
            )
            return [message.message_id]
        if row.method == "send_video_note":  # a video note has no caption
            message = await self.bot.send_video_note(
                row.chat_id, p["voice"], reply_markup=markup, message_thread_id=thread,
            )
            return [message.message_id]
        if row.method in ("send_document", "send_poll", "stop_poll", "create_forum_topic"):
            return await self._perform_other(row, markup, extra)
        parts = split_html(p["text"])
        sent = list(row.message_ids)  # parts a previous attempt already delivered
        for index in range(len(sent), len(parts)):
            last = index == len(parts) - 1
            try:
                message = await self.bot.send_message(
                    row.chat_id, parts[index], reply_markup=markup if last else None,
                    message_thread_id=thread,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                )
            except TimedOut as exc:
                if last or not answer_lost(exc):
                    raise
                sent.append(0)  # most likely shown: go on with the next part, do not repeat it
                await self.outbox.record_part(row.id, sent)
                continue
            sent.append(message.message_id)
            extra["chat_title"] = message.chat.title  # a group's name as Telegram has it now
            if not last:
                await self.outbox.record_part(row.id, sent)
        return sent

    async def _perform_other(self, row: OutboxRow, markup: InlineKeyboardMarkup | None,
                             extra: dict[str, Any]) -> list[int]:
        assert self.bot is not None
        p, thread = row.payload, row.payload.get("thread_id")
        message: Message
        if row.method == "send_document":
            document = InputFile(base64.b64decode(p["document"]), filename=p["filename"])
            message = await self.bot.send_document(
                row.chat_id, document, caption=p.get("text"), reply_markup=markup,
                message_thread_id=thread,
            )
        elif row.method == "send_poll":
            poll = p["poll"]
            # poll texts take no formatting: plain text, the bot's default parse mode off
            message = await self.bot.send_poll(
                row.chat_id, plain(poll["question"]),
                [InputPollOption(plain(o), text_parse_mode=None) for o in poll["options"]],
                is_anonymous=False, question_parse_mode=None,
                allows_multiple_answers=bool(poll.get("multiple")), message_thread_id=thread,
                reply_markup=markup,
            )
            assert message.poll is not None
            extra["poll_id"] = message.poll.id
        elif row.method == "stop_poll":
            await self.bot.stop_poll(row.chat_id, p["message_id"], reply_markup=markup)
            return [p["message_id"]]
        else:  # create_forum_topic
            topic = await self.bot.create_forum_topic(row.chat_id, p["name"])
            extra["thread_id"] = topic.message_thread_id
            return []
        return [message.message_id]

    async def _bad_request(self, row: OutboxRow, exc: BadRequest) -> None:
        text = exc.message.lower()
        if "chat not found" in text and not row.method.startswith("edit"):
            # a user id Telegram has never seen (a typo in the org file, say): unreachable
            await self._unreachable(row, exc.message)
        elif "message is not modified" in text:
            await self._finish(row, "sent", message_ids=[row.payload.get("message_id") or 0])
        elif "thread not found" in text and row.payload.get("thread_id"):
            # the topic was deleted: post in the main chat instead
            await self._retry_without_thread(row)
        else:
            log.warning("outbox #%d to %s refused: %s", row.id, row.chat_id, exc.message)
            await self._finish(row, "failed", error=exc.message)

    async def _retry_without_thread(self, row: OutboxRow) -> None:
        async with self.db.write() as tx:
            await self.outbox.requeue(tx, row.id, payload={**row.payload, "thread_id": None})

    async def _later(
        self, row: OutboxRow, seconds: float, error: str, count_attempt: bool = True
    ) -> None:
        log.info("outbox #%d to %s retried in %.1fs: %s", row.id, row.chat_id, seconds, error)
        await self.outbox.retry_later(
            row.id, self.clock.now() + timedelta(seconds=seconds), error, count_attempt
        )
        asyncio.get_running_loop().call_later(seconds, self._wake.set)

    async def _migrate(self, row: OutboxRow, new_chat_id: int) -> None:
        now = self.clock.now()
        async with self.db.write() as tx:
            await self.org.migrate_chat(tx, row.chat_id, new_chat_id, now)
            await self.outbox.requeue(tx, row.id)
            await self.outbox.retarget(tx, row.chat_id, new_chat_id)
        log.info("chat %s migrated to %s; binding and queue follow", row.chat_id, new_chat_id)

    async def _unreachable(self, row: OutboxRow, reason: str,
                           tried_at: datetime | None = None) -> None:
        now = self.clock.now()
        async with self.db.write() as tx:
            await self.outbox.finish(tx, row.id, "unreachable", now, error=reason)
            if row.chat_id > 0:
                await self.users.mark_reachable(tx, row.chat_id, False, now, tried_at)
            else:
                await self.org.deactivate_chat(tx, row.chat_id, now)
            if row.fallback:
                fb = row.fallback
                await self.outbox.add(
                    tx, chat_id=fb["chat_id"], method=fb["method"], payload=fb["payload"],
                    fallback=None, ref=fb.get("ref"), dedup_key=f"fallback:{row.id}",
                    not_before=now, now=now,
                )
            for listener in self._listeners:
                await listener(tx, row)
            await self._tell_finished(tx, row, Delivery(row.id, "unreachable"), {"error": reason})
        log.info("outbox #%d: chat %s unreachable (%s)", row.id, row.chat_id, reason)
        self._resolve(row.id, Delivery(row.id, "unreachable"))
        self.kick()

    async def _finish(
        self, row: OutboxRow, status: str, message_ids: list[int] | None = None,
        error: str | None = None, extra: dict[str, Any] | None = None,
    ) -> None:
        delivery = Delivery(row.id, status, message_ids or [])
        metrics.SENDS.labels(status).inc()
        async with self.db.write() as tx:
            await self.outbox.finish(tx, row.id, status, self.clock.now(), message_ids, error)
            details = dict(extra or {})
            if error is not None:
                details["error"] = error
            await self._tell_finished(tx, row, delivery, details)
        self._resolve(row.id, delivery)

    def _resolve(self, outbox_id: int, delivery: Delivery) -> None:
        for future in self._waiters.pop(outbox_id, []):
            if not future.done():
                future.set_result(delivery)
