"""The dashboard's HTTP server: aiohttp in the bot's own event loop, sign-in, sessions,
CSRF and security headers around the pages of web/pages.py."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup as Safe

from bot.core.i18n import CATALOG, LANGUAGES, t
from bot.services import Linli
from storage.web import WebRepo
from web.auth import (
    LINK_LIFETIME,
    AuthError,
    Session,
    SessionSigner,
    check_init_data,
    new_login_token,
    token_hash,
)

log = logging.getLogger(__name__)

COOKIE = "linli_session"
DASHBOARD: web.AppKey[Dashboard] = web.AppKey("dashboard")
SESSION, LANG = web.RequestKey("session", Session), web.RequestKey("lang", str)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC = ("/login/", "/app", "/auth/webapp", "/static/", "/healthz", "/metrics")

HEADERS = {
    # no script from anywhere but here; framed only by Telegram's web client (the Mini App)
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data:; media-src 'self';"
                                " style-src 'self'; script-src 'self';"
                                " frame-ancestors 'self' https://web.telegram.org"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" makes Chromium send Origin: null
    "Cache-Control": "no-store",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


class Dashboard:
    """Started with the bot when ``[web]`` has a port; one per process."""

    def __init__(self, linli: Linli, bot: Any) -> None:
        self.linli, self.bot = linli, bot
        token = linli.settings.bot_token
        assert token is not None
        self.bot_token = token.get_secret_value()
        self.signer = SessionSigner(self.bot_token)
        self.templates = Environment(loader=PackageLoader("web", "templates"),
                                     autoescape=select_autoescape(["html"]))
        self.repo = WebRepo(linli.db)
        self.runner: web.AppRunner | None = None
        self.url = ""

    # -- running ----------------------------------------------------------------------

    async def start(self) -> str:
        from web import ops, pages

        app = web.Application(middlewares=[self._headers, self._session])
        app[DASHBOARD] = self
        app.router.add_get("/login/{token}", self.login_link)
        app.router.add_get("/app", self.mini_app)
        app.router.add_post("/auth/webapp", self.login_mini_app)
        app.router.add_get("/logout", self.logout)
        app.router.add_static("/static/", pages.STATIC)
        pages.routes(app)
        ops.routes(app, self.linli)
        self.runner = web.AppRunner(app, access_log=None)  # URLs carry no PII, but keep quiet
        await self.runner.setup()
        settings = self.linli.settings.web
        site = web.TCPSite(self.runner, settings.listen, settings.port or 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = (settings.public_url or f"http://{settings.listen}:{port}").rstrip("/")
        return self.url

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    # -- sign-in ------------------------------------------------------------------------

    async def login_link_for(self, user_id: int) -> str:
        """A link that signs this user in once, within ten minutes."""
        token, digest = new_login_token()
        now = self.linli.clock.now()
        async with self.linli.db.write() as tx:
            await self.repo.add_login(tx, digest, user_id, now, now + LINK_LIFETIME)
        return f"{self.url}/login/{token}"

    async def login_link(self, request: web.Request) -> web.StreamResponse:
        now = self.linli.clock.now()
        async with self.linli.db.write(marks_update=False) as tx:
            user_id = await self.repo.use_login(tx, token_hash(request.match_info["token"]),
                                                     now)
        if user_id is None:
            return await self.refused(request, "used_link", status=403)
        response = web.HTTPSeeOther("/")
        self._set_session(request, response, user_id)
        raise response

    async def mini_app(self, request: web.Request) -> web.StreamResponse:
        return self.render(request, "mini_app.html", lang=self.linli.settings.language)

    async def login_mini_app(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        now = self.linli.clock.now()
        try:
            user_id, digest = check_init_data(str(form.get("init_data", "")), self.bot_token, now)
        except AuthError as refused:
            return web.json_response({"ok": False, "reason": refused.reason}, status=403)
        async with self.linli.db.write(marks_update=False) as tx:
            first = await self.repo.first_use_of_init_data(tx, digest, now)
        if not first:
            return web.json_response({"ok": False, "reason": "replayed"}, status=403)
        response = web.json_response({"ok": True})
        self._set_session(request, response, user_id)
        return response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        response = web.HTTPSeeOther("/signed-out")
        response.del_cookie(COOKIE, path="/")
        raise response

    def _set_session(self, request: web.Request, response: web.StreamResponse,
                     user_id: int) -> None:
        cookie, _ = self.signer.issue(user_id, self.linli.clock.now())
        secure = (self.linli.settings.web.public_url or "").startswith("https://")
        # SameSite=None only where it must be (inside Telegram's frame, over HTTPS)
        response.set_cookie(COOKIE, cookie, httponly=True, secure=secure, path="/",
                            samesite="None" if secure else "Lax", max_age=12 * 3600)

    # -- middleware -----------------------------------------------------------------------

    @web.middleware
    async def _headers(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            for name, value in HEADERS.items():
                exc.headers.setdefault(name, value)
            raise
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @web.middleware
    async def _session(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(PUBLIC) or request.path == "/signed-out":
            if request.path == "/signed-out":
                return await self.refused(request, "signed_out", status=200)
            return await handler(request)
        session = self.signer.read(request.cookies.get(COOKIE), self.linli.clock.now())
        if session is None:
            return await self.refused(request, "sign_in", status=401)
        request[SESSION] = session
        request[LANG] = await self._language(request, session)
        if request.method == "POST":
            form = await request.post()
            same_origin = request.headers.get("Origin") in (None, self._origin(request))
            if form.get("csrf") != session.csrf or not same_origin:
                return await self.refused(request, "csrf", status=403)
        try:
            return await handler(request)
        except web.HTTPClientError as refusal:  # a page's refusal, shown as a page
            if refusal.content_type != "text/plain" or not refusal.text:
                raise
            return self.render(request, "refused.html", status=refusal.status, reason="title",
                               message=refusal.text.removeprefix(f"{refusal.status}: "))

    def _origin(self, request: web.Request) -> str:
        public = self.linli.settings.web.public_url
        if public:
            from urllib.parse import urlsplit

            parts = urlsplit(public)
            return f"{parts.scheme}://{parts.netloc}"
        return f"{request.scheme}://{request.host}"

    async def _language(self, request: web.Request, session: Session) -> str:
        wanted = request.query.get("lang")
        if wanted in LANGUAGES:
            return wanted
        return await self.linli.language_of(session.user_id)

    # -- rendering --------------------------------------------------------------------------

    def render(self, request: web.Request, template: str, status: int = 200,
               **values: Any) -> web.Response:
        lang = values.pop("lang", None) or request.get(LANG) or self.linli.settings.language
        session: Session | None = request.get(SESSION)

        def tr(key: str, **params: Any) -> Safe:
            """web.KEY, or a key of the bot's own catalog (category., state., ...)."""
            return Safe(t(lang, f"web.{key}" if CATALOG.has(f"web.{key}") else key, **params))

        body = self.templates.get_template(template).render(
            t=tr, lang=lang, csrf=session.csrf if session else "", path=request.path,
            **values)
        return web.Response(text=body, status=status, content_type="text/html",
                            charset="utf-8")

    async def refused(self, request: web.Request, reason: str, status: int) -> web.Response:
        lang = request.get(LANG) or self.linli.settings.language
        return self.render(request, "refused.html", status=status, lang=lang, reason=reason)
