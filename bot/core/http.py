"""Talking HTTP to the Bot API through aiohttp instead of PTB's default httpx.

Every update costs Linli one or more Bot API requests (answering a button, the notices
it sends, long polling). Measured on our 2-core machine, an httpx request costs about
0.75 ms of CPU on the client side and an aiohttp request about 0.07 ms: with httpx the
bot spent more time making requests than handling updates. PTB lets a bot bring its own
networking by implementing ``BaseRequest``; this is that, for aiohttp.

Errors map as PTB's own HTTPXRequest maps them: a timeout is ``TimedOut``, any other
failure to get an answer is ``NetworkError``; the HTTP status and body go back to PTB,
which turns Telegram's error answers into its exceptions. A timeout while waiting for
the answer, after the request went out whole, is kept recognisable (``answer_lost``):
the notifier does not repeat a new message that Telegram has most likely shown.
"""

from __future__ import annotations

import urllib.request
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

# the defaults of PTB's HTTPXRequest, in seconds
READ_TIMEOUT = 5.0
CONNECT_TIMEOUT = 5.0
POOL_TIMEOUT = 1.0


class AiohttpRequest(BaseRequest):
    __slots__ = ("_pool_size", "_proxies", "_session", "_timeouts")

    def __init__(self, connection_pool_size: int = 1, *, read_timeout: float | None = READ_TIMEOUT,
                 connect_timeout: float | None = CONNECT_TIMEOUT,
                 pool_timeout: float | None = POOL_TIMEOUT) -> None:
        self._pool_size = connection_pool_size
        self._timeouts = {"read": read_timeout, "connect": connect_timeout,
                          "pool": pool_timeout}
        self._session: aiohttp.ClientSession | None = None  # made in the running loop
        self._proxies: dict[tuple[str, str], str | None] = {}  # (scheme, host): proxy

    @property
    def read_timeout(self) -> float | None:
        return self._timeouts["read"]

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                # no cookies (the Bot API sets none) and no total cap: the timeouts below
                cookie_jar=aiohttp.DummyCookieJar(), timeout=aiohttp.ClientTimeout(total=None),
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        read = self._given(read_timeout, "read")
        connect = self._given(connect_timeout, "connect")
        pool = self._given(pool_timeout, "pool")
        # aiohttp has no write timeout; a write that stalls ends at the read timeout
        timeout = aiohttp.ClientTimeout(
            total=None, sock_read=read, sock_connect=connect,
            connect=None if pool is None or connect is None else pool + connect,
        )
        try:
            async with self._session.request(
                method, url, data=_body(request_data), timeout=timeout,
                headers={"User-Agent": self.USER_AGENT}, proxy=self._proxy_for(url),
            ) as response:
                return response.status, await response.read()
        except TimeoutError as err:  # aiohttp's timeouts are TimeoutErrors too: first
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{err.__class__.__name__}: {err}") from err

    def _proxy_for(self, url: str) -> str | None:
        """HTTP(S)_PROXY and NO_PROXY from the environment, as httpx honours them by default:
        where api.telegram.org is reached through a proxy, the bot keeps working. Looked up
        once per host; aiohttp's own ``trust_env`` looks them (and ~/.netrc) up on every
        request, which cost 0.6 ms each here."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "")
        if key not in self._proxies:
            bypass = not key[1] or urllib.request.proxy_bypass(key[1])
            self._proxies[key] = None if bypass else urllib.request.getproxies().get(key[0])
        return self._proxies[key]

    def _given(self, value: ODVInput[float], kind: str) -> float | None:
        return self._timeouts[kind] if isinstance(value, DefaultValue) else value


def answer_lost(exc: TimedOut) -> bool:
    """The request went out whole and only Telegram's answer did not come in time."""
    return isinstance(exc.__cause__, aiohttp.SocketTimeoutError)


def _body(request_data: RequestData | None) -> aiohttp.FormData | None:
    """Parameters as a form (as PTB sends them); files make it multipart."""
    if request_data is None:
        return None
    form = aiohttp.FormData(request_data.json_parameters or {})
    for name, upload in (request_data.multipart_data or {}).items():
        filename, content, *rest = upload
        kwargs: dict[str, Any] = {"filename": filename}
        if rest and rest[0]:
            kwargs["content_type"] = rest[0]
        form.add_field(name, content, **kwargs)
    return form

