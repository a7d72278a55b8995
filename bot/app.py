"""Assembling the python-telegram-bot Application and running it."""

from __future__ import annotations

import logging
import sys
from typing import Any
from urllib.parse import urlparse

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, Defaults

from bot.context import LinliContext
from bot.core.clock import Clock, SystemClock
from bot.core.http import AiohttpRequest
from bot.core.inbox import ChatTurns, DurableQueue, LinliBot, RawUpdatesRequest
from bot.core.ordering import PerChatUpdateProcessor
from bot.menus import publish_commands, publish_leader_menus
from bot.services import Linli
from config.settings import Settings
from storage.inbox import InboxRepo

log = logging.getLogger(__name__)

# Listed explicitly: without it Telegram withholds chat_member updates.
ALLOWED_UPDATES = [
    Update.MESSAGE,
    Update.EDITED_MESSAGE,
    Update.CALLBACK_QUERY,
    Update.POLL,
    Update.POLL_ANSWER,
    Update.MY_CHAT_MEMBER,
    Update.CHAT_MEMBER,
]

LinliApp = Application[Any, LinliContext, Any, Any, Any, Any]


def build_application(settings: Settings, clock: Clock | None = None) -> LinliApp:
    if settings.bot_token is None:
        raise ValueError("LINLI_BOT_TOKEN is required to run the bot")
    inbox = DurableQueue()
    processor = PerChatUpdateProcessor(16)
    processor.on_finished = inbox.finished
    bot = LinliBot(
        settings.bot_token.get_secret_value(),
        base_url=settings.api_base_url,
        base_file_url=settings.api_base_file_url,
        defaults=Defaults(parse_mode=ParseMode.HTML, tzinfo=settings.tz),
        # max_retries is 0 unless set: let the limiter sit out short flood waits itself
        # evenly spaced sends (no bursts): a bucket of 30 lets 60 through in a second after
        # a pause, which Telegram answers with 429 and a stop of the whole bot
        rate_limiter=AIORateLimiter(overall_max_rate=1, overall_time_period=1 / 29.5,
                                    max_retries=3),
        # aiohttp, not httpx: a tenth of the CPU per request (see bot/core/http.py); the pool
        # sizes are those ApplicationBuilder would choose
        request=AiohttpRequest(connection_pool_size=256),
        get_updates_request=RawUpdatesRequest(connection_pool_size=1),
        inbox=inbox,
    )
    app = (
        ApplicationBuilder()
        .bot(bot)
        .context_types(ContextTypes(context=LinliContext))
        .update_queue(inbox)
        .concurrent_updates(processor)
        .post_init(_post_init)
        .post_stop(_post_stop)
        .post_shutdown(_post_shutdown)
        .build()
    )
    app.bot_data["settings"] = settings
    app.bot_data["clock"] = clock or SystemClock()
    app.bot_data["inbox"] = inbox
    from handlers import register_all  # handlers depend on bot, never the other way round

    register_all(app)
    return app


async def _post_init(app: LinliApp) -> None:
    settings: Settings = app.bot_data["settings"]
    linli = await Linli.open(settings, app.bot_data["clock"])
    linli.bot_username = app.bot.username
    app.bot_data["linli"] = linli
    inbox_repo = InboxRepo(linli.db)
    await app.bot_data["inbox"].open(inbox_repo, linli.clock, app.bot)
    if linli.db.dialect == "postgresql":  # other instances may share the database
        app.update_processor.turns = ChatTurns(  # type: ignore[attr-defined]
            linli.db, inbox_repo, linli.clock)
    await linli.notifier.start(app.bot)
    await linli.digest.ensure_armed()
    await linli.holidays.ensure_armed()
    await linli.monthly.ensure_armed()
    await linli.calendar_watch.ensure_armed()
    await linli.privacy.ensure_armed()
    await linli.scheduler.start(app.job_queue)  # acts on deadlines missed while down
    if settings.web.enabled:
        from web.server import Dashboard  # the web part is optional: loaded only when on

        desk = Dashboard(linli, app.bot)
        app.bot_data["dashboard"] = desk
        log.info("dashboard at %s", await desk.start())
    try:
        await publish_commands(app.bot, settings.language)
        await publish_leader_menus(app.bot, linli)
    except Exception:  # menus are a convenience: never refuse to start over them
        log.exception("could not publish the command menus")
    log.info("Linli started as @%s", linli.bot_username)


async def _post_stop(app: LinliApp) -> None:
    """Updates and jobs are done with (a deadline may just have fired and queued its
    messages): the sending stops now, while the bot's HTTP client is still open. What is
    queued waits in the outbox for the next start; left to run until ``_post_shutdown``,
    the notifier tried it through the client ``Application.shutdown`` had closed, and each
    send failed, cost an attempt and came back with a backoff."""
    desk = app.bot_data.pop("dashboard", None)
    if desk is not None:  # first: its pages queue messages too
        await desk.stop()
    linli: Linli | None = app.bot_data.get("linli")
    if linli is not None:
        await linli.notifier.stop()


async def _post_shutdown(app: LinliApp) -> None:
    desk = app.bot_data.pop("dashboard", None)
    if desk is not None:
        await desk.stop()
    linli: Linli | None = app.bot_data.pop("linli", None)
    await app.bot_data["inbox"].close()
    if linli is not None:
        await linli.close()


def run(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM: long polling, or a webhook when LINLI_WEBHOOK_URL is set."""
    # aiosqlite runs each statement on its own thread, which must win the GIL back from a
    # busy event loop; Python's default 5 ms switch interval leaves it waiting
    sys.setswitchinterval(0.0005)
    app = build_application(settings)
    if settings.webhook_url:
        path = urlparse(settings.webhook_url).path.lstrip("/")
        app.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path=path,
            webhook_url=settings.webhook_url,
            secret_token=(
                settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
            ),
            allowed_updates=ALLOWED_UPDATES,
        )
    else:
        app.run_polling(allowed_updates=ALLOWED_UPDATES, timeout=30)


async def start_polling(app: LinliApp, poll_timeout: int = 1) -> None:
    """What run_polling does, for callers that own the event loop (tests, benchmarks)."""
    await app.initialize()
    if app.post_init:
        await app.post_init(app)
    await app.updater.start_polling(  # type: ignore[union-attr]
        allowed_updates=ALLOWED_UPDATES, timeout=poll_timeout, poll_interval=0.0
    )
    await app.start()


async def stop_polling(app: LinliApp) -> None:
    if app.updater and app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()
    if app.post_stop:
        await app.post_stop(app)
    await app.shutdown()
    if app.post_shutdown:
        await app.post_shutdown(app)
