"""A round-robin reverse proxy on loopback, standing for nginx's ``upstream`` in front of
several `linli run` instances in webhook mode (tests/test_instances.py, bench/scale.py)."""

from __future__ import annotations

import socket

import aiohttp
from aiohttp import web


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RoundRobin:
    """A reverse proxy: each request to the next upstream, skipping one that is down."""

    def __init__(self, upstreams: list[str]) -> None:
        self.upstreams = upstreams
        self.turn = 0
        self.served: list[int] = [0] * len(upstreams)
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self.url = ""

    async def start(self) -> None:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        app = web.Application()
        app.router.add_post("/{path:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/linli-hook"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._http is not None:
            await self._http.close()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._http is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() in ("content-type", "x-telegram-bot-api-secret-token")}
        for _ in range(len(self.upstreams)):
            i = self.turn % len(self.upstreams)
            self.turn += 1
            try:
                async with self._http.post(f"{self.upstreams[i]}/{request.match_info['path']}",
                                           data=body, headers=headers) as answer:
                    self.served[i] += 1
                    return web.Response(status=answer.status, body=await answer.read())
            except (aiohttp.ClientError, OSError):
                continue  # that instance is down: the next one (nginx's proxy_next_upstream)
        return web.Response(status=502)
