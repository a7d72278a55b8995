"""Traditional holidays on the Chinese lunar calendar, and the event drafts leaders are
offered two weeks ahead (a daily check at 09:00 local; each offer made once)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import cache

from lunar_python import Lunar

from bot.core.clock import Clock
from bot.core.i18n import pick_language, t
from bot.core.notifier import Button, Notifier, Outgoing
from bot.core.scheduler import Scheduler
from bot.core.timing import next_local
from config.settings import Settings
from storage.db import Tx
from storage.deadlines import Deadline
from storage.events import EventRepo
from storage.org import OrgRepo
from storage.users import UserRepo

SUBJECT = "holiday"
CHECK_AT = time(9, 0)
AHEAD = timedelta(days=14)
# key → (lunar month, lunar day)
HOLIDAYS: dict[str, tuple[int, int]] = {
    "spring": (1, 1),  # 春节
    "lantern": (1, 15),  # 元宵节
    "dragon_boat": (5, 5),  # 端午节
    "mid_autumn": (8, 15),  # 中秋节
    "double_ninth": (9, 9),  # 重阳节
}


@cache  # the lunar calendar's arithmetic: 3 ms a date
def holiday_date(key: str, lunar_year: int) -> date:
    month, day = HOLIDAYS[key]
    solar = Lunar.fromYmd(lunar_year, month, day).getSolar()
    return date(solar.getYear(), solar.getMonth(), solar.getDay())


def coming(today: date, ahead: timedelta = AHEAD) -> list[tuple[str, date]]:
    """Holidays within ``ahead`` of today (today excluded), soonest first."""
    found = []
    for lunar_year in (today.year - 1, today.year, today.year + 1):
        for key in HOLIDAYS:
            day = holiday_date(key, lunar_year)
            if today < day <= today + ahead:
                found.append((key, day))
    return sorted(found, key=lambda kd: kd[1])


class HolidayOffers:
    def __init__(self, settings: Settings, clock: Clock, org: OrgRepo, repo: EventRepo,
                 users: UserRepo, notifier: Notifier, scheduler: Scheduler) -> None:
        self.settings, self.clock, self.org, self.repo = settings, clock, org, repo
        self.users, self.notifier, self.scheduler = users, notifier, scheduler
        scheduler.on(SUBJECT, self.check)

    async def ensure_armed(self) -> None:
        """The first check runs at once (a holiday may be near)."""
        await self.scheduler.keep_armed(SUBJECT, "check", self.clock.now())

    async def check(self, tx: Tx, _deadline: Deadline | None = None) -> int:
        now = self.clock.now()
        today = now.astimezone(self.settings.tz).date()
        offered = 0
        for key, day in coming(today):
            for user_id in await self._community_leaders():
                if await self.repo.offer_once(tx, key, day.year, user_id, now):
                    await self._offer(tx, user_id, key, day)
                    offered += 1
        await self.scheduler.arm(tx, SUBJECT, 0, "check", next_local(self.settings, now, CHECK_AT))
        return offered

    async def _community_leaders(self) -> list[int]:
        leaders = [ld.user_id for top in await self.org.children(None)
                   for ld in await self.org.leaders_of(top.id)]
        return sorted(set(leaders)) or list(self.settings.admin_ids)

    async def _offer(self, tx: Tx, user_id: int, key: str, day: date) -> None:
        user = await self.users.get(user_id)
        lang = pick_language(user.language if user else None,
                             user.language_code if user else None, self.settings.language)
        days = (day - self.clock.now().astimezone(self.settings.tz).date()).days
        await self.notifier.enqueue(tx, Outgoing(
            user_id, t(lang, "holiday.offer", holiday=t(lang, f"holiday.name.{key}"),
                       date=day.isoformat(), days=days,
                       title=t(lang, f"holiday.title.{key}"),
                       description=t(lang, f"holiday.description.{key}")),
            buttons=[[Button(t(lang, "holiday.btn_use"), data=f"ev:h:{key}:{day.isoformat()}")]],
            dedup_key=f"holiday:{key}:{day.year}:{user_id}"))

    def draft_times(self, day: date) -> tuple[datetime, datetime]:
        """The draft's suggested time: 09:30–11:30 local on the holiday."""
        tz = self.settings.tz
        return (datetime.combine(day, time(9, 30), tzinfo=tz),
                datetime.combine(day, time(11, 30), tzinfo=tz))
