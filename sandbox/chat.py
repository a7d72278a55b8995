"""The sandbox's web chat: a Telegram-like client for the people of the sandbox.

It reads the emulator's world and acts through the emulator's own user actions (a person
sends, presses a button, votes), so the bot sees exactly what Telegram would send it. Each
page holds a WebSocket; every Bot API call the bot makes (and every action taken here) tells
the pages to fetch what changed. The clock strip moves the bot's clock and runs the
scheduler's sweep; it exists only here, in the sandbox's own server, never in `linli run`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from aiohttp import WSMsgType, web

from sandbox.demo import World
from sandbox.fakegram import Call, FakeTelegram
from sandbox.fakegram.state import JSON, public

if TYPE_CHECKING:
    from bot.core.clock import ShiftedClock
    from bot.services import Linli

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
STEPS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
MAX_UPLOAD = 20 * 1024 * 1024
_WEEKDAYS = "一二三四五六日"


class ChatServer:
    def __init__(self, tg: FakeTelegram, world: World, clock: ShiftedClock,
                 linli: Callable[[], Linli], settle: Callable[[], Awaitable[None]],
                 on_change: Callable[[], None] = lambda: None) -> None:
        self.tg, self.world, self.clock = tg, world, clock
        self._linli, self._settle, self._on_change = linli, settle, on_change
        self._sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()
        self._pressed: dict[str, int] = {}  # callback query id -> who pressed
        self._runner: web.AppRunner | None = None
        self._pending_push = False
        self.port = 0
        tg.listeners.append(self._bot_called)

    # ----- lifecycle -----

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_UPLOAD, middlewares=[_same_origin])
        r = app.router
        r.add_get("/", self._page)
        r.add_get("/api/world", self._world)
        r.add_get("/api/chats", self._chats)
        r.add_get("/api/messages", self._messages)
        r.add_post("/api/send", self._send)
        r.add_post("/api/press", self._press)
        r.add_post("/api/vote", self._vote)
        r.add_post("/api/language", self._language)
        r.add_get("/api/clock", self._clock)
        r.add_post("/api/clock", self._move_clock)
        r.add_get("/api/ws", self._socket)
        r.add_get("/file/{file_id}", self._file)
        r.add_static("/static", HERE / "static", append_version=True)
        return app

    async def start(self, port: int) -> str:
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return f"http://127.0.0.1:{self.port}/"

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ----- live updates -----

    def _bot_called(self, call: Call, result: Any) -> None:
        if call.method == "answerCallbackQuery":
            who = self._pressed.pop(str(call.params.get("callback_query_id")), None)
            text = call.params.get("text")
            if who is not None and text:
                self._push({"type": "toast", "user": who, "text": str(text),
                            "alert": bool(call.params.get("show_alert"))})
            return
        self.changed()

    def changed(self) -> None:
        """Something in the world changed: the pages refetch (at most every 50 ms)."""
        self._on_change()
        if self._pending_push:
            return
        self._pending_push = True
        asyncio.get_running_loop().call_later(0.05, self._push_change)

    def _push_change(self) -> None:
        self._pending_push = False
        self._push({"type": "changed"})

    def _push(self, event: JSON) -> None:
        text = json.dumps(event, ensure_ascii=False)
        for ws in list(self._sockets):
            if not ws.closed:
                asyncio.get_running_loop().create_task(_send_quietly(ws, text))

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20)
        await ws.prepare(request)
        self._sockets.add(ws)
        async for message in ws:
            if message.type == WSMsgType.ERROR:
                break
        return ws

    # ----- the page and the world -----

    async def _page(self, request: web.Request) -> web.Response:
        html = (HERE / "templates" / "chat.html").read_text(encoding="utf-8")
        return web.Response(text=html, content_type="text/html", headers={
            "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; "
            "media-src 'self' blob:; connect-src 'self'; style-src 'self'; script-src 'self'",
            "Cache-Control": "no-store"})

    async def _world(self, request: web.Request) -> web.Response:
        return _json({
            "bot": self.tg.bot_user, "timezone": self._linli().settings.timezone,
            "people": [{"id": p.id, "name": p.name, "role": p.role, "place": p.place}
                       for p in self.world.people],
        })

    def _person(self, request: web.Request, value: Any = None) -> int:
        raw = value if value is not None else request.query.get("user")
        try:
            user_id = int(str(raw))
        except ValueError:
            raise web.HTTPBadRequest(text="user?") from None
        if user_id not in self.tg.users:
            raise web.HTTPNotFound(text="no such person")
        return user_id

    def _visible_chat(self, user_id: int, raw: Any) -> int:
        try:
            chat_id = int(str(raw))
        except ValueError:
            raise web.HTTPBadRequest(text="chat?") from None
        if chat_id == user_id:
            return chat_id
        chat = self.tg.chats.get(chat_id)
        if chat is None or chat.type == "private" or chat.statuses.get(user_id) in (
                None, "left", "kicked"):
            raise web.HTTPForbidden(text="not your chat")
        return chat_id

    async def _chats(self, request: web.Request) -> web.Response:
        user_id = self._person(request)
        chats = [self._chat_entry(user_id, user_id, None)]
        for chat in self.tg.chats.values():
            if chat.type == "private" or chat.statuses.get(user_id) in (None, "left", "kicked"):
                continue
            if chat.migrated_to is not None:
                continue
            chats.append(self._chat_entry(user_id, chat.id, None))
            for topic in chat.topics.values():
                chats.append(self._chat_entry(user_id, chat.id, topic.thread_id, topic.name))
        chats.sort(key=lambda c: (-c["last_date"], c["chat"], c["thread"] or 0))
        return _json({"chats": chats})

    def _chat_entry(self, user_id: int, chat_id: int, thread: int | None,
                    topic: str | None = None) -> JSON:
        chat = self.tg.chat(chat_id)
        messages = self._thread(chat_id, thread)
        last = messages[-1] if messages else None
        title = self.tg.bot_user["first_name"] if chat.type == "private" else chat.title
        return {
            "chat": chat_id, "thread": thread, "title": title, "topic": topic,
            "kind": "private" if chat.type == "private" else (
                "topic" if thread else ("forum" if chat.is_forum else "group")),
            "last": _preview(last) if last else "",
            "last_from": (last["from"].get("first_name") if last and chat.type != "private"
                          else None),
            "last_date": last["date"] if last else 0,
            "last_id": last["message_id"] if last else 0,
        }

    def _thread(self, chat_id: int, thread: int | None) -> list[JSON]:
        chat = self.tg.chat(chat_id)
        found = []
        for (cid, _), message in self.tg.messages.items():
            if cid != chat_id:
                continue
            in_thread = message.get("message_thread_id") if message.get(
                "is_topic_message") else None
            if chat.is_forum and in_thread != thread:
                continue
            found.append(message)
        found.sort(key=lambda m: m["message_id"])
        return found

    async def _messages(self, request: web.Request) -> web.Response:
        user_id = self._person(request)
        chat_id = self._visible_chat(user_id, request.query.get("chat"))
        thread = _optional_int(request.query.get("thread"))
        messages = self._thread(chat_id, thread)
        keyboard = None
        for message in messages:
            markup = message.get("reply_markup") or {}
            if message["from"]["id"] == self.tg.bot_user["id"] and (
                    "keyboard" in markup or "remove_keyboard" in markup):
                keyboard = markup.get("keyboard")
        return _json({
            "messages": [self._render(user_id, m) for m in messages],
            "keyboard": keyboard,
            "commands": self._commands(user_id, chat_id),
            "closed": bool(thread and self.tg.chat(chat_id).topics[thread].closed),
        })

    def _render(self, user_id: int, message: JSON) -> JSON:
        out = public(message)
        out["mine"] = message["from"]["id"] == user_id
        out["from_bot"] = message["from"]["id"] == self.tg.bot_user["id"]
        if "poll" in out:
            record = self.tg.polls.get(out["poll"]["id"])
            out["poll"]["chosen"] = record.votes.get(user_id, []) if record else []
        return out

    def _commands(self, user_id: int, chat_id: int) -> list[JSON]:
        """The menu Telegram would show `user_id` in this chat: the most specific scope
        and the user's language first, as Telegram resolves them."""
        info = self.tg.users[user_id].info
        language = (info.get("language_code") or "")[:2]
        if chat_id == user_id:
            scopes = [f"chat:{chat_id}", "all_private_chats", "default"]
        else:
            admin = self.tg.chat(chat_id).statuses.get(user_id) in ("administrator", "creator")
            scopes = [f"chat_member:{chat_id}:{user_id}"]
            scopes += [f"chat_administrators:{chat_id}"] if admin else []
            scopes += [f"chat:{chat_id}"]
            scopes += ["all_chat_administrators"] if admin else []
            scopes += ["all_group_chats", "default"]
        for scope in scopes:
            for code in (language, ""):
                if (scope, code) in self.tg.commands:
                    return self.tg.commands[(scope, code)]
        return []

    # ----- what people do -----

    async def _send(self, request: web.Request) -> web.Response:
        form = await request.post()
        user_id = self._person(request, form.get("user"))
        chat_id = self._visible_chat(user_id, form.get("chat"))
        thread = _optional_int(form.get("thread"))
        if thread is not None and thread not in self.tg.chat(chat_id).topics:
            raise web.HTTPBadRequest(text="no such topic")
        kind = str(form.get("kind") or "text")
        caption = str(form.get("caption") or "").strip() or None
        try:
            if kind == "text":
                text = str(form.get("text") or "").strip()
                if not text:
                    raise web.HTTPBadRequest(text="empty")
                self.tg.user_sends(user_id, chat_id, text, message_thread_id=thread)
            elif kind == "location":
                latitude, longitude = float(str(form["latitude"])), float(str(form["longitude"]))
                self.tg.user_sends(user_id, chat_id, location=(latitude, longitude),
                                   message_thread_id=thread)
            elif kind in ("photo", "voice", "document"):
                upload = form.get("file")
                if not isinstance(upload, web.FileField):
                    raise web.HTTPBadRequest(text="no file")
                data = upload.file.read()
                send_file(self.tg, user_id, chat_id, kind, data, upload.filename or "file",
                          upload.content_type, caption, thread)
            else:
                raise web.HTTPBadRequest(text="unknown kind")
        except (ValueError, KeyError) as error:
            raise web.HTTPBadRequest(text=str(error)) from None
        self.changed()
        return _json({"ok": True})

    async def _press(self, request: web.Request) -> web.Response:
        body = await request.json()
        user_id = self._person(request, body.get("user"))
        chat_id = self._visible_chat(user_id, body.get("chat"))
        try:
            query = self.tg.press_button(user_id, chat_id, int(body["message_id"]),
                                         str(body["data"]))
        except (ValueError, KeyError) as error:
            raise web.HTTPBadRequest(text=str(error)) from None
        self._pressed[query] = user_id
        return _json({"ok": True, "query": query})

    async def _vote(self, request: web.Request) -> web.Response:
        body = await request.json()
        user_id = self._person(request, body.get("user"))
        record = self.tg.polls.get(str(body.get("poll")))
        if record is None:
            raise web.HTTPNotFound(text="no such poll")
        self._visible_chat(user_id, record.chat_id)
        try:
            self.tg.vote(user_id, str(body["poll"]), [int(i) for i in body.get("options", [])])
        except (ValueError, TypeError) as error:
            raise web.HTTPBadRequest(text=str(error)) from None
        self.changed()
        return _json({"ok": True})

    async def _language(self, request: web.Request) -> web.Response:
        """The English switch: people's Telegram language, which the bot answers in."""
        body = await request.json()
        code = "en" if body.get("language") == "en" else "zh-hans"
        for record in self.tg.users.values():
            record.info["language_code"] = code
        self.changed()
        return _json({"ok": True})

    async def _file(self, request: web.Request) -> web.Response:
        record = self.tg.files.get(request.match_info["file_id"])
        if record is None:
            raise web.HTTPNotFound()
        described = self.tg.file_objects.get(record.file_id)
        headers = {"Cache-Control": "private, max-age=3600"}
        content_type = "application/octet-stream"
        if isinstance(described, dict):  # a document (or a voice note)
            content_type = described.get("mime_type") or content_type
            name = described.get("file_name") or "file"
            headers["Content-Disposition"] = _attachment(name)
        elif isinstance(described, list):
            content_type = "image/jpeg"
        return web.Response(body=record.data, content_type=content_type, headers=headers)

    # ----- the clock -----

    async def _clock(self, request: web.Request) -> web.Response:
        return _json(await self._clock_state())

    async def _clock_state(self) -> JSON:
        linli = self._linli()
        now = self.clock.now()
        following = await linli.scheduler.deadlines.next_due_at()
        return {"now": now.isoformat(), "local": _local(now, linli.settings.tz),
                "next": following.isoformat() if following else None,
                "next_local": _local(following, linli.settings.tz, short=True)
                if following else None}

    async def _move_clock(self, request: web.Request) -> web.Response:
        body = await request.json()
        step = body.get("step")
        linli = self._linli()
        if step == "next":
            following = await linli.scheduler.deadlines.next_due_at()
            if following is None:
                return _json({"fired": 0, **await self._clock_state()})
            delta = max(following - self.clock.now(), timedelta(0)) + timedelta(seconds=1)
        elif step in STEPS:
            delta = STEPS[step]
        else:
            raise web.HTTPBadRequest(text="step is hour, day or next")
        self.clock.advance(delta)
        fired = await linli.scheduler.sweep()
        await self._settle()
        self.changed()
        self._push({"type": "clock"})
        return _json({"fired": fired, **await self._clock_state()})


