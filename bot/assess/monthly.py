"""Delivering the assessment: /stats answers and the monthly report on the 1st.

Each delivery is three messages through the notifier: the compact text, the chart
(a photo, labelled in the reader's language) and the CSV.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.assess.stats import (
    Assessment,
    Period,
    StatsService,
    chart_png,
    figures,
    month_period,
    period_name,
    to_csv,
)
from bot.core.clock import Clock
from bot.core.i18n import CATALOG, Markup, pick_language, t
from bot.core.notifier import Notifier, Outgoing
from bot.core.scheduler import Scheduler
from config.settings import Settings
from storage.db import Tx
from storage.deadlines import Deadline
from storage.org import OrgRepo
from storage.users import UserRepo

SUBJECT = "monthly_report"
SHOWN_LEADERS = 20  # the message lists this many; the CSV has everyone


def labels(lang: str) -> dict[str, str]:
    table = CATALOG.messages[lang]
    return {k.removeprefix("stats.label."): v for k, v in table.items()
            if k.startswith("stats.label.")}


def scope_names(a: Assessment, lang: str) -> str:
    return ("、" if lang == "zh" else ", ").join(n.name for n in a.scope)


def render_text(a: Assessment, lang: str) -> str:
    names = labels(lang)
    lines = "\n".join(t(lang, "stats.line", label=names[k], value=v) for k, v in figures(a))
    shown = [t(lang, "stats.leader_line", name=ln.name, node=ln.node.name, reached=ln.reached,
               acknowledged=ln.acknowledged, resolved=ln.resolved, missed=ln.missed)
             for ln in a.leaders[:SHOWN_LEADERS]]
    if len(a.leaders) > SHOWN_LEADERS:
        shown.append(t(lang, "stats.more", count=len(a.leaders) - SHOWN_LEADERS))
    return t(lang, "stats.text", scope=scope_names(a, lang), period=period_name(a.period, lang),
             lines=Markup(lines),
             leaders=Markup("\n".join(shown) or t(lang, "stats.no_leaders")))


def deliveries(a: Assessment, chat_id: int, lang: str, text: str,
               dedup: str | None = None) -> list[Outgoing]:
    scope = a.scope[0].key if len(a.scope) == 1 else "scope"
    scope_name = scope_names(a, lang)
    period = period_name(a.period, lang)
    png = chart_png(a, labels(lang), t(lang, "stats.chart_title", scope=scope_name, period=period))
    csv_bytes = to_csv(a, labels(lang))
    name = f"stats-{scope}-{a.period.label}"
    return [
        Outgoing(chat_id, text, dedup_key=dedup and f"{dedup}:text"),
        Outgoing(chat_id, t(lang, "stats.chart_caption", scope=scope_name, period=period),
                 method="send_photo", document=png, filename=f"{name}.png",
                 dedup_key=dedup and f"{dedup}:chart"),
        Outgoing(chat_id, t(lang, "stats.csv_caption", scope=scope_name, period=period),
                 method="send_document", document=csv_bytes, filename=f"{name}.csv",
                 dedup_key=dedup and f"{dedup}:csv"),
    ]


def previous_month(settings: Settings, now: datetime) -> Period:
    local = now.astimezone(settings.tz)
    first = local.replace(day=1) - timedelta(days=1)
    return month_period(settings, first.year, first.month)


def next_first_of_month(settings: Settings, now: datetime) -> datetime:
    local = now.astimezone(settings.tz)
    at = settings.services.monthly_report_time
    this = local.replace(day=1, hour=at.hour, minute=at.minute, second=0, microsecond=0)
    if this > local:
        return this.astimezone(now.tzinfo)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return this.replace(year=year, month=month).astimezone(now.tzinfo)


class MonthlyReport:
    def __init__(self, settings: Settings, clock: Clock, org: OrgRepo, users: UserRepo,
                 stats: StatsService, notifier: Notifier, scheduler: Scheduler) -> None:
        self.settings, self.clock, self.org, self.users = settings, clock, org, users
        self.stats, self.notifier, self.scheduler = stats, notifier, scheduler
        scheduler.on(SUBJECT, self.send)

    async def ensure_armed(self) -> None:
        await self.scheduler.keep_armed(SUBJECT, "monthly",
                                        next_first_of_month(self.settings, self.clock.now()))

    async def _lang(self, user_id: int) -> str:
        user = await self.users.get(user_id)
        return pick_language(user.language if user else None,
                             user.language_code if user else None, self.settings.language)

    async def send(self, tx: Tx, _deadline: Deadline) -> None:
        now = self.clock.now()
        period = previous_month(self.settings, now)
        for top in await self.org.children(None):
            a = await self.stats.compute([top], period, now)
            admins = [ld.user_id for ld in await self.org.leaders_of(top.id)]
            for user_id in admins or self.settings.admin_ids:
                lang = await self._lang(user_id)
                text = t(lang, "stats.monthly", period=period_name(period, lang),
                         text=Markup(render_text(a, lang)))
                for msg in deliveries(a, user_id, lang, text,
                                      dedup=f"monthly:{period.label}:{top.id}:{user_id}"):
                    await self.notifier.enqueue(tx, msg)
            for line in a.leaders:
                if line.node.id == top.id:
                    continue  # the community's own leaders have the whole report
                lang = await self._lang(line.user_id)
                await self.notifier.enqueue(tx, Outgoing(
                    line.user_id, t(lang, "stats.my_line", period=period_name(period, lang),
                                    node=line.node.name, reached=line.reached,
                                    acknowledged=line.acknowledged, resolved=line.resolved,
                                    missed=line.missed),
                    dedup_key=f"monthly:{period.label}:line:{line.node.id}:{line.user_id}"))
        await self.scheduler.arm(tx, SUBJECT, 0, "monthly", next_first_of_month(self.settings,
                                                                                  now))
