"""Consultation, part three: decisions followed up until residents get an answer.

After the meeting the leader records its decisions (agenda item, text, owner: a
leader or a partner, due date). Each is a follow-up item: reminders before due,
and when missed it climbs the owner's chain like a report (a partner hands over
to the first leader above it; at the top it is flagged 超期). The owner marks it
done with a note. One results-feedback post (恳谈结果反馈) per meeting is edited as
items move; when all are done, proposers and attendees are told.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from bot.consult.meetings import MeetingService
from bot.core import deeplink
from bot.core.calendars import Calendars
from bot.core.errors import BadInput, NotAllowed, NotFound
from bot.core.i18n import Markup, esc, number, t
from bot.core.inputs import one_line, record_number
from bot.core.notifier import Button, Outgoing
from bot.core.timeparse import parse_day_end
from bot.core.timing import local_time, quiet_hours_end, resolve_within
from storage.consultation import Decision, Meeting
from storage.db import Tx
from storage.deadlines import Deadline
from storage.org import Node

DECISION_SUBJECT = "decision"
TEXT_MAX, NOTE_MAX = 500, 500
OVERDUE_REMINDER = timedelta(days=1)  # at the top of the chain, like the reports' digest


@dataclass(frozen=True, slots=True)
class Entry:
    """One decision as the leader typed it (line numbers for the error messages)."""

    line: int
    item: str
    text: str
    owner: str
    due: str


@dataclass(frozen=True, slots=True)
class Owner:
    user_ids: list[int]
    partner_id: int | None
    rung: Node


def feedback_ref(meeting_id: int) -> str:
    return f"meeting:{meeting_id}:feedback"


class FollowUpService:
    def __init__(self, meetings: MeetingService, calendars: Calendars) -> None:
        self.meetings, self.c, self.calendars = meetings, meetings.c, calendars
        self.settings, self.db, self.clock = meetings.settings, meetings.db, meetings.clock
        self.repo, self.notifier = meetings.repo, meetings.notifier
        self.scheduler = meetings.scheduler
        self.tree = self.c.tree
        self.scheduler.on(DECISION_SUBJECT, self._on_deadline)

    async def decision(self, decision_id: int, tx: Tx | None = None) -> Decision:
        found = await self.repo.decision(decision_id, tx)
        if found is None:
            raise NotFound("consult.no_decision", number=number(decision_id))
        return found

    # -- recording --------------------------------------------------------------------

    async def record(self, user_id: int, meeting_id: int, entries: list[Entry]) -> list[int]:
        await self.c.require_leader(user_id)
        meeting = await self.meetings.meeting(meeting_id)
        await self.c.managed(user_id, meeting.node_id)
        now = self.clock.now()
        if meeting.starts_at > now:
            raise BadInput("consult.decide_before_meeting", number=number(meeting.id))
        if not entries:
            raise BadInput("consult.decide_usage")
        positions = {a.position for a in await self.repo.agenda(meeting.id)}
        checked = []
        for e in entries:
            if not e.owner:
                raise BadInput("consult.decide_no_owner", line=e.line)
            if not e.due:
                raise BadInput("consult.decide_no_due", line=e.line)
            position = record_number(e.item)
            if position is None or position not in positions:
                raise BadInput("consult.decide_bad_item", line=e.line, item=e.item)
            text = one_line(e.text)
            if not text or len(text) > TEXT_MAX:
                raise BadInput("consult.decide_bad_text", line=e.line, max=TEXT_MAX)
            due = parse_day_end(e.due, now, self.settings.tz, past_ok=True)  # refused below
            if due <= now:
                raise BadInput("consult.decide_due_past", line=e.line, due=e.due)
            owner = await self._owner(e.owner, e.line)
            checked.append((position, text, owner, due))
        ids = []
        async with self.db.write() as tx:
            for position, text, owner, due in checked:
                decision_id = await self.repo.add_decision(
                    tx, meeting_id=meeting.id, position=position, text=text,
                    owner_id=owner.user_ids[0], partner_id=owner.partner_id,
                    rung_node_id=owner.rung.id, due_at=due, now=now)
                ids.append(decision_id)
                for index, before in enumerate(self.settings.reminders.follow_up):
                    if due - before > now:
                        await self.scheduler.arm(tx, DECISION_SUBJECT, decision_id,
                                                 f"remind{index}", due - before)
                await self.scheduler.arm(tx, DECISION_SUBJECT, decision_id, "due", due)
                decision = await self.decision(decision_id, tx)
                await self._prompt(tx, meeting, decision, owner.user_ids, "consult.prompt_owner")
            await self.repo.set_meeting_state(tx, meeting.id, "decided")
            await self.refresh_feedback(tx, meeting)
        self.notifier.kick()
        return ids

    async def owner_named(self, text: str) -> Owner:
        """A leader or partner by name, as a line of /decide names them (the form asks)."""
        return await self._owner(text, 0)

    async def _owner(self, text: str, line: int) -> Owner:
        """A leader (by name or user id) or a partner (by name)."""
        wanted = text.strip().lstrip("@")
        for node in await self.tree.all_nodes():
            for partner in await self.tree.partners_of(node.id):
                if partner.name == wanted and partner.user_ids:
                    return Owner(list(partner.user_ids), partner.id, node)
            for leader in await self.tree.leaders_of(node.id):
                if leader.name == wanted or str(leader.user_id) == wanted:
                    return Owner([leader.user_id], None, node)
        raise BadInput("consult.decide_unknown_owner", line=line, owner=text)

    # -- who acts ---------------------------------------------------------------------

    async def handlers(self, decision: Decision) -> list[int]:
        """The owner (all members of a partner) until it climbs; then the rung's leaders."""
        if decision.escalations == 0:
            if decision.partner_id is not None:
                partner = await self.tree.partner(decision.partner_id)
                return list(partner.user_ids) if partner else [decision.owner_id]
            return [decision.owner_id]
        return [ld.user_id for ld in await self.tree.leaders_of(decision.rung_node_id)]

    async def may_act(self, user_id: int, decision: Decision) -> bool:
        if user_id in await self.handlers(decision) or user_id == decision.owner_id:
            return True
        rung = await self.tree.node(decision.rung_node_id)
        return rung is not None and await self.c.org.may_manage(user_id, rung)

    async def actionable(self, user_id: int, decision_id: int) -> Decision:
        decision = await self.decision(decision_id)
        if not await self.may_act(user_id, decision):
            raise NotAllowed("consult.not_decision_owner")
        if decision.state != "open":
            raise BadInput("consult.decision_already_done", number=number(decision.id))
        return decision

    async def done(self, user_id: int, decision_id: int, note: str) -> Decision:
        note = one_line(note)
        if not note or len(note) > NOTE_MAX:
            raise BadInput("consult.note_invalid", max=NOTE_MAX)
        decision = await self.actionable(user_id, decision_id)
        now = self.clock.now()
        async with self.db.write() as tx:
            if not await self.repo.mark_done(tx, decision.id, user_id, note, now):
                raise BadInput("consult.decision_already_done", number=number(decision.id))
            await self.scheduler.deadlines.cancel(tx, DECISION_SUBJECT, decision.id)
            await self._tell_done(tx, decision, user_id, note)
            meeting = await self.meetings.meeting(decision.meeting_id, tx)
            await self.refresh_feedback(tx, meeting)
            await self._maybe_complete(tx, meeting)
        self.notifier.kick()
        return await self.decision(decision.id)

    async def _tell_done(self, tx: Tx, decision: Decision, by: int, note: str) -> None:
        """Everyone prompted earlier for it (but the one who did it) learns it is closed."""
        name = await self.c.name_of(by)
        for chat_id, message_ids in await self.notifier.outbox.sent_messages(
                f"decision:{decision.id}:prompt", tx):
            if chat_id == by or not message_ids:
                continue
            lang = await self.c.lang_of(chat_id)
            await self.notifier.enqueue(tx, Outgoing(
                chat_id, t(lang, "consult.decision_closed_line", number=number(decision.id),
                           name=name, note=note),
                dedup_key=f"decision:{decision.id}:closed:{chat_id}"))

    # -- deadlines --------------------------------------------------------------------

    async def _on_deadline(self, tx: Tx, deadline: Deadline) -> None:
        decision = await self.repo.decision(deadline.subject_id, tx)
        if decision is None or decision.state != "open":
            return
        meeting = await self.meetings.meeting(decision.meeting_id, tx)
        if deadline.kind.startswith("remind"):
            await self._prompt(tx, meeting, decision, await self.handlers(decision),
                               "consult.prompt_reminder", tag=deadline.kind)
            return
        before = await self.handlers(decision)
        target = await self._next_rung(decision)
        if target is None:  # the top: flagged 超期, nothing goes further; reminded daily
            await self.repo.flag_overdue(tx, decision.id)
            today = self.clock.now().astimezone(self.settings.tz).date().isoformat()
            await self._prompt(tx, meeting, decision, before, "consult.prompt_overdue_top",
                               tag=f"overdue:{today}")
            await self.scheduler.arm(tx, DECISION_SUBJECT, decision.id, "due",
                                     self.clock.now() + OVERDUE_REMINDER)
            await self.refresh_feedback(tx, meeting)
            return
        if not await self.repo.escalate_decision(tx, decision, target.id):
            return
        moved = await self.decision(decision.id, tx)
        due = await self.calendars.due(self.clock.now(),
                                       resolve_within(self.settings, target.level, "other"))
        await self.scheduler.arm(tx, DECISION_SUBJECT, decision.id, "due", due.at,
                                 due.deferred_by)
        for user_id in before:
            lang = await self.c.lang_of(user_id)
            await self.notifier.enqueue(tx, Outgoing(
                user_id, t(lang, "consult.told_escalated_old", number=number(decision.id),
                           text=decision.text, node=target.name),
                dedup_key=f"decision:{decision.id}:e{moved.escalations}:old:{user_id}"))
        await self._prompt(tx, meeting, moved, await self.handlers(moved),
                           "consult.prompt_escalated", tag=f"e{moved.escalations}")
        await self.refresh_feedback(tx, meeting)

    async def _next_rung(self, decision: Decision) -> Node | None:
        """Like a report: a partner hands over to the first leader at or above its node;
        a leader's item climbs to the nearest node above with leaders."""
        chain = await self.tree.ancestors(decision.rung_node_id)
        start = 0 if decision.partner_id is not None and decision.escalations == 0 else 1
        for node in chain[start:]:
            if await self.tree.leaders_of(node.id):
                return node
        return None

    # -- messages ---------------------------------------------------------------------

    async def _prompt(self, tx: Tx, meeting: Meeting, decision: Decision, user_ids: list[int],
                      key: str, tag: str = "new") -> None:
        group = self.settings.language
        wait_until = quiet_hours_end(self.settings, self.clock.now())  # leaders sleep at night
        for user_id in user_ids:
            lang = await self.c.lang_of(user_id)
            name = await self.c.name_of(user_id)
            mention = Markup(f'<a href="tg://user?id={user_id}">{esc(name)}</a>')
            await self.notifier.enqueue(tx, Outgoing(
                user_id, t(lang, key, meeting=number(meeting.id), title=meeting.title,
                           number=number(decision.id), text=decision.text,
                           due=local_time(self.settings, lang, decision.due_at)),
                buttons=[[Button(t(lang, "consult.btn_done"), data=f"cd:done:{decision.id}")]],
                fallback=Outgoing(meeting.chat_id, t(group, "consult.owner_mention",
                                                     mention=mention, number=number(decision.id)),
                                  thread_id=meeting.thread_id,
                                  buttons=deeplink.open_private(
                                      group, deeplink.username(self.notifier))),
                not_before=wait_until, ref=f"decision:{decision.id}:prompt",
                dedup_key=f"decision:{decision.id}:{tag}:{user_id}"))

    async def owner_name(self, decision: Decision) -> str:
        if decision.partner_id is not None:
            partner = await self.tree.partner(decision.partner_id)
            if partner is not None:
                return partner.name
        return await self.c.name_of(decision.owner_id)

    async def feedback_text(self, meeting: Meeting, lang: str, tx: Tx | None = None) -> str:
        decisions = await self.repo.decisions(meeting.id, tx)
        lines = []
        for item in await self.repo.agenda(meeting.id, tx):
            lines.append(t(lang, "consult.fb_item", position=item.position, text=item.text))
            mine = [d for d in decisions if d.position == item.position]
            if not mine:
                lines.append(t(lang, "consult.fb_none"))
            for d in mine:
                lines.append(t(lang, "consult.fb_decision", number=number(d.id), text=d.text,
                               owner=await self.owner_name(d),
                               due=local_time(self.settings, lang, d.due_at),
                               state=Markup(await self._state(d, lang))))
        done = sum(d.state == "done" for d in decisions)
        footer = (t(lang, "consult.fb_all_done", count=len(decisions))
                  if decisions and done == len(decisions)
                  else t(lang, "consult.fb_progress", done=done, count=len(decisions)))
        return t(lang, "consult.feedback", number=number(meeting.id), title=meeting.title,
                 lines=Markup("\n".join(lines)), footer=footer)

    async def _state(self, d: Decision, lang: str) -> str:
        if d.state == "done":
            return t(lang, "consult.fb_done", note=d.done_note or "")
        if d.overdue:
            return t(lang, "consult.fb_overdue")
        if d.escalations:
            rung = await self.tree.node(d.rung_node_id)
            return t(lang, "consult.fb_escalated", node=rung.name if rung else "")
        return t(lang, "consult.fb_open")

    async def refresh_feedback(self, tx: Tx, meeting: Meeting) -> None:
        """Post the results feedback once; edit what was posted as items move."""
        text = await self.feedback_text(meeting, self.settings.language, tx)
        ref = feedback_ref(meeting.id)
        await self.notifier.enqueue(tx, Outgoing(
            meeting.chat_id, text, thread_id=meeting.thread_id, ref=ref,
            dedup_key=f"meeting:{meeting.id}:feedback"))
        for chat_id, message_ids in await self.notifier.outbox.sent_messages(ref, tx):
            if message_ids:
                await self.notifier.enqueue(tx, Outgoing(
                    chat_id, text, method="edit_text", message_id=message_ids[-1]))

    async def _maybe_complete(self, tx: Tx, meeting: Meeting) -> None:
        decisions = await self.repo.decisions(meeting.id, tx)
        if not decisions or any(d.state != "done" for d in decisions):
            return
        if not await self.repo.set_meeting_state(tx, meeting.id, "completed"):
            return
        people: list[int] = []
        for item in await self.repo.agenda(meeting.id, tx):
            if item.proposal_id is not None:
                people += await self.repo.proposers_of(item.proposal_id, tx)
        people += await self.repo.attendees(meeting.id, tx)
        for user_id in dict.fromkeys(people):
            lang = await self.c.lang_of(user_id)
            lines = [t(lang, "consult.done_line", text=d.text, note=d.done_note or "")
                     for d in decisions]
            await self.notifier.enqueue(tx, Outgoing(
                user_id, t(lang, "consult.told_all_done", number=number(meeting.id),
                           title=meeting.title, lines=Markup("\n".join(lines))),
                dedup_key=f"meeting:{meeting.id}:complete:{user_id}"))


ENTRY_FIELDS = re.compile(r"[|｜]")


def parse_entries(lines: list[str], first_line: int = 1) -> list[Entry]:
    """'ITEM | DECISION | OWNER | DUE' per line; missing fields stay empty."""
    entries = []
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        fields = [f.strip() for f in ENTRY_FIELDS.split(line)] + ["", "", "", ""]
        entries.append(Entry(index + first_line, fields[0], fields[1], fields[2], fields[3]))
    return entries
