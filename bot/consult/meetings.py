"""Consultation, part two: the meeting (恳谈会) itself.

A leader schedules it in a bound chat; in a forum supergroup it gets its own
topic thread. The card carries RSVP buttons with live counts; reminders (P1D and
PT1H before, from settings) go to those going, privately where possible, else
as a mention in the meeting's chat.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from bot.consult.consultation import ConsultationService, agenda_winners
from bot.core.errors import BadInput, NotAllowed, NotFound
from bot.core.i18n import Markup, esc, number, t
from bot.core.notifier import Button, Delivery, Outgoing
from bot.core.timing import how_soon, local_time
from storage.consultation import Meeting
from storage.db import Tx
from storage.deadlines import Deadline
from storage.outbox import OutboxRow

MEETING_SUBJECT = "meeting"
TITLE_MAX, PLACE_MAX, ITEM_MAX, AGENDA_MAX = 100, 100, 300, 12
ANSWERS = {"go": "going", "may": "maybe", "no": "no"}
TOPIC_REF = re.compile(r"^meeting:(\d+):topic$")


def card_ref(meeting_id: int) -> str:
    return f"meeting:{meeting_id}:card"


class MeetingService:
    def __init__(self, consultation: ConsultationService) -> None:
        self.c = consultation
        self.settings, self.db = consultation.settings, consultation.db
        self.clock = consultation.clock
        self.repo, self.notifier, self.scheduler = (consultation.repo, consultation.notifier,
                                                    consultation.scheduler)
        self.scheduler.on(MEETING_SUBJECT, self._on_deadline)
        self.notifier.on_finished("meeting:", self._topic_made)

    async def meeting(self, meeting_id: int, tx: Tx | None = None) -> Meeting:
        meeting = await self.repo.meeting(meeting_id, tx)
        if meeting is None:
            raise NotFound("consult.no_meeting", number=number(meeting_id))
        return meeting

    # -- scheduling -------------------------------------------------------------------

    async def schedule(self, user_id: int, chat_id: int, is_forum: bool, thread_id: int | None,
                       starts_at: datetime, title: str, place: str,
                       agenda_texts: list[str] | None,
                       picked: list[int] | None = None) -> Meeting:
        """``picked``: topics of the chat's last poll chosen for the agenda (the form's
        buttons), before any ``agenda_texts``; neither: the poll's winners."""
        await self.c.require_leader(user_id)
        chat, node = await self.c.bound_chat(chat_id)
        await self.c.managed(user_id, node.id)
        now = self.clock.now()
        if starts_at <= now:
            raise BadInput("consult.meeting_past",
                           at=local_time(self.settings, self.settings.language, starts_at))
        title, place = " ".join(title.split()), " ".join(place.split())
        for field, value, limit in (("forum_title", title, TITLE_MAX),
                                    ("forum_place", place, PLACE_MAX)):
            if len(value) > limit:
                raise BadInput(f"too_long.{field}", max=limit, length=len(value))
        if not title or not place:
            raise BadInput("consult.forum_usage")
        poll = await self.repo.latest_closed_poll(chat.chat_id)
        agenda = await self._agenda(agenda_texts, poll.id if poll else None, picked or [])
        async with self.db.write() as tx:
            meeting_id = await self.repo.create_meeting(
                tx, node_id=node.id, chat_id=chat.chat_id, poll_id=poll.id if poll else None,
                created_by=user_id, title=title, place=place, starts_at=starts_at,
                agenda=agenda, now=now)
            for index, before in enumerate(self.settings.reminders.event):
                if starts_at - before > now:
                    await self.scheduler.arm(tx, MEETING_SUBJECT, meeting_id, f"remind{index}",
                                             starts_at - before)
            # at the start the card loses its buttons
            await self.scheduler.arm(tx, MEETING_SUBJECT, meeting_id, "start", starts_at)
            if is_forum:
                await self.notifier.enqueue(tx, Outgoing(
                    chat.chat_id, method="create_forum_topic",
                    name=t(self.settings.language, "consult.topic_name", number=number(meeting_id),
                           title=title)[:128],
                    ref=f"meeting:{meeting_id}:topic", dedup_key=f"meeting:{meeting_id}:topic"))
            else:
                await self._post_card(tx, await self.meeting(meeting_id, tx), thread_id)
        self.notifier.kick()
        return await self.meeting(meeting_id)

    async def _agenda(self, texts: list[str] | None, poll_id: int | None,
                      picked: list[int]) -> list[tuple[int | None, str]]:
        chosen: list[tuple[int | None, str]] = []
        if picked:
            polled = ({r.proposal.id: r.proposal.text for r in await self.c.ranking(poll_id)}
                      if poll_id is not None else {})
            if any(p not in polled for p in picked):
                raise BadInput("error.stale_button")
            chosen = [(p, polled[p]) for p in dict.fromkeys(picked)]
        if texts or chosen:
            items = [" ".join(x.split()) for x in texts or [] if x.strip()]
            for item in items:
                if len(item) > ITEM_MAX:
                    raise BadInput("too_long.agenda_item", max=ITEM_MAX, length=len(item))
            if len(chosen) + len(items) > AGENDA_MAX:
                raise BadInput("consult.agenda_too_long", max=AGENDA_MAX)
            if chosen or items:
                return chosen + [(None, x) for x in items]
        if poll_id is None:
            raise BadInput("consult.agenda_needed")
        winners = agenda_winners(await self.c.ranking(poll_id))
        if not winners:
            raise BadInput("consult.agenda_needed")
        return [(r.proposal.id, r.proposal.text) for r in winners]

    async def _topic_made(self, tx: Tx, row: OutboxRow, delivery: Delivery,
                          extra: dict[str, Any]) -> None:
        """The forum topic exists (or could not be made): the card goes there (or to the chat)."""
        match = TOPIC_REF.match(row.ref or "")
        if match is None:
            return
        meeting_id = int(match.group(1))
        thread = extra.get("thread_id") if delivery.status == "sent" else None
        if thread:
            await self.repo.set_thread(tx, meeting_id, int(thread))
        meeting = await self.meeting(meeting_id, tx)
        await self._post_card(tx, meeting, int(thread) if thread else None)

    # -- the card and RSVPs -----------------------------------------------------------

    async def card(self, meeting: Meeting, lang: str, tx: Tx | None = None,
                   ) -> tuple[str, list[list[Button]] | None]:
        agenda = await self.repo.agenda(meeting.id, tx)
        counts = await self.repo.rsvp_counts(meeting.id, tx)
        lines = [t(lang, "consult.agenda_line", position=a.position, text=a.text)
                 for a in agenda]
        text = t(lang, "consult.meeting_card", number=number(meeting.id), title=meeting.title,
                 at=local_time(self.settings, lang, meeting.starts_at), place=meeting.place,
                 agenda=Markup("\n".join(lines)), going=counts.get("going", 0),
                 maybe=counts.get("maybe", 0), no=counts.get("no", 0))
        if meeting.state != "scheduled" or meeting.starts_at <= self.clock.now():
            return text, None
        buttons = [[Button(t(lang, f"consult.btn_{answer}", count=counts.get(answer, 0)),
                           data=f"cf:{code}:{meeting.id}") for code, answer in ANSWERS.items()]]
        return text, buttons

    async def _post_card(self, tx: Tx, meeting: Meeting, thread_id: int | None) -> None:
        text, buttons = await self.card(meeting, self.settings.language, tx)
        await self.notifier.enqueue(tx, Outgoing(
            meeting.chat_id, text, buttons=buttons, thread_id=thread_id,
            ref=card_ref(meeting.id), dedup_key=f"meeting:{meeting.id}:card"))

    async def refresh_card(self, tx: Tx, meeting: Meeting) -> None:
        text, buttons = await self.card(meeting, self.settings.language, tx)
        for chat_id, message_ids in await self.notifier.outbox.sent_messages(
                card_ref(meeting.id), tx):
            if message_ids:
                await self.notifier.enqueue(tx, Outgoing(
                    chat_id, text, buttons=buttons, method="edit_text",
                    message_id=message_ids[-1]))

    async def rsvp(self, user_id: int, meeting_id: int, code: str) -> tuple[Meeting, str]:
        answer = ANSWERS.get(code)
        meeting = await self.meeting(meeting_id)
        if answer is None:
            raise BadInput("error.stale_button")
        if meeting.state != "scheduled" or meeting.starts_at <= self.clock.now():
            raise BadInput("consult.meeting_started", number=number(meeting.id))
        if not await self.c.org.lives_under(user_id, meeting.node_id):
            node = await self.c.tree.node(meeting.node_id)
            raise NotAllowed("consult_rights.rsvp_not_here", number=number(meeting.id),
                             node=node.name if node else "")
        async with self.db.write() as tx:
            await self.repo.rsvp(tx, meeting.id, user_id, answer, self.clock.now())
            await self.refresh_card(tx, meeting)
        self.notifier.kick()
        return meeting, answer

    # -- reminders --------------------------------------------------------------------

    async def _on_deadline(self, tx: Tx, deadline: Deadline) -> None:
        meeting = await self.repo.meeting(deadline.subject_id, tx)
        if meeting is None or meeting.state != "scheduled":
            return
        if deadline.kind == "start":
            await self.refresh_card(tx, meeting)
            return
        group = self.settings.language
        offsets = self.settings.reminders.event
        index = int(deadline.kind.removeprefix("remind") or 0)
        before = offsets[index] if index < len(offsets) else meeting.starts_at - self.clock.now()
        for user_id in await self.repo.attendees(meeting.id, tx):
            lang = await self.c.lang_of(user_id)
            name = await self.c.name_of(user_id)
            mention = Markup(f'<a href="tg://user?id={user_id}">{esc(name)}</a>')
            at = local_time(self.settings, lang, meeting.starts_at)
            await self.notifier.enqueue(tx, Outgoing(
                user_id, t(lang, "consult.meeting_reminder_soon", number=number(meeting.id),
                           title=meeting.title, at=at, place=meeting.place,
                           soon=how_soon(lang, before)),
                fallback=Outgoing(meeting.chat_id, t(
                    group, "consult.meeting_reminder_group_soon", mention=mention,
                    soon=how_soon(group, before),
                    number=number(meeting.id), title=meeting.title,
                    at=local_time(self.settings, group, meeting.starts_at),
                    place=meeting.place), thread_id=meeting.thread_id),
                dedup_key=f"meeting:{meeting.id}:{deadline.kind}:{user_id}"))
