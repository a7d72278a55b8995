"""The HTTP face of the fake: aiohttp serving the Bot API and the file API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import api_bot, api_chats, api_messages, api_polls  # noqa: F401 - they register methods
from .actions import UserActions
from .errors import NOT_FOUND, SERVER_ERRORS, ApiError
from .faults import Fault, FaultPlan
from .protocol import METHODS, Handler, Params, Upload, read_params
from .state import JSON

_POLL_EVERY = 0.005  # seconds between checks in wait_for
_TOKEN = re.compile(r"\d+:[\w-]+")


@dataclass
class Call:
    """One request the bot made, with its decoded parameters and how it ended.

    Calls are listed in order of arrival; `ok` and `error` are set once the answer is ready
    (only a long poll still waiting shows `ok=False, error=None`). Uploaded files appear in
    `params` as `{"upload": filename, "content_type": ..., "size": ...}`.
    """

    method: str
    params: dict[str, Any]
    at: float  # time.monotonic() when the request arrived
    ok: bool
    error: str | None = None


class FakeTelegram(UserActions):
    """A Telegram Bot API server for tests: point `Bot(base_url=..., base_file_url=...)` at it."""

    def __init__(
        self,
        bot_id: int = 777000111,
        bot_username: str = "linli_test_bot",
        bot_first_name: str = "邻里小助手",
    ) -> None:
        super().__init__(bot_id, bot_username, bot_first_name)
        self.calls: list[Call] = []
        self.faults = FaultPlan()
        # called after each answered Bot API call but getUpdates (the sandbox's web chat
        # shows what changed); a listener must not raise
        self.listeners: list[Callable[[Call, Any], None]] = []
        self._runner: web.AppRunner | None = None
        self._port = 0

    # ----- lifecycle -----

    @property
    def token(self) -> str:
        """A token for this bot (the server takes any token of the form `digits:secret`)."""
        return f"{self.bot_user['id']}:AAFakegramTestTokenForLinliBot000000"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/file/bot"

    async def start(self, port: int = 0) -> None:
        """Serve on 127.0.0.1: `port` 0 takes a free one."""
        self.updates.closing = False
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self._port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        self.updates.close()
        if self.pusher is not None:
            await self.pusher.stop()
            self.pusher = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ----- HTTP -----

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        if not _TOKEN.fullmatch(request.match_info["token"]):
            return _answer(NOT_FOUND.payload(), 404)  # Telegram's answer to a malformed token
        spelled = request.match_info["method"]
        name, handler = METHODS.get(spelled.lower(), (spelled, None))
        params = await read_params(request)
        call = Call(name, _loggable(params), arrived, ok=False)
        self.calls.append(call)
        fault = self.faults.take(name)
        if fault is not None and fault.kind == "drop":
            call.error = "connection dropped"
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        if fault is not None and fault.kind == "fail":
            body, status = _server_error(fault.status), fault.status
        elif handler is None:
            body, status = NOT_FOUND.payload(), 404
        else:
            body, status = await self._run(handler, Params(params), call)
        call.ok = body["ok"]
        call.error = None if call.ok else body["description"]
        if call.ok and name != "getUpdates":
            for listener in self.listeners:
                listener(call, body["result"])
        if fault is not None and fault.kind == "hang":
            await asyncio.sleep(fault.seconds)  # carried out, but the answer is late
        return _answer(body, status)

    async def _run(self, handler: Handler, params: Params, call: Call) -> tuple[JSON, int]:
        try:
            result = handler(self, params)
            if inspect.isawaitable(result):
                result = await result
        except ApiError as error:
            return error.payload(), error.code
        except Exception as crash:  # a bug in the fake: loud in the log and in `calls`
            call.error = f"fakegram crashed: {crash!r}"
            raise
        return {"ok": True, "result": result}, 200

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        record = next((f for f in self.files.values() if f.path == path), None)
        if not _TOKEN.fullmatch(request.match_info["token"]) or record is None:
            return _answer(NOT_FOUND.payload(), 404)
        return web.Response(body=record.data, content_type="application/octet-stream")

    # ----- fault injection -----

    def fail_next(self, method: str, status: int = 500, count: int = 1) -> None:
        """The next `count` calls of `method` answer `status` (500, 502 ...) untouched."""
        self.faults.add(method, Fault("fail", status=status), count)

    def hang_next(self, method: str, seconds: float, count: int = 1) -> None:
        """The next `count` calls of `method` are carried out but answered `seconds` late."""
        self.faults.add(method, Fault("hang", seconds=seconds), count)

    def drop_next(self, method: str, count: int = 1) -> None:
        """The next `count` calls of `method` get the connection closed, nothing carried out."""
        self.faults.add(method, Fault("drop"), count)

    # ----- observing -----

    def sent(self, chat_id: int | None = None) -> list[JSON]:
        """Messages the bot sent, oldest first, as they were when sent (see `message`)."""
        return [copy.deepcopy(m) for m in self._sent if chat_id is None or m["chat_id"] == chat_id]

    def edits(self, chat_id: int | None = None) -> list[JSON]:
        """Every edit the bot made (text, caption or buttons), oldest first, each as the
        message stood right after it; `method` names the edit."""
        return [copy.deepcopy(m) for m in self._edits if chat_id is None or m["chat_id"] == chat_id]

    def shown(self, chat_id: int | None = None) -> list[JSON]:
        """Everything the bot ever showed in a chat: each message as sent, then as each edit
        left it."""
        return self.sent(chat_id) + self.edits(chat_id)

    def message(self, chat_id: int, message_id: int) -> JSON | None:
        """A message as it is now (after edits); None once deleted."""
        message = self.stored(chat_id, message_id)
        return copy.deepcopy(message) if message is not None else None

    async def wait_for(self, predicate: Callable[[JSON], bool], timeout: float = 5.0) -> JSON:
        """The first sent message matching `predicate`, waiting up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            for message in self.sent():
                if predicate(message):
                    return message
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"no sent message matched within {timeout}s; sent:\n{self.describe_sent()}"
                )
            await asyncio.sleep(_POLL_EVERY)

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[dict[str, Any]], bool] = lambda params: True,
        timeout: float = 5.0,
    ) -> Call:
        """The first call of `method` whose params match `predicate`, waiting if need be."""
        deadline = time.monotonic() + timeout
        while True:
            for call in list(self.calls):
                if call.method.lower() == method.lower() and predicate(call.params):
                    return call
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"no {method} call matched within {timeout}s; calls:\n{self.describe_calls()}"
                )
            await asyncio.sleep(_POLL_EVERY)

    def describe_sent(self) -> str:
        lines = [
            f"  {m['chat_id']}#{m['message_id']} {m['method']}: "
            f"{_short(m.get('text') or m.get('caption') or m.get('poll', {}).get('question'))}"
            f"{' [keyboard]' if m.get('reply_markup') else ''}"
            for m in self._sent
        ]
        return "\n".join(lines) or "  (nothing)"

    def describe_calls(self) -> str:
        lines = [
            f"  {c.method} {'ok' if c.ok else c.error}: "
            f"{_short(json.dumps(c.params, ensure_ascii=False, default=str))}"
            for c in self.calls
            if c.method != "getUpdates"
        ]
        return "\n".join(lines) or "  (no calls besides getUpdates)"


def _answer(body: JSON, status: int) -> web.Response:
    return web.json_response(body, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def _server_error(status: int) -> JSON:
    return {"ok": False, "error_code": status, "description": SERVER_ERRORS.get(status, "Error")}


def _loggable(params: dict[str, Any]) -> dict[str, Any]:
    """Params for Call records: uploads shown by name and size, not bytes."""
    return {
        key: (
            {"upload": value.filename, "content_type": value.content_type, "size": len(value.data)}
            if isinstance(value, Upload)
            else value
        )
        for key, value in params.items()
    }


def _short(text: Any, limit: int = 80) -> str:
    text = str(text).replace("\n", "⏎")
    return text if len(text) <= limit else text[: limit - 1] + "…"
