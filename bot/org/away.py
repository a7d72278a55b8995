"""A leader away is covered (issue 14, item 5), after Zammad's out-of-office replacement.

Between two days a leader's new prompts go to a stand-in: a leader at the same node or
above, or any leader of the community that the community's secretary names. The one
place this takes effect is where a report's handlers are addressed (``cover``); a
stand-in's actions are logged on behalf of the absent leader (``acting_for``), so they
count as theirs. When the period ends, a deadline ("away"/"back", armed here) tells the
absent leader what happened; the reports pillar says what that summary holds.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from bot.core.clock import Clock
from bot.core.errors import BadInput, NotAllowed, NotFound
from bot.core.scheduler import Scheduler
from bot.core.timeparse import parse_day_end
from config.settings import Settings
from storage.away import Away, AwayRepo
from storage.db import Database, Tx
from storage.org import Leader, Node, OrgRepo
from storage.users import UserRepo

SUBJECT = "away"
LONGEST = timedelta(days=92)
_BETWEEN = re.compile(r"\s*(?:至|到|~|～|—|–)\s*|\s+")


def day_name(day: date, lang: str) -> str:
    """「12月5日（周六）」 / "Sat 5 Dec"."""
    if lang == "zh":
        return f"{day.month}月{day.day}日（周{'一二三四五六日'[day.weekday()]}）"
    return f"{day:%a} {day.day} {day:%b}"


class AwayService:
    def __init__(self, settings: Settings, db: Database, clock: Clock, org: OrgRepo,
                 users: UserRepo, repo: AwayRepo, scheduler: Scheduler) -> None:
        self.settings, self.db, self.clock, self.org = settings, db, clock, org
        self.users, self.repo, self.scheduler = users, repo, scheduler

    # -- where prompts go ---------------------------------------------------------------

    async def read_ahead(self, tx: Tx) -> None:
        """For a batch of deadlines: who is away, read once for the transaction."""
        await self.repo.read_ahead(tx, self.clock.now())

    async def cover(self, user_ids: list[int], tx: Tx | None = None) -> list[int]:
        """These people, each one away now replaced by their stand-in (once each)."""
        away = await self.repo.active(user_ids, self.clock.now(), tx)
        covered: list[int] = []
        for user_id in user_ids:
            stand_in = away[user_id].stand_in_id if user_id in away else None
            # rights end with the role: a stand-in no longer a leader covers nobody
            target = stand_in if stand_in and await self.org.led_nodes(stand_in) else user_id
            if target not in covered:
                covered.append(target)
        return covered

    async def acting_for(self, user_id: int, assigned: list[int]) -> int | None:
        """The absent leader among ``assigned`` this user stands in for now; None when they
        act in their own name."""
        if user_id in assigned:
            return None
        if not await self.org.led_nodes(user_id):
            return None  # no longer a leader: stands in for nobody
        away = await self.repo.active(assigned, self.clock.now())
        return next((a.user_id for a in away.values() if a.stand_in_id == user_id), None)

    # -- setting and ending -------------------------------------------------------------

    def read_days(self, text: str) -> tuple[date, date]:
        """「12-05 12-10」, 「明天 下周五」, 「12月5日至12月10日」; one day alone: from today."""
        now, tz = self.clock.now(), self.settings.tz
        parts = [p for p in _BETWEEN.split(text.strip()) if p]
        if not 1 <= len(parts) <= 2:
            raise BadInput("away.days_usage")
        days = [parse_day_end(p, now, tz, past_ok=True).astimezone(tz).date() for p in parts]
        today = now.astimezone(tz).date()
        first, last = (today, days[0]) if len(days) == 1 else (days[0], days[1])
        if last < today or last < first:
            raise BadInput("away.days_order")
        if last - first > LONGEST:
            raise BadInput("away.too_long", days=LONGEST.days)
        return first, last

    async def _community_of(self, node: Node) -> Node:
        return (await self.org.ancestors(node.id))[-1]

    async def is_secretary_of(self, by: int, absent: int) -> bool:
        """``by`` leads the community (the top of the tree) that ``absent`` leads in."""
        for node in await self.org.led_nodes(absent):
            top = await self._community_of(node)
            if any(ld.user_id == by for ld in await self.org.leaders_of(top.id)):
                return True
        return False

    async def stand_in_choices(self, absent: int, by: int | None = None) -> list[Leader]:
        """Leaders who may stand in: at the same node or above; for the secretary, any
        leader of the community."""
        led = await self.org.led_nodes(absent)
        nodes: list[Node] = []
        if by is not None and by != absent and await self.is_secretary_of(by, absent):
            for top in {(await self._community_of(n)).id for n in led}:
                nodes.extend(await self.org.subtree(top))
        else:
            for node in led:
                nodes.extend(await self.org.ancestors(node.id))
        seen: set[int] = set()
        choices = []
        for node in nodes:
            for ld in await self.org.leaders_of(node.id):
                if ld.user_id != absent and ld.user_id not in seen:
                    seen.add(ld.user_id)
                    choices.append(ld)
        return choices

    async def find_leader(self, ref: str) -> int:
        """A leader by @username or the name they lead under (王邻长)."""
        ref = ref.strip()
        if ref.startswith("@"):
            found = await self.users.by_username(ref[1:])
        else:
            nodes = await self.org.all_nodes()
            found = next((ld.user_id for ld in await self.org.leaders_in([n.id for n in nodes])
                          if ld.name == ref), None)
        if found is None or not await self.org.led_nodes(found):
            raise NotFound("away.no_such_leader", who=ref)
        return found

    async def may_set(self, by: int, absent: int) -> None:
        if not await self.org.led_nodes(absent):
            raise NotAllowed("away.leaders_only")
        if by != absent and not self.settings.is_bootstrap_admin(by) \
                and not await self.is_secretary_of(by, absent):
            raise NotAllowed("away.not_yours")

    async def set(self, by: int, absent: int, first: date, last: date, stand_in: int) -> Away:
        await self.may_set(by, absent)
        if stand_in not in {ld.user_id for ld in await self.stand_in_choices(absent, by)}:
            raise BadInput("away.bad_stand_in")
        tz, now = self.settings.tz, self.clock.now()
        starts = max(datetime.combine(first, time(), tzinfo=tz), now)
        ends = datetime.combine(last + timedelta(days=1), time(), tzinfo=tz)
        away = Away(absent, stand_in, starts, ends, by)
        async with self.db.write() as tx:
            await self.repo.set(tx, away, now)
            await self.scheduler.deadlines.cancel(tx, SUBJECT, absent, "back")
            await self.scheduler.arm(tx, SUBJECT, absent, "back", ends)
        return away

    async def current(self, user_id: int) -> Away | None:
        """The setting not yet over (running, or still to come)."""
        away = await self.repo.of(user_id)
        return away if away is not None and away.ends_at > self.clock.now() else None

    async def end(self, by: int, absent: int) -> Away:
        """Back early: prompts go to them again, and the summary comes at once."""
        await self.may_set(by, absent)
        away = await self.current(absent)
        if away is None:
            raise BadInput("away.not_away")
        now = self.clock.now()
        async with self.db.write() as tx:
            await self.repo.end(tx, absent, now)
            await self.scheduler.deadlines.cancel(tx, SUBJECT, absent, "back")
            await self.scheduler.arm(tx, SUBJECT, absent, "back", now)
        return away
