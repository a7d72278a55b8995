"""The daily digest of reports overdue at the top of the chain, to community admins."""

from __future__ import annotations

from datetime import datetime

from bot.core.clock import Clock
from bot.core.i18n import Markup, number, pick_language, t
from bot.core.notifier import Notifier, Outgoing
from bot.core.scheduler import Scheduler
from bot.core.timing import next_local
from config.settings import Settings
from storage.db import Tx
from storage.deadlines import Deadline
from storage.org import OrgRepo
from storage.reports import ReportRepo
from storage.users import UserRepo

SUBJECT = "digest"


class OverdueDigest:
    def __init__(self, settings: Settings, clock: Clock, org: OrgRepo, reports: ReportRepo,
                 users: UserRepo, notifier: Notifier, scheduler: Scheduler) -> None:
        self.settings, self.clock, self.org, self.reports = settings, clock, org, reports
        self.users, self.notifier, self.scheduler = users, notifier, scheduler
        scheduler.on(SUBJECT, self.send)

    async def ensure_armed(self) -> None:
        await self.scheduler.keep_armed(SUBJECT, "overdue", self._next_at())

    def _next_at(self) -> datetime:
        return next_local(self.settings, self.clock.now(),
                          self.settings.reports.overdue_digest_time)

    async def _arm_next(self, tx: Tx) -> None:
        await self.scheduler.arm(tx, SUBJECT, 0, "overdue", self._next_at())

    async def send(self, tx: Tx, _deadline: Deadline) -> None:
        for top in await self.org.children(None):
            overdue = await self.reports.overdue_at([top.id])
            if not overdue:
                continue
            admins = [ld.user_id for ld in await self.org.leaders_of(top.id)]
            for user_id in admins or self.settings.admin_ids:
                user = await self.users.get(user_id)
                lang = pick_language(user.language if user else None,
                                     user.language_code if user else None, self.settings.language)
                lines = [t(lang, "digest.line", number=number(r.id),
                           category=t(lang, f"category.{r.category}"), text=r.text[:60])
                         for r in overdue]
                today = self.clock.now().astimezone(self.settings.tz).date().isoformat()
                await self.notifier.enqueue(tx, Outgoing(
                    user_id, t(lang, "digest.text", node=top.name, count=len(overdue),
                               lines=Markup("\n".join(lines))),
                    dedup_key=f"digest:{today}:{top.id}:{user_id}",
                ))
        await self._arm_next(tx)
