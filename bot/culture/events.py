"""Community events (社区活动): announcement to every bound chat in the scope, RSVPs
with live counts, capacity and a waiting list (候补), reminders to those going,
recurrence, edits and cancellation.

The announcement's counts are edited in place: only when the counts line changes
(never "message is not modified"), and a queued edit not yet sent is updated
rather than followed by another (a burst of presses costs one edit).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from bot.core.clock import Clock
from bot.core.errors import BadInput, NotAllowed, NotFound
from bot.core.i18n import Markup, esc, number, pick_language, t
from bot.core.inputs import one_line, visible
from bot.core.notifier import Button, Delivery, Notifier, Outgoing
from bot.core.recurrence import shift
from bot.core.scheduler import Scheduler
from bot.core.timeparse import parse_moment
from bot.core.timing import how_soon, quiet_hours_end
from bot.org.audience import bound_chats
from bot.org.org import OrgService
from config.settings import Settings
from storage.db import Database, Tx
from storage.deadlines import Deadline
from storage.events import Counts, Event, EventRepo
from storage.outbox import OutboxRepo, OutboxRow
from storage.users import UserRepo, UserRow

SUBJECT = "event"
POST = "evp:"  # ref of each announcement: evp:<event>
ANSWERS = {"g": "going", "m": "maybe", "n": "no"}
# Edits of one post at most this often: a group takes 20 messages a minute, and a burst
# of presses then costs one edit (a queued edit is updated, not followed by another).
EDIT_GAP = timedelta(seconds=3)


@dataclass(frozen=True, slots=True)
class Draft:
    node_id: int
    title: str
    description: str | None
    place: str
    starts_at: datetime
    ends_at: datetime
    capacity: int | None
    recurrence: str  # none, weekly, monthly


@dataclass(frozen=True, slots=True)
class Answered:
    key: str  # what to tell the presser (catalog key under event.)
    place: int = 0  # on the waiting list


class EventService:
    def __init__(self, settings: Settings, db: Database, clock: Clock, org: OrgService,
                 repo: EventRepo, outbox: OutboxRepo, users: UserRepo, notifier: Notifier,
                 scheduler: Scheduler) -> None:
        self.settings, self.db, self.clock, self.org, self.repo = settings, db, clock, org, repo
        self.outbox, self.users, self.notifier, self.scheduler = outbox, users, notifier, scheduler
        scheduler.on(SUBJECT, self._on_deadline)
        notifier.on_finished(POST, self._posted)

    # -- publishing -----------------------------------------------------------------

    async def publish(self, user_id: int, draft: Draft, lang: str) -> Event:
        node = await self.org.org.node(draft.node_id)
        if node is None:
            raise NotFound()
        if not await self.org.may_manage(user_id, node):
            raise NotAllowed("event.scope_not_yours")
        if draft.starts_at <= self.clock.now():
            raise BadInput("event.in_the_past")
        if not await bound_chats(self.org.org, node.id):
            raise BadInput("event.no_chats", node=node.name)
        async with self.db.write() as tx:
            event = await self._create(tx, user_id, draft, None)
            chats = await self._announce(tx, event)
            await self.notifier.enqueue(tx, Outgoing(
                user_id, t(lang, "event.published", number=number(event.id), title=event.title,
                           chats=chats, node=node.name),
                buttons=self.leader_buttons(event, lang)))
        self.notifier.kick()
        return event

    async def _create(self, tx: Tx, user_id: int, draft: Draft, previous: int | None) -> Event:
        now = self.clock.now()
        event_id = await self.repo.create(
            tx, creator_id=user_id, node_id=draft.node_id, title=draft.title,
            description=draft.description, place=draft.place, starts_at=draft.starts_at,
            ends_at=draft.ends_at, capacity=draft.capacity, recurrence=draft.recurrence,
            previous_id=previous, now=now)
        event = await self.repo.get(event_id, tx)
        assert event is not None
        await self._arm(tx, event)
        return event

    async def _arm(self, tx: Tx, event: Event) -> None:
        now = self.clock.now()
        for offset in self.settings.reminders.event:
            due = event.starts_at - offset
            if due > now:
                await self.scheduler.arm(tx, SUBJECT, event.id,
                                         f"remind:{int(offset.total_seconds())}", due)
        if event.recurrence != "none":  # the next occurrence is announced once this one starts
            await self.scheduler.arm(tx, SUBJECT, event.id, "next", event.starts_at)

    async def _announce(self, tx: Tx, event: Event) -> int:
        chats = await bound_chats(self.org.org, event.node_id)
        text, buttons = await self._post(tx, event)
        for chat in chats:
            await self.notifier.enqueue(tx, Outgoing(
                chat.chat_id, text, buttons=buttons, ref=f"{POST}{event.id}",
                dedup_key=f"{POST}{event.id}:{chat.chat_id}", bulk=True))
        await self.repo.change(tx, event.id, self.clock.now(),
                               shown=self.counts_line(event, await self.repo.counts(event.id, tx),
                                                      self.settings.language))
        return len(chats)

    # -- rendering ------------------------------------------------------------------

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.settings.tz)

    def when(self, event: Event, lang: str) -> str:
        start, end = self.local(event.starts_at), self.local(event.ends_at)
        weekday = t(lang, f"broadcast.weekday.{start.weekday()}")
        until = end.strftime("%H:%M") if end.date() == start.date() else end.strftime(
            "%Y-%m-%d %H:%M")
        return t(lang, "event.when", date=start.strftime("%Y-%m-%d"), weekday=weekday,
                 start=start.strftime("%H:%M"), end=until)

    def counts_line(self, event: Event, counts: Counts, lang: str) -> str:
        if event.state == "cancelled":
            return "cancelled"
        going = (t(lang, "event.going_of", going=counts.going, capacity=event.capacity)
                 if event.capacity else str(counts.going))
        line = t(lang, "event.counts", going=going, maybe=counts.maybe, no=counts.no)
        if counts.waiting:
            line += t(lang, "event.counts_waiting", waiting=counts.waiting)
        return line

    async def _post(self, tx: Tx | None, event: Event) -> tuple[str, list[list[Button]] | None]:
        lang = self.settings.language  # group chats read the deployment's language
        counts = await self.repo.counts(event.id, tx)
        key = "event.post_cancelled" if event.state == "cancelled" else "event.post"
        text = t(lang, key, number=number(event.id), title=event.title,
                 description=f"{event.description}\n" if event.description else "",
                 when=self.when(event, lang),
                 place=event.place, counts=self.counts_line(event, counts, lang),
                 repeat=t(lang, f"event.repeat_{event.recurrence}"))
        if event.state == "cancelled":
            return text, None
        buttons = [[Button(t(lang, "event.btn_going"), data=f"ev:r:{event.id}:g"),
                    Button(t(lang, "event.btn_maybe"), data=f"ev:r:{event.id}:m"),
                    Button(t(lang, "event.btn_no"), data=f"ev:r:{event.id}:n")],
                   [Button(t(lang, "event.btn_ics"), data=f"ev:ics:{event.id}")]]
        return text, buttons

    def leader_buttons(self, event: Event, lang: str) -> list[list[Button]]:
        return [[Button(t(lang, "event.btn_edit_time"), data=f"ev:e:{event.id}:time"),
                 Button(t(lang, "event.btn_edit_place"), data=f"ev:e:{event.id}:place")],
                [Button(t(lang, "event.btn_cancel"), data=f"ev:c:{event.id}")]]

    async def _refresh(self, tx: Tx, event: Event, force: bool = False) -> None:
        """Edit the posts when what they show has changed."""
        line = self.counts_line(event, await self.repo.counts(event.id, tx),
                                self.settings.language)
        if line == event.shown and not force:
            return
        now = self.clock.now()
        at = max(now, event.edit_after or now)
        await self.repo.change(tx, event.id, now, shown=line, edit_after=at + EDIT_GAP)
        text, buttons = await self._post(tx, event)
        for chat_id, message_ids in await self.outbox.sent_messages(f"{POST}{event.id}", tx):
            for message_id in message_ids[-1:]:
                await self._edit(tx, event, chat_id, message_id, text, buttons, at)

    async def _edit(self, tx: Tx, event: Event, chat_id: int, message_id: int, text: str,
                    buttons: list[list[Button]] | None, at: datetime | None = None) -> None:
        edit = Outgoing(chat_id, text, buttons=buttons, method="edit_text",
                        message_id=message_id, ref=f"eve:{event.id}:{message_id}",
                        not_before=at)
        assert edit.ref is not None
        if not await self.outbox.replace_pending(tx, edit.ref, chat_id, edit.payload()):
            await self.notifier.enqueue(tx, edit)

    async def _posted(self, tx: Tx, row: OutboxRow, delivery: Delivery,
                      _extra: dict[str, Any]) -> None:
        """A post that went out after counts changed is brought up to date."""
        event_id = (row.ref or "")[len(POST):]
        if delivery.status != "sent" or not event_id.isdigit() or not delivery.message_ids:
            return
        event = await self.repo.get(int(event_id), tx)
        if event is None:
            return
        text, buttons = await self._post(tx, event)
        if text != row.payload.get("text"):
            await self._edit(tx, event, row.chat_id, delivery.message_ids[-1], text, buttons)

    # -- answers --------------------------------------------------------------------

    async def answer(self, user_id: int, event_id: int, code: str) -> Answered:
        wanted = ANSWERS.get(code)
        event = await self.repo.get(event_id)
        if wanted is None or event is None:
            raise BadInput("error.stale_button")
        if event.state != "open" or event.starts_at <= self.clock.now():
            raise BadInput("event.closed", number=number(event_id))
        if not await self.org.lives_under(user_id, event.node_id):
            raise NotAllowed("event.not_in_scope")
        now = self.clock.now()
        async with self.db.write() as tx:
            event = await self.repo.get(event_id, tx)  # what the posts show now, not before
            assert event is not None
            current = await self.repo.answer_of(tx, event_id, user_id)
            if wanted == "going" and current in ("going", "waiting"):
                place = await self.repo.waiting_place(tx, event_id, user_id)
                return Answered("already_going" if current == "going" else "already_waiting",
                                place)
            if wanted == current:
                return Answered(f"already_{wanted}")
            result = Answered(f"now_{wanted}")
            if wanted == "going":
                counts = await self.repo.counts(event_id, tx)
                if event.capacity is not None and counts.going >= event.capacity:
                    await self.repo.set_answer(tx, event_id, user_id, "waiting", now)
                    result = Answered("now_waiting",
                                      await self.repo.waiting_place(tx, event_id, user_id))
                else:
                    await self.repo.set_answer(tx, event_id, user_id, "going", now)
            else:
                await self.repo.set_answer(tx, event_id, user_id, wanted, now)
                if current == "going":
                    await self._promote(tx, event)
            await self._refresh(tx, event)
        self.notifier.kick()
        return result

    async def _promote(self, tx: Tx, event: Event) -> None:
        promoted = await self.repo.promote(tx, event.id, self.clock.now())
        if promoted is not None:
            await self._tell(tx, event, [promoted], "event.promoted",
                             f"evpromo:{event.id}:{self.clock.now().timestamp()}")

    async def _language(self, user_id: int) -> str:
        user = await self.users.get(user_id)
        return pick_language(user.language if user else None,
                             user.language_code if user else None, self.settings.language)

    async def _tell(self, tx: Tx, event: Event, user_ids: list[int], key: str, dedup: str,
                    **params: object) -> None:
        """Private messages to residents. Those who never opened a private chat (most
        answer in the group) are mentioned in their building's chat instead: one message
        per chat naming them all, not one each."""
        mentions: dict[int, list[str]] = {}
        for user_id in user_ids:
            user = await self.users.get(user_id)
            chat = await self._chat_near(user_id)
            if user is None or not user.started or user.unreachable:
                if chat is not None:
                    mentions.setdefault(chat, []).append(self._mention(user_id, user))
                continue
            lang = await self._language(user_id)
            fallback = None
            if chat is not None:  # in case they blocked the bot since
                fallback = Outgoing(chat, t(self.settings.language, "event.mention",
                                            mention=Markup(self._mention(user_id, user)),
                                            text=Markup(self._text(event, key, None, params))))
            await self.notifier.enqueue(tx, Outgoing(
                user_id, self._text(event, key, lang, params), dedup_key=f"{dedup}:{user_id}",
                fallback=fallback))
        for chat, names in mentions.items():
            await self.notifier.enqueue(tx, Outgoing(
                chat, t(self.settings.language, "event.mention", mention=Markup("、".join(names)),
                        text=Markup(self._text(event, key, None, params))),
                dedup_key=f"{dedup}:chat:{chat}"))

    def _text(self, event: Event, key: str, lang: str | None, params: dict[str, object]) -> str:
        lang = lang or self.settings.language
        values = {k: v(lang) if callable(v) else v for k, v in params.items()}
        return t(lang, key, number=number(event.id), title=event.title,
                 when=self.when(event, lang), place=event.place, **values)

    async def _chat_near(self, user_id: int) -> int | None:
        resident = await self.org.org.resident(user_id)
        chat = await self.org.org.bound_chat_near(resident.node_id) if resident else None
        return chat.chat_id if chat else None

    @staticmethod
    def _mention(user_id: int, user: UserRow | None) -> str:
        name = user.display_name if user else str(user_id)
        return f'<a href="tg://user?id={user_id}">{esc(name)}</a>'

    # -- deadlines: reminders and the next occurrence --------------------------------

    async def _on_deadline(self, tx: Tx, deadline: Deadline) -> None:
        event = await self.repo.get(deadline.subject_id, tx)
        if event is None or event.state != "open":
            return
        if deadline.kind.startswith("remind:"):
            going = await self.repo.people(event.id, "going", tx)
            before = timedelta(seconds=int(deadline.kind.split(":", 1)[1]))
            await self._tell(tx, event, going, "event.reminder_soon",
                             f"evrem:{event.id}:{deadline.id}",
                             soon=lambda lang: how_soon(lang, before))
        elif deadline.kind == "next":
            await self._next_occurrence(tx, event)

    async def _next_occurrence(self, tx: Tx, event: Event) -> None:
        if await self.repo.following(event.id, tx) is not None:
            return
        starts, ends = shift(event.starts_at, event.ends_at, event.recurrence,
                             self.settings.tz)
        draft = Draft(event.node_id, event.title, event.description, event.place, starts, ends,
                      event.capacity, event.recurrence)
        following = await self._create(tx, event.creator_id, draft, event.id)
        await self._announce(tx, following)
        lang = await self._language(event.creator_id)
        await self.notifier.enqueue(tx, Outgoing(
            event.creator_id, t(lang, "event.next_published", number=number(following.id),
                                previous=number(event.id), title=event.title,
                                when=self.when(following, lang)),
            buttons=self.leader_buttons(following, lang), dedup_key=f"evnext:{following.id}",
            not_before=quiet_hours_end(self.settings, self.clock.now())))

    # -- listing --------------------------------------------------------------------

    async def upcoming(self, user_id: int) -> list[Event]:
        """Events that reach me: above my home, and in or above the nodes I lead."""
        org = self.org.org
        if self.org.is_admin(user_id):
            ids = {n.id for n in await org.all_nodes()}
        else:
            ids = set()
            resident = await org.resident(user_id)
            if resident is not None:
                ids |= {n.id for n in await org.ancestors(resident.node_id)}
            for node in await org.led_nodes(user_id):
                ids |= {n.id for n in await org.ancestors(node.id)}
                ids |= {n.id for n in await org.subtree(node.id)}
        return await self.repo.upcoming(sorted(ids), self.clock.now())

    # -- leaders: cancel and edit ---------------------------------------------------

    async def may_manage(self, user_id: int, event: Event) -> bool:
        node = await self.org.org.node(event.node_id)
        return node is not None and await self.org.may_manage(user_id, node)

    async def managed(self, user_id: int, event_id: int) -> Event:
        event = await self.repo.get(event_id)
        if event is None:
            raise NotFound("event.unknown", number=number(event_id))
        node = await self.org.org.node(event.node_id)
        if node is None or not await self.org.may_manage(user_id, node):
            raise NotAllowed("event.not_yours", number=number(event_id))
        if event.state != "open":
            raise BadInput("event.closed", number=number(event_id))
        return event

    async def cancel(self, user_id: int, event_id: int) -> Event:
        event = await self.managed(user_id, event_id)
        async with self.db.write() as tx:
            await self.repo.change(tx, event.id, self.clock.now(), revise=True, state="cancelled")
            await self.scheduler.deadlines.cancel(tx, SUBJECT, event.id)
            cancelled = replace(event, state="cancelled", revision=event.revision + 1)
            await self._refresh(tx, cancelled, force=True)
            await self._tell(tx, cancelled, await self._answered(tx, event),
                             "event.cancelled_notice",
                             f"evcancel:{event.id}")
        self.notifier.kick()
        return cancelled

    async def change(self, user_id: int, event_id: int, field: str, value: str) -> Event:
        event = await self.managed(user_id, event_id)
        fields: dict[str, object] = {}
        if field == "time":
            starts = self.parse_time(value)
            if starts <= self.clock.now():
                raise BadInput("event.in_the_past")
            fields = {"starts_at": starts, "ends_at": starts + (event.ends_at - event.starts_at)}
        elif field == "place":
            fields = {"place": self.check_text(value, 100)}
        else:
            raise BadInput("error.stale_button")
        async with self.db.write() as tx:
            await self.repo.change(tx, event.id, self.clock.now(), revise=True, **fields)
            changed = await self.repo.get(event.id, tx)
            assert changed is not None
            if field == "time":
                await self.scheduler.deadlines.cancel(tx, SUBJECT, event.id)
                await self._arm(tx, changed)
            await self._refresh(tx, changed, force=True)
            await self._tell(tx, changed, await self._answered(tx, event),
                             "event.changed_what",
                             f"evchange:{event.id}:{self.clock.now().timestamp()}",
                             changes=lambda lang: Markup(self._changes(event, changed, lang)))
        self.notifier.kick()
        return changed

    async def _answered(self, tx: Tx, event: Event) -> list[int]:
        """Everyone who answered, whatever they said: a change concerns them all."""
        return [u for a in ("going", "waiting", "maybe", "no")
                for u in await self.repo.people(event.id, a, tx)]

    def _changes(self, before: Event, after: Event, lang: str) -> str:
        """What changed, old → new, one line each."""
        lines = []
        if (before.starts_at, before.ends_at) != (after.starts_at, after.ends_at):
            lines.append(t(lang, "event.changed_time", old=self.when(before, lang),
                           new=self.when(after, lang)))
        if before.place != after.place:
            lines.append(t(lang, "event.changed_place", old=before.place, new=after.place))
        return "\n".join(lines)

    # -- input ----------------------------------------------------------------------

    @staticmethod
    def check_text(text: str | None, limit: int) -> str:
        cleaned = one_line(text) if limit <= 100 else visible(text)
        if not cleaned or len(cleaned) > limit:
            raise BadInput("event.text_invalid", max=limit)
        return cleaned

    def parse_time(self, text: str, day_of: datetime | None = None) -> datetime:
        """A start (周六下午2点, 12-05 14:00, not already past) or, with ``day_of``, an end
        whose bare time (16:00, 下午4点半) is on the start's day."""
        return parse_moment(text, self.clock.now(), self.settings.tz,
                            past_ok=day_of is not None, day_of=day_of)