def send_file(tg: FakeTelegram, user_id: int, chat_id: int, kind: str, data: bytes,
              filename: str, content_type: str, caption: str | None,
              thread: int | None) -> JSON:
    """A person sends a photo, a voice note or a document they uploaded in the page."""
    if not data:
        raise ValueError("the file is empty")
    chat = tg._chat_for_user(user_id, chat_id)  # the same membership rules as user_sends
    if thread is not None and thread not in chat.topics:
        raise ValueError(f"no topic {thread} in chat {chat_id}")
    message = tg.new_message(chat, tg.user(user_id).info, thread)
    if kind == "photo":
        message["photo"] = tg.new_photo(data)
    else:
        folder = "voice" if kind == "voice" else "documents"
        extension = filename.rsplit(".", 1)[-1] if "." in filename else "bin"
        record = tg.new_file(data, folder, extension[:8])
        described: JSON = {"file_id": record.file_id, "file_unique_id": record.file_unique_id,
                           "file_size": len(data), "mime_type": content_type}
        if kind == "voice":
            described["duration"] = 1
            described["file_name"] = filename
        else:
            described["file_name"] = filename
        tg.file_objects[record.file_id] = described
        message[kind] = {k: v for k, v in described.items()
                         if kind == "document" or k != "file_name"}
    if caption:
        message["caption"] = caption
    tg.store(message)
    return tg.queue_update("message", public(message))


