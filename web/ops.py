"""/healthz and /metrics for the people who run Linli (no personal data in either)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.core import metrics
from bot.services import Linli
from storage.db import database_errors

SILENT_AFTER = 120.0  # seconds without a word from Telegram: polling or the webhook is stuck


async def _figures(linli: Linli) -> dict[str, object]:
    now = linli.clock.now()
    depth = await linli.outbox.depth()
    oldest = await linli.scheduler.deadlines.next_due_at()
    overdue = max((now - oldest).total_seconds(), 0.0) if oldest else 0.0
    metrics.OUTBOX_DEPTH.set(depth)
    metrics.OLDEST_OVERDUE.set(overdue)
    silent = metrics.seconds_since_telegram()
    return {"outbox_depth": depth, "oldest_deadline_overdue_s": round(overdue, 1),
            "seconds_since_telegram": None if silent is None else round(silent, 1)}


def routes(app: web.Application, linli: Linli) -> None:
    async def healthz(_request: web.Request) -> web.Response:
        try:
            await linli.db.fetchval("SELECT 1")
            figures = await _figures(linli)
        except database_errors() as exc:
            return web.json_response({"ok": False, "database": f"unreachable: {exc}"},
                                     status=503)
        silent = figures["seconds_since_telegram"]
        ok = silent is not None and float(silent) < SILENT_AFTER  # type: ignore[arg-type]
        return web.json_response({"ok": ok, "database": "ok", **figures},
                                 status=200 if ok else 503)

    async def scrape(_request: web.Request) -> web.Response:
        await _figures(linli)
        return web.Response(body=generate_latest(metrics.REGISTRY),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", scrape)
