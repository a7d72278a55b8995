"""When a leader's time away ends, they are told what their stand-in did for them."""

from __future__ import annotations

from datetime import timedelta

from bot.core.i18n import Markup, number, t
from bot.core.notifier import Notifier, Outgoing
from bot.core.scheduler import Scheduler
from bot.org.away import SUBJECT, day_name
from bot.reports.notices import ReportNotices
from config.settings import Settings
from storage.away import AwayRepo
from storage.db import Tx
from storage.deadlines import Deadline
from storage.reports import ReportRepo


class BackSummary:
    def __init__(self, settings: Settings, away: AwayRepo, reports: ReportRepo,
                 notices: ReportNotices, notifier: Notifier, scheduler: Scheduler) -> None:
        self.settings, self.away, self.reports = settings, away, reports
        self.notices, self.notifier = notices, notifier
        scheduler.on(SUBJECT, self.send)

    async def send(self, tx: Tx, deadline: Deadline) -> None:
        away = await self.away.of(deadline.subject_id, tx)
        if away is None or away.ends_at <= away.starts_at:
            return  # ended before it began: nothing happened
        leader = away.user_id
        lang = await self.notices.lang_of(leader)
        acted: dict[tuple[int, int], list[str]] = {}  # (report, stand-in) → actions
        for done in await self.away.acted_for(leader, away.starts_at, away.ends_at, tx):
            acted.setdefault((done.report_id, done.actor_id), []).append(
                t(lang, f"action.{done.action}"))
        tz = self.settings.tz
        first = away.starts_at.astimezone(tz).date()
        last = (away.ends_at - timedelta(seconds=1)).astimezone(tz).date()
        period = t(lang, "away.period", first=day_name(first, lang), last=day_name(last, lang))
        lines = [t(lang, "away.summary_line", number=number(report_id),
                   name=await self.notices.person(actor), actions="、".join(actions))
                 for (report_id, actor), actions in acted.items()]
        waiting = len(await self.reports.waiting_for(leader))
        key = "away.summary" if lines else "away.summary_quiet"
        await self.notifier.enqueue(tx, Outgoing(
            leader, t(lang, key, period=period, lines=Markup("\n".join(lines)), waiting=waiting),
            dedup_key=f"away:{leader}:{deadline.id}:back"))
