"""`linli run` as a real process: long polling and webhook mode, clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from aiohttp import ClientSession, web

from sandbox.fakegram import FakeTelegram
from tests.backend import database_in
from tests.harness import TOKEN

ROOT = Path(__file__).resolve().parent.parent


def _env(tg: FakeTelegram, folder: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env.update({"LINLI_BOT_TOKEN": TOKEN, "LINLI_API_BASE_URL": tg.base_url,
                "LINLI_API_BASE_FILE_URL": tg.base_file_url,
                "LINLI_DATABASE": str(database_in(folder)), "LINLI_ADMIN_IDS": "1"})
    env.update(extra)
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    return await asyncio.to_thread(proc.wait, 30)


async def test_long_polling_asks_for_member_updates_and_stops_cleanly(
        tg: FakeTelegram, tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=_env(tg, tmp_path),
                            cwd=ROOT, stderr=subprocess.PIPE)
    try:
        await tg.wait_for_call("getUpdates", timeout=30)
        assert {"chat_member", "my_chat_member", "poll_answer"} <= set(tg.allowed_updates or [])
        # command menus per scope, Chinese by default and English for English users
        assert ("all_private_chats", "") in tg.commands
        assert ("all_group_chats", "en") in tg.commands
        assert ("all_chat_administrators", "") in tg.commands
        tg.add_user(7, "居民")
        tg.user_sends(7, 7, "/help")
        await tg.wait_for(lambda m: m["chat"]["id"] == 7 and "使用说明" in m["text"], timeout=10)
    finally:
        code = await _stop(proc)
    assert code == 0, proc.stderr.read().decode() if proc.stderr else ""


async def test_stops_at_once_while_telegram_keeps_failing(
        tg: FakeTelegram, tmp_path: Path) -> None:
    """Telegram down (502 on every poll): the bot waits longer between tries, yet SIGTERM
    stops it at once, not after the pause (PTB's own pause could not be cut short)."""
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=_env(tg, tmp_path),
                            cwd=ROOT, stderr=subprocess.PIPE)
    try:
        await tg.wait_for_call("getUpdates", timeout=30)
        tg.fail_next("getUpdates", 502, count=1000)
        tg.add_user(7, "居民")
        tg.user_sends(7, 7, "/help")  # ends the long poll under way: the next ones fail
        for _ in range(300):  # 4 failed polls: the pause is now over 3 s
            if len([c for c in tg.calls if c.method == "getUpdates" and c.error]) >= 4:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the bot stopped polling")
    finally:
        began = asyncio.get_running_loop().time()
        code = await _stop(proc)
        took = asyncio.get_running_loop().time() - began
    assert code == 0, proc.stderr.read().decode() if proc.stderr else ""
    assert took < 2.0, f"SIGTERM took {took:.1f} s"


async def test_a_proxy_from_the_environment_is_used(tg: FakeTelegram, tmp_path: Path) -> None:
    """Where api.telegram.org is blocked, deployments reach it through HTTPS_PROXY (or
    HTTP_PROXY for an http:// API server, as here): every request goes through it."""
    seen: list[str] = []

    async def forward(request: web.BaseRequest) -> web.StreamResponse:
        seen.append(str(request.url))  # a proxy is asked for the absolute URL
        async with ClientSession() as session, session.request(
                request.method, str(request.url), data=await request.read(),
                headers={"Content-Type": request.headers.get("Content-Type", "")}) as answer:
            return web.Response(status=answer.status, body=await answer.read(),
                                content_type=answer.content_type)

    runner = web.ServerRunner(web.Server(forward))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    proxied = {"HTTP_PROXY": f"http://127.0.0.1:{port}", "NO_PROXY": "", "no_proxy": ""}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run"],
                            env={**_env(tg, tmp_path), **proxied}, cwd=ROOT,
                            stderr=subprocess.PIPE)
    try:
        tg.add_user(7, "居民")
        tg.user_sends(7, 7, "/help")
        await tg.wait_for(lambda m: m["chat"]["id"] == 7 and "使用说明" in m["text"], timeout=30)
        assert any(url.endswith("/getUpdates") for url in seen)
        assert any(url.endswith("/sendMessage") for url in seen)
    finally:
        code = await _stop(proc)
        await runner.cleanup()
    assert code == 0, proc.stderr.read().decode() if proc.stderr else ""


async def test_webhook_mode(tg: FakeTelegram, tmp_path: Path) -> None:
    port = _free_port()
    env = _env(tg, tmp_path, LINLI_WEBHOOK_URL="https://bot.example.org/linli-hook",
               LINLI_WEBHOOK_LISTEN="127.0.0.1", LINLI_WEBHOOK_PORT=str(port),
               LINLI_WEBHOOK_SECRET="s3cret-token")
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env, cwd=ROOT,
                            stderr=subprocess.PIPE)
    try:
        call = await tg.wait_for_call("setWebhook", timeout=30)
        assert call.params["url"] == "https://bot.example.org/linli-hook"
        assert call.params["secret_token"] == "s3cret-token"
        assert "chat_member" in call.params["allowed_updates"]
        tg.add_user(8, "Alice", language_code="en")
        update = tg.user_sends(8, 8, "/help")

        def post(secret: str) -> int:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/linli-hook", data=json.dumps(update).encode(),
                headers={"Content-Type": "application/json",
                         "X-Telegram-Bot-Api-Secret-Token": secret})
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    return answer.status
            except urllib.error.HTTPError as refused:
                return refused.code

        for _ in range(100):  # the webhook server may need a moment after setWebhook
            try:
                status = await asyncio.to_thread(post, "wrong")
                break
            except OSError:
                await asyncio.sleep(0.1)
        assert status == 403  # a forged delivery without the secret is refused
        assert await asyncio.to_thread(post, "s3cret-token") == 200
        await tg.wait_for(lambda m: m["chat"]["id"] == 8 and "Help" in m["text"], timeout=10)
    finally:
        code = await _stop(proc)
    assert code == 0, proc.stderr.read().decode() if proc.stderr else ""
