"""Broadcasts (群发): a leader's text, optionally with a photo, to every bound chat in
their subtree — now, at a time, or recurring — with a delivery report to the sender.

A scheduled broadcast is a deadline of the one scheduler, so it survives restarts
and fires once; every copy is queued in the notifier's outbox in the firing
transaction, and the notifier tells us how each one ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from bot.core.clock import Clock
from bot.core.errors import BadInput, NotAllowed, NotFound
from bot.core.i18n import Markup, esc, number, pick_language, t
from bot.core.notifier import Button, Delivery, Notifier, Outgoing
from bot.core.recurrence import Rule, next_after
from bot.core.scheduler import Scheduler
from bot.core.timeparse import describe, leading_schedule
from bot.core.timing import quiet_hours_end
from bot.org.audience import bound_chats, scope_of
from bot.org.org import OrgService
from config.settings import Settings
from storage.broadcasts import Broadcast, BroadcastRepo
from storage.db import Database, Tx
from storage.deadlines import Deadline
from storage.outbox import OutboxRow
from storage.users import UserRepo

SUBJECT = "broadcast"
REF = "bc:"  # outbox ref of every copy: bc:<run>:<chat>
TEXT_MAX = 4000
CAPTION_MAX = 1024
REPORT_LISTED = 30  # up to this many chats, the report names each delivered chat too


@dataclass(frozen=True, slots=True)
class Plan:
    """What /broadcast was asked to do."""

    key: str | None
    rule: Rule | None  # None: now
    first_at: datetime | None  # a one-off at a time
    text: str


@dataclass(frozen=True, slots=True)
class Created:
    broadcast: Broadcast
    chats: int
    now: bool


class BroadcastService:
    def __init__(self, settings: Settings, db: Database, clock: Clock, org: OrgService,
                 repo: BroadcastRepo, users: UserRepo, notifier: Notifier,
                 scheduler: Scheduler) -> None:
        self.settings, self.db, self.clock, self.org = settings, db, clock, org
        self.repo, self.users, self.notifier, self.scheduler = repo, users, notifier, scheduler
        scheduler.on(SUBJECT, self._fire)
        notifier.on_finished(REF, self._delivered)

    # -- asking ---------------------------------------------------------------------

    def parse(self, text: str) -> Plan:
        """[@node] WHEN TEXT, WHEN read by the one time grammar: 现在, 明天上午9点, 每周三18:30,
        每月1号9点, 2026-12-01 09:00, daily 09:00, weekly mon,thu 09:00, monthly 1 09:00..."""
        words = text.split(maxsplit=1)
        key = None
        if words and words[0].startswith("@"):
            key, text = words[0][1:], words[1] if len(words) > 1 else ""
        read = leading_schedule(text, self.clock.now(), self.settings.tz, day_alone=False)
        if read is None:
            raise BadInput("broadcast.usage")
        schedule, rest = read
        if schedule.first is None:  # now
            return Plan(key, None, None, rest)
        if schedule.rule is None:
            at = schedule.first.astimezone(self.settings.tz).time().replace(second=0)
            return Plan(key, Rule("once", at), schedule.first, rest)
        return Plan(key, schedule.rule, None, rest)

    @staticmethod
    def _rest(text: str, skip: int) -> str:
        parts = text.split(maxsplit=skip)
        return parts[skip].strip() if len(parts) > skip else ""

    def check_text(self, text: str, photo: bool) -> str:
        limit = CAPTION_MAX if photo else TEXT_MAX
        if not text and not photo:
            raise BadInput("broadcast.empty")
        if len(text) > limit:
            raise BadInput("broadcast.too_long", max=limit, length=len(text))
        return text

    # -- creating -------------------------------------------------------------------

    async def create(self, sender_id: int, request: str, photo: str | None, *, lang: str,
                     reply_to: int, thread_id: int | None = None) -> Created:
        """Record it, confirm to the sender first, then queue the copies (now) or arm it."""
        return await self.create_plan(sender_id, self.parse(request), photo, lang=lang,
                                      reply_to=reply_to, thread_id=thread_id)

    async def create_plan(self, sender_id: int, plan: Plan, photo: str | None, *, lang: str,
                          reply_to: int, thread_id: int | None = None) -> Created:
        """What the one line asked for, or the form put together."""
        text = self.check_text(plan.text, photo is not None)
        node = await scope_of(self.org, sender_id, plan.key)
        chats = await bound_chats(self.org.org, node.id)
        if not chats:
            raise BadInput("broadcast.no_chats", node=node.name)
        now = self.clock.now()
        rule = plan.rule
        if rule is None:
            first = now
        elif rule.repeat == "once":
            assert plan.first_at is not None
            first = plan.first_at
        else:
            found = next_after(rule, now, self.settings.tz)
            if found is None:
                raise BadInput("broadcast.usage")
            first = found
        async with self.db.write() as tx:
            broadcast_id = await self.repo.create(
                tx, sender_id=sender_id, node_id=node.id, text=text, photo_file_id=photo,
                repeat=rule.repeat if rule else "once",
                at_time=rule.at.strftime("%H:%M") if rule else None,
                weekdays=rule.weekdays if rule else (), month_day=rule.month_day if rule else None,
                next_at=first, now=now)
            created = await self.repo.get(broadcast_id, tx)
            assert created is not None
            await self.notifier.enqueue(tx, self._confirmation(
                created, node.name, len(chats), lang, reply_to, thread_id))
            if rule is None:
                broadcast = await self.repo.get(broadcast_id, tx)
                assert broadcast is not None
                await self._run(tx, broadcast)
                await self.repo.set_next(tx, broadcast_id, None, now)
            else:
                await self.scheduler.arm(tx, SUBJECT, broadcast_id, "send", first)
        self.notifier.kick()
        return Created(created, len(chats), rule is None)

    def _confirmation(self, b: Broadcast, node: str, chats: int, lang: str, chat_id: int,
                      thread_id: int | None) -> Outgoing:
        if b.repeat == "once" and b.next_at is not None and b.next_at <= self.clock.now():
            return Outgoing(chat_id, t(lang, "broadcast.sending", number=number(b.id),
                                       chats=chats, node=node), thread_id=thread_id)
        return Outgoing(
            chat_id, t(lang, "broadcast.scheduled", number=number(b.id), chats=chats, node=node,
                       when=self.describe_schedule(b, lang)),
            buttons=[[Button(t(lang, "broadcast.btn_cancel"), data=f"bc:x:{b.id}")]],
            thread_id=thread_id)

    # -- firing ---------------------------------------------------------------------

    async def _fire(self, tx: Tx, deadline: Deadline) -> None:
        broadcast = await self.repo.get(deadline.subject_id, tx)
        if broadcast is None or broadcast.state != "scheduled":
            return
        await self._run(tx, broadcast)
        now = self.clock.now()
        following = None
        if broadcast.repeat != "once" and broadcast.at_time:
            rule = Rule(broadcast.repeat, time.fromisoformat(broadcast.at_time),
                        broadcast.weekdays, broadcast.month_day)
            # after a long stop, one catch-up run, then the next regular time
            following = next_after(rule, max(now, deadline.due_at), self.settings.tz)
        await self.repo.set_next(tx, broadcast.id, following, now)
        if following is not None:
            await self.scheduler.arm(tx, SUBJECT, broadcast.id, "send", following)

    async def _run(self, tx: Tx, broadcast: Broadcast) -> None:
        now = self.clock.now()
        bound = await bound_chats(self.org.org, broadcast.node_id, inactive=True)
        chats = [c.chat_id for c in bound if c.active]
        gone = [c.chat_id for c in bound if not c.active]
        run_id = await self.repo.start_run(tx, broadcast.id, chats + gone, now)
        for chat_id in gone:  # the bot was removed: not tried, reported as not delivered
            await self.repo.finish_delivery(tx, run_id, chat_id, "unreachable", None, now)
        method = "send_photo" if broadcast.photo_file_id else "send_message"
        for chat_id in chats:
            ref = f"{REF}{run_id}:{chat_id}"
            await self.notifier.enqueue(tx, Outgoing(
                # the leader's words are plain text, not markup
                chat_id, esc(broadcast.text), method=method, photo=broadcast.photo_file_id,
                ref=ref, dedup_key=ref, bulk=True))
        if not chats:
            await self._report(tx, broadcast, run_id)

    # -- the delivery report ----------------------------------------------------------

    async def _delivered(self, tx: Tx, row: OutboxRow, delivery: Delivery,
                         extra: dict[str, Any]) -> None:
        run_part, _, chat_part = (row.ref or "")[len(REF):].partition(":")
        if not run_part.isdigit():
            return
        run_id, chat_id = int(run_part), int(chat_part)
        error = extra.get("error") if delivery.status != "sent" else None
        if extra.get("chat_title"):
            await self.org.org.set_chat_title(tx, chat_id, extra["chat_title"], self.clock.now())
        await self.repo.finish_delivery(tx, run_id, chat_id, delivery.status, error,
                                        self.clock.now())
        broadcast_id = await self.repo.run_broadcast(run_id, tx)
        broadcast = await self.repo.get(broadcast_id, tx) if broadcast_id else None
        if broadcast is not None:
            await self._report(tx, broadcast, run_id)

    async def _report(self, tx: Tx, broadcast: Broadcast, run_id: int) -> None:
        if not await self.repo.claim_report(tx, run_id, self.clock.now()):
            return  # copies still on their way, or reported already
        rows = await self.repo.deliveries(run_id, tx)
        lang = await self._language(broadcast.sender_id)
        sent = [r for r in rows if r.status == "sent"]
        failed = [r for r in rows if r.status != "sent"]
        lines = []
        for r in failed:
            # "unreachable": the bot was removed or blocked; else Telegram's own words
            reason = (t(lang, "broadcast.unreachable") if r.status == "unreachable"
                      else r.error or "?")
            lines.append(t(lang, "broadcast.report_failed_line", chat=r.title or r.chat_id,
                           reason=reason))
        if len(rows) <= REPORT_LISTED:
            lines += [t(lang, "broadcast.report_sent_line", chat=r.title or r.chat_id)
                      for r in sent]
        await self.notifier.enqueue(tx, Outgoing(
            broadcast.sender_id,
            t(lang, "broadcast.report", number=number(broadcast.id), total=len(rows),
              sent=len(sent), failed=len(failed), lines=Markup("\n".join(lines))),
            ref=f"bcr:{run_id}", dedup_key=f"bcr:{run_id}",
            # a private ping to a leader: it waits for the end of quiet hours
            not_before=quiet_hours_end(self.settings, self.clock.now())))

    async def _language(self, user_id: int) -> str:
        user = await self.users.get(user_id)
        return pick_language(user.language if user else None,
                             user.language_code if user else None, self.settings.language)

    # -- listing and cancelling -------------------------------------------------------

    async def scheduled(self, user_id: int) -> list[Broadcast]:
        everyone = self.org.is_admin(user_id)
        return await self.repo.scheduled(None if everyone else user_id)

    async def cancel(self, user_id: int, broadcast_id: int) -> Broadcast:
        broadcast = await self.repo.get(broadcast_id)
        if broadcast is None:
            raise NotFound("broadcast.unknown", number=number(broadcast_id))
        node = await self.org.org.node(broadcast.node_id)
        if broadcast.sender_id != user_id and not (node and await self.org.may_manage(user_id,
                                                                                     node)):
            raise NotAllowed("broadcast.not_yours", number=number(broadcast_id))
        async with self.db.write() as tx:
            if not await self.repo.cancel(tx, broadcast_id, self.clock.now()):
                raise BadInput("broadcast.not_scheduled", number=number(broadcast_id))
            await self.scheduler.deadlines.cancel(tx, SUBJECT, broadcast_id)
        return broadcast

    def describe_schedule(self, broadcast: Broadcast, lang: str) -> str:
        """When it goes out, in words: "每周一、四 09:00", "2026-12-01 09:00"."""
        tz = self.settings.tz
        if broadcast.repeat == "once":
            if broadcast.next_at is None:
                return t(lang, "broadcast.when_done")
            return describe(broadcast.next_at, self.clock.now(), tz, lang)
        return self._repeat_words(broadcast.repeat, broadcast.at_time, broadcast.weekdays,
                                  broadcast.month_day, lang)

    def describe_plan(self, plan: Plan, lang: str) -> str:
        """The same words for a plan not yet recorded (a form's summary)."""
        if plan.rule is None:
            return t(lang, "broadcast.when_now")
        if plan.rule.repeat == "once":
            assert plan.first_at is not None
            return describe(plan.first_at, self.clock.now(), self.settings.tz, lang)
        return self._repeat_words(plan.rule.repeat, plan.rule.at.strftime("%H:%M"),
                                  plan.rule.weekdays, plan.rule.month_day, lang)

    @staticmethod
    def _repeat_words(repeat: str, at: str | None, weekdays: tuple[int, ...],
                      month_day: int | None, lang: str) -> str:
        days = ("、" if lang == "zh" else ", ").join(
            t(lang, f"broadcast.weekday.{d}") for d in weekdays)
        return t(lang, f"broadcast.repeat_{repeat}", at=at or "", days=days, day=month_day or "")