@web.middleware
async def _same_origin(request: web.Request, handler: Any) -> web.StreamResponse:
    """Actions only from the sandbox's own page (another site open in the browser cannot
    post to it)."""
    if request.method == "POST":
        origin = request.headers.get("Origin")
        if origin is not None and urlparse(origin).netloc != request.host:
            raise web.HTTPForbidden(text="cross-origin")
    return await handler(request)


def _json(data: Any) -> web.Response:
    return web.json_response(data, dumps=lambda o: json.dumps(o, ensure_ascii=False))


async def _send_quietly(ws: web.WebSocketResponse, text: str) -> None:
    try:
        await ws.send_str(text)
    except (ConnectionError, RuntimeError):
        pass


def _optional_int(raw: Any) -> int | None:
    if raw in (None, "", "null"):
        return None
    try:
        return int(str(raw))
    except ValueError:
        raise web.HTTPBadRequest(text="number?") from None


def _preview(message: JSON) -> str:
    for key, label in (("text", None), ("caption", None), ("poll", "📊"), ("photo", "🖼"),
                       ("document", "📎"), ("voice", "🎤"), ("location", "📍")):
        if key in message:
            if label is None:
                return str(message[key])[:80]
            if key == "poll":
                return f"📊 {message['poll']['question'][:70]}"
            if key == "document":
                return f"📎 {message['document'].get('file_name', '')}"
            return label
    if "forum_topic_created" in message:
        return "#"
    return ""


def _local(moment: datetime, tz: Any, short: bool = False) -> str:
    local = moment.astimezone(tz)
    if short:
        return f"{local:%m-%d %H:%M}"
    return f"{local:%Y-%m-%d} 周{_WEEKDAYS[local.weekday()]} {local:%H:%M}"


def _attachment(name: str) -> str:
    from urllib.parse import quote

    return f"attachment; filename*=UTF-8''{quote(name)}"

