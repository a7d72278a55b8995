"""Everything the reports feature says, and to whom.

Leaders' prompts carry the reporter's name, unit and text (they are the
handling chain). Group chats only ever learn a report's number: the mention
of an unreachable leader names the leader and the number, nothing else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from weakref import WeakKeyDictionary

from bot.core import deeplink
from bot.core.calendars import deferral
from bot.core.i18n import CATALOG, Markup, esc, number, pick_language, t
from bot.core.notifier import Button, Notifier, Outgoing
from bot.core.timing import local_time, quiet_hours_end
from bot.core.workcal import Due
from bot.org.away import AwayService
from config.settings import Settings
from storage.db import Tx
from storage.deadlines import DeadlineRepo
from storage.org import OrgRepo
from storage.outbox import OutboxRepo
from storage.privacy import is_forgotten
from storage.reports import Report, ReportEvent, ReportRepo
from storage.users import UserRepo

# the reporter's rating, as its button carries it
RATINGS = {"s": "satisfied", "a": "acceptable", "u": "unsatisfied"}
# what a supporter hears instead, where the reporter's words speak of the reporter's doing
SUPPORTER_WORDS = {key: key.replace("report.", "metoo.") for key in (
    "report.told_acknowledged", "report.told_resolved", "report.told_moved",
    "report.told_closed", "report.told_reopened", "report.told_closed_unrated")}
# a phone call-back for a resident without Telegram may also find nobody
CALLBACK_RATINGS = {**RATINGS, "n": "unreachable"}


async def current_handlers(org: OrgRepo, report: Report) -> list[int]:
    """Who acts on it: its owner once acknowledged; before that the partner's members
    while a partner has it, else the leaders of its rung. The owner only while they still
    hold that role: a leader removed from the rung, or a member from the partner, loses
    the reports they acknowledged at once, and those who hold the role now act on them."""
    if report.partner_id is not None:
        partner = await org.partner(report.partner_id)
        holders = list(partner.user_ids) if partner else []
    else:
        holders = [ld.user_id for ld in await org.leaders_of(report.rung_node_id)]
    if report.owner_id is not None and report.state != "open" and report.owner_id in holders:
        return [report.owner_id]
    return holders


Sent = list[tuple[int, list[int]]]  # (chat, message ids) of messages sent
# the moves that bring a report to a new handler (or back to the same one), with a reason
MOVES = ("escalated", "reassigned", "recategorised", "reopened")


def prompt_ref(report_id: int) -> str:
    return f"report:{report_id}:prompt"


def rating_ref(report: Report) -> str:
    """The request to rate this resolution (a reopened report resolved again asks anew)."""
    return f"report:{report.id}:v{report.version}:rating"


class ReportNotices:
    def __init__(self, settings: Settings, org: OrgRepo, users: UserRepo, outbox: OutboxRepo,
                 deadlines: DeadlineRepo, notifier: Notifier, reports: ReportRepo,
                 away: AwayService) -> None:
        self.settings, self.org, self.users, self.outbox = settings, org, users, outbox
        self.deadlines, self.notifier, self.reports = deadlines, notifier, reports
        self.away = away
        # prompts found sent, read ahead in a transaction (a batch of deadlines): by report
        self._sent_ahead: WeakKeyDictionary[Tx, dict[int, Sent]] = WeakKeyDictionary()

    async def handlers(self, report: Report, tx: Tx | None = None) -> list[int]:
        """Whom its prompts and deadline pings are addressed to: its handlers, a leader away
        replaced by their stand-in. The one place a stand-in takes effect."""
        return await self.away.cover(await current_handlers(self.org, report), tx)

    def handlers_alike(self, tx: Tx) -> Callable[[Report], Awaitable[list[int]]]:
        """``handlers`` in ``tx`` for many reports (a batch's moves): worked out once for
        reports alike in what decides it (rung, partner, owner and state)."""
        known: dict[tuple[int, int | None, int | None, bool], list[int]] = {}

        async def handlers(report: Report) -> list[int]:
            alike = (report.rung_node_id, report.partner_id, report.owner_id,
                     report.state == "open")
            if alike not in known:
                known[alike] = await self.handlers(report, tx)
            return list(known[alike])
        return handlers

    async def _lang(self, user_id: int) -> str:
        user = await self.users.get(user_id)
        if user is None:
            return self.settings.language
        return pick_language(user.language, user.language_code, self.settings.language)

    # -- describing a report ----------------------------------------------------------

    async def handler_title(self, report: Report, lang: str) -> str:
        """Who handles it now, as the reporter should read it: 邻长 / 阳光物业."""
        if report.partner_id is not None:
            partner = await self.org.partner(report.partner_id)
            if partner is not None:
                return partner.name
        rung = await self.org.node(report.rung_node_id)
        assert rung is not None
        level = self.settings.level(rung.level)
        return level.title_zh if lang == "zh" else level.title_en

    async def person(self, user_id: int) -> str:
        if user_id < 0:  # a resident without Telegram: the name or phone a leader gave
            resident = await self.org.resident(user_id)
            if resident is not None:
                return resident.name or resident.phone or str(user_id)
        names = await self.org.leaders_named(user_id)
        if names:
            return names[0]
        user = await self.users.get(user_id)
        return user.display_name if user else str(user_id)

    async def dues(self, report: Report, tx: Tx | None = None) -> dict[str, Due]:
        """When the report's armed deadlines fall due, by kind (and which holidays, if any,
        pushed them later)."""
        return {d.kind: Due(d.due_at, tuple(d.deferred_by.split("、")) if d.deferred_by else ())
                for d in await self.deadlines.armed_for("report", report.id, tx)}

    async def describe(self, report: Report, lang: str, tx: Tx | None = None,
                       dues: dict[str, Due] | None = None) -> str:
        """The full card, for the handling chain only (``dues``: its deadlines, if known)."""
        node = await self.org.node(report.node_id)
        rung = await self.org.node(report.rung_node_id)
        assert node is not None and rung is not None
        resident = await self.org.resident(report.reporter_id)
        place = node.name + (f"（{resident.unit}）" if resident and resident.unit else "")
        lines = [
            t(lang, "report.card_head", number=number(report.id),
              category=t(lang, f"category.{report.category}")),
            t(lang, "report.card_place", place=place),
            t(lang, "report.card_reporter", name=t(lang, "privacy.forgotten_name")
              if is_forgotten(report.reporter_id) else await self.person(report.reporter_id)),
            t(lang, "report.card_text", text=report.text or t(lang, "privacy.text_removed")),
            *self.voice_lines(report, lang),
        ]
        if report.latitude is not None and report.longitude is not None:
            lines.append(t(lang, "report.card_location", lat=f"{report.latitude:.5f}",
                           lon=f"{report.longitude:.5f}"))
        lines.append(t(lang, "report.card_filed",
                       at=local_time(self.settings, lang, report.created_at)))
        state = t(lang, f"state.{report.state}")
        if report.overdue:
            state += t(lang, "report.overdue_mark")
        handler = await self.handler_title(report, lang)
        if report.owner_id is not None:
            handler += " " + await self.person(report.owner_id)
        lines.append(t(lang, "report.card_state", state=state, handler=handler, node=rung.name))
        why = await self.why(report, lang, await self.reports.events(report.id, tx))
        if why:
            lines.append(t(lang, "report.card_why", why=why))
        if dues is None:
            dues = await self.dues(report, tx)
        for kind, due in sorted(dues.items(), key=lambda due: due[1].at):
            if kind in ("acknowledge", "resolve"):
                line = t(lang, f"report.card_due_{kind}",
                         at=local_time(self.settings, lang, due.at))
                if due.deferred:
                    line += t(lang, "workcal.card_deferred",
                              deferral=deferral(lang, due, self.settings))
                lines.append(line)
        if report.resolution:
            lines.append(t(lang, "report.card_resolution", resolution_note=report.resolution))
        lines.extend(self.supporter_lines(report, lang))
        return "\n".join(lines)

    async def why(self, report: Report, lang: str, events: list[ReportEvent]) -> str | None:
        """Who sent the report to where it is now, and why: the move that brought it to its
        rung (an escalation, a reassignment, a change of category, a reopening)."""
        for index in range(len(events) - 1, 0, -1):
            event = events[index]
            if event.action not in MOVES or event.node_id != report.rung_node_id:
                continue
            before = await self.org.node(events[index - 1].node_id or report.rung_node_id)
            source = before.name if before and before.id != report.rung_node_id else t(
                lang, "report.why_partner")
            who = await self.person(event.actor_id) if event.actor_id else ""
            note = event.note or ""
            if event.action == "reopened":
                complaint = next((e.note for e in events[index + 1:]
                                  if e.action == "complained" and e.note), None)
                return (t(lang, "report.why_reopened", reason=complaint) if complaint
                        else t(lang, "report.why_reopened_plain"))
            if event.action == "escalated" and note.startswith("missed:"):
                return t(lang, f"report.why_{note.replace(':', '_')}", source=source)
            if event.action == "escalated" and note == "unsatisfied":
                complaint = next((e.note for e in events[index + 1:]
                                  if e.action == "complained" and e.note), None)
                return t(lang, "report.why_unsatisfied_twice", source=source,
                         reason=complaint or "—")
            if event.action == "escalated":
                return t(lang, "report.why_escalated", who=who, source=source, reason=note)
            if event.action == "reassigned":
                return t(lang, "report.why_reassigned", who=who, source=source)
            category = note.split("→")[-1].strip()
            return t(lang, "report.why_recategorised", who=who,
                     category=t(lang, f"category.{category}") if CATALOG.has(
                         f"category.{category}") else category)
        return None

    async def tell_closed(self, tx: Tx, report: Report) -> None:
        """Leaders prompted earlier (whoever still has the card) learn in one line that the
        report is closed, and how the resident rated it."""
        for chat_id, message_ids in await self.sent_prompts(report, tx):
            if not message_ids or chat_id <= 0:
                continue
            lang = await self._lang(chat_id)
            rating = t(lang, f"rating.{report.rating or 'unrated'}")
            await self.notifier.enqueue(tx, Outgoing(
                chat_id, t(lang, "report.closed_line", number=number(report.id), rating=rating),
                not_before=quiet_hours_end(self.settings, report.closed_at or report.rung_since),
                dedup_key=f"report:{report.id}:closed:{chat_id}"))

    async def tell_complaint(self, tx: Tx, report: Report, user_ids: list[int],
                             reason: str) -> None:
        for user_id in user_ids:
            lang = await self._lang(user_id)
            await self.notifier.enqueue(tx, Outgoing(
                user_id, t(lang, "report.told_complaint", number=number(report.id),
                           reason=reason),
                not_before=quiet_hours_end(self.settings, report.rung_since),
                dedup_key=f"report:{report.id}:v{report.version}:complaint:{user_id}"))

    def voice_lines(self, report: Report, lang: str) -> list[str]:
        """🎤 语音 12 秒, and the machine transcript labelled as such."""
        if not report.voice_file_id:
            return []
        lines = [t(lang, f"voice.card_{report.voice_kind or 'voice'}",
                   seconds=report.voice_duration or 0)]
        if report.transcript:
            lines.append(t(lang, "voice.card_transcript", transcript=report.transcript))
        return lines

    def supporter_lines(self, report: Report, lang: str) -> list[str]:
        """How many others have the same problem (never who), or where it was merged."""
        lines = []
        if report.supporters:
            lines.append(t(lang, "metoo.card_supporters", count=report.supporters))
        if report.merged_into is not None:
            lines.append(t(lang, "metoo.card_merged", number=number(report.merged_into)))
        return lines

    def event_note(self, lang: str, note: str | None) -> str:
        """An event's note as people read it: categories, ratings and reasons translated."""
        if not note:
            return ""
        if note.startswith("missed:"):
            text = t(lang, f"report.reason_{note.replace(':', '_')}")
        elif CATALOG.has(f"handover.{note}"):
            text = t(lang, f"handover.{note}")
        elif CATALOG.has(f"category.{note}"):
            text = t(lang, f"category.{note}")
        elif CATALOG.has(f"rating.{note}"):
            text = t(lang, f"rating.{note}")
        else:
            text = note
        return t(lang, "report.history_note", note=text)

    def buttons(self, report: Report, lang: str, can_reassign: bool) -> list[list[Button]]:
        if not report.active:
            return []
        key = f"{report.id}:{report.version}"
        first = []
        if report.state == "open":
            first.append(Button(t(lang, "report.btn_acknowledge"), data=f"r:ack:{key}"))
        first.append(Button(t(lang, "report.btn_resolve"), data=f"r:res:{key}"))
        second = [Button(t(lang, "report.btn_escalate"), data=f"r:esc:{key}"),
                  Button(t(lang, "report.btn_category"), data=f"r:cat:{key}")]
        if can_reassign:
            second.append(Button(t(lang, "report.btn_reassign"), data=f"r:rea:{key}"))
        return [first, second, [Button(t(lang, "metoo.btn_merge"), data=f"r:mrg:{key}")]]

    # -- to leaders -------------------------------------------------------------------

    async def _card(self, report: Report, lang: str, tx: Tx, dues: dict[str, Due],
                    cards: dict[str, str] | None) -> str:
        """The card in this language, drawn once for all it goes to (``cards``: those drawn)."""
        if cards is None:
            return await self.describe(report, lang, tx, dues)
        if lang not in cards:
            cards[lang] = await self.describe(report, lang, tx, dues)
        return cards[lang]

    async def prompt(self, tx: Tx, report: Report, user_ids: list[int],
                     dues: dict[str, Due] | None = None,
                     cards: dict[str, str] | None = None) -> None:
        """A private prompt to each handler; in quiet hours it waits, unless safety."""
        now = report.rung_since
        wait_until = None if report.category == "safety" else quiet_hours_end(self.settings, now)
        can_reassign = await self._above_first_rung(report)
        if dues is None:
            dues = await self.dues(report, tx)
        for user_id in user_ids:
            lang = await self._lang(user_id)
            if report.voice_file_id:  # the voice itself, to the handler only, never a group
                video = report.voice_kind == "video_note"
                await self.notifier.enqueue(tx, Outgoing(
                    user_id, method="send_video_note" if video else "send_voice",
                    voice=report.voice_file_id, not_before=wait_until,
                    text=None if video else t(lang, "voice.caption", number=number(report.id)),
                    dedup_key=f"report:{report.id}:v{report.version}:voice:{user_id}",
                ))
            if report.photo_file_id:
                await self.notifier.enqueue(tx, Outgoing(
                    user_id, method="send_photo", photo=report.photo_file_id,
                    text=t(lang, "report.photo_caption", number=number(report.id)),
                    not_before=wait_until,
                    dedup_key=f"report:{report.id}:v{report.version}:photo:{user_id}",
                ))
            await self.notifier.enqueue(tx, Outgoing(
                user_id, await self._card(report, lang, tx, dues, cards),
                buttons=self.buttons(report, lang, can_reassign), ref=prompt_ref(report.id),
                not_before=wait_until, fallback=await self._mention(report, user_id),
                dedup_key=f"report:{report.id}:v{report.version}:prompt:{user_id}",
            ))

    async def _above_first_rung(self, report: Report) -> bool:
        for node in await self.org.ancestors(report.node_id):
            if node.id == report.rung_node_id:
                return False
            if await self.org.leaders_of(node.id):
                return report.partner_id is None
        return False

    async def _mention(self, report: Report, user_id: int) -> Outgoing | None:
        """For a leader the bot cannot reach: a mention in the nearest bound group."""
        chat = await self.org.bound_chat_near(report.node_id)
        if chat is None:
            return None
        name = await self.person(user_id)
        mention = Markup(f'<a href="tg://user?id={user_id}">{esc(name)}</a>')
        lang = self.settings.language
        text = t(lang, "report.leader_mention", mention=mention, number=number(report.id))
        return Outgoing(chat.chat_id, text, buttons=deeplink.open_private(
            lang, deeplink.username(self.notifier), deeplink.QUEUE))

    async def read_sent_ahead(self, tx: Tx, report_ids: list[int]) -> None:
        """The prompts sent for these reports, read in one statement for the transaction:
        only the dispatcher marks a message sent, never a change inside it."""
        sent = await self.outbox.sent_messages_of([prompt_ref(i) for i in report_ids], tx)
        self._sent_ahead.setdefault(tx, {}).update(
            (report_id, sent[prompt_ref(report_id)]) for report_id in report_ids)

    async def sent_prompts(self, report: Report, tx: Tx | None = None) -> Sent:
        """(chat, message ids) of the prompts sent for this report."""
        if tx is not None and tx in self._sent_ahead:
            ahead = self._sent_ahead[tx].pop(report.id, None)
            if ahead is not None:
                return ahead
        return await self.outbox.sent_messages(prompt_ref(report.id), tx)

    async def refresh_prompts(self, tx: Tx, report: Report, sent: Sent | None = None,
                              dues: dict[str, Due] | None = None,
                              cards: dict[str, str] | None = None) -> None:
        """Bring every prompt already sent for this report up to date (buttons included).
        ``sent`` and ``dues``: the prompts and deadlines, when read beforehand."""
        handlers = set(await self.handlers(report, tx))
        can_reassign = await self._above_first_rung(report)
        if sent is None or dues is None:
            sent, dues = await asyncio.gather(  # both reads in one trip to the writer's thread
                self.sent_prompts(report, tx), self.dues(report, tx))
        for chat_id, message_ids in sent:
            if not message_ids:
                continue
            lang = await self._lang(chat_id)
            buttons = self.buttons(report, lang, can_reassign) if chat_id in handlers else []
            await self.notifier.enqueue(tx, Outgoing(
                chat_id, await self._card(report, lang, tx, dues, cards), buttons=buttons or None,
                method="edit_text", message_id=message_ids[-1],
                dedup_key=f"report:{report.id}:v{report.version}:edit:{chat_id}:{message_ids[-1]}",
            ))

    async def moved(self, tx: Tx, after: Report, old: list[int],
                    new: list[int], note: str | None, actor: int | None = None,
                    dues: dict[str, Due] | None = None) -> None:
        """The report changed hands: old handlers told, new ones prompted, reporter told.
        Whoever moved it (``actor``) already has the confirmation of their action.
        ``dues``: its deadlines as the move armed them, if known."""
        if dues is None:
            sent, dues = await asyncio.gather(  # both reads in one trip
                self.sent_prompts(after, tx), self.dues(after, tx))
        else:
            sent = await self.sent_prompts(after, tx)
        cards: dict[str, str] = {}  # the same card for the old prompts and the new ones
        await self.refresh_prompts(tx, after, sent, dues, cards)
        rung = await self.org.node(after.rung_node_id)
        assert rung is not None
        automatic = bool(note and note.startswith("missed:"))
        for user_id in old:
            if user_id in new or user_id == actor:
                continue
            lang = await self._lang(user_id)
            key = "report.told_old_missed" if automatic else "report.told_old_moved"
            await self.notifier.enqueue(tx, Outgoing(
                user_id, t(lang, key, number=number(after.id), node=rung.name,
                           title=await self.handler_title(after, lang)),
                dedup_key=f"report:{after.id}:v{after.version}:old:{user_id}",
            ))
        await self.prompt(tx, after, new, dues, cards)
        if actor != after.reporter_id:  # a second 不满意 moved it: the rating's answer says so
            await self.tell_reporter(tx, after, "report.told_moved", actor=None)
        else:
            await self.tell_supporters(tx, after, "report.told_moved", actor=None,
                                        ask_rating=False)

    # -- to the reporter --------------------------------------------------------------

    async def tell_reporter(self, tx: Tx, report: Report, key: str, *, actor: int | None,
                            ask_rating: bool = False) -> None:
        if is_forgotten(report.reporter_id):
            return  # the reporter used /forget: nobody to tell
        if report.filed_by is not None:  # filed for a resident without Telegram
            if ask_rating:
                await self._ask_call_back(tx, report)
            return
        lang = await self._lang(report.reporter_id)
        rung = await self.org.node(report.rung_node_id)
        assert rung is not None
        text = t(lang, key, number=number(report.id), title=await self.handler_title(report, lang),
                 node=rung.name, name=await self.person(actor) if actor else "",
                 note=report.resolution or "")
        if ask_rating and report.resolution_photo:  # the proof, just before the request
            await self.notifier.enqueue(tx, Outgoing(
                report.reporter_id, method="send_photo", photo=report.resolution_photo,
                text=t(lang, "replies.proof_caption", number=number(report.id)),
                dedup_key=f"report:{report.id}:v{report.version}:proof"))
        # No word in the group when the reporter cannot be reached: the one hint to open
        # the private chat came with the receipt, and on arrival the reporter sees the
        # report as it stands (and the rating it waits for, see ReportService.ask_missed_ratings).
        await self.notifier.enqueue(tx, Outgoing(
            report.reporter_id, text,
            buttons=self.rating_buttons(report, lang) if ask_rating else None,
            ref=rating_ref(report) if ask_rating else None,
            dedup_key=f"report:{report.id}:v{report.version}:reporter:{key}",
        ))
        await self.tell_supporters(tx, report, key, actor=actor, ask_rating=ask_rating)

    async def _ask_call_back(self, tx: Tx, report: Report) -> None:
        """The leader who filed it calls the resident back and records the rating."""
        assert report.filed_by is not None
        leader = report.filed_by
        lang = await self._lang(leader)
        resident = await self.org.resident(report.reporter_id)
        name = await self.person(report.reporter_id)
        contact = (resident.phone or resident.unit or "—") if resident else "—"
        if report.resolution_photo:
            await self.notifier.enqueue(tx, Outgoing(
                leader, method="send_photo", photo=report.resolution_photo,
                text=t(lang, "replies.proof_caption", number=number(report.id)),
                dedup_key=f"report:{report.id}:v{report.version}:proof"))
        buttons = [[Button(t(lang, f"rating.{rating}"), data=f"r:rate:{report.id}:{code}")
                    for code, rating in CALLBACK_RATINGS.items()]]
        await self.notifier.enqueue(tx, Outgoing(
            leader, t(lang, "report_for.ask_rating", number=number(report.id), name=name,
                      contact=contact, title=await self.handler_title(report, lang),
                      note=report.resolution or ""),
            buttons=buttons, dedup_key=f"report:{report.id}:v{report.version}:call_back"))

    def rating_buttons(self, report: Report, lang: str) -> list[list[Button]]:
        return [[Button(t(lang, f"rating.{rating}"), data=f"r:rate:{report.id}:{code}")
                 for code, rating in RATINGS.items()]]

    async def reporter_reachable(self, report: Report) -> bool:
        user = await self.users.get(report.reporter_id)
        return user is not None and user.started and not user.unreachable

    def rating_request(self, report: Report, lang: str) -> Outgoing:
        """The request to rate a resolution, asked again (see ReportService.ask_missed_ratings)."""
        return Outgoing(report.reporter_id, t(lang, "report.told_resolved",
                                              number=number(report.id),
                                              note=report.resolution or ""),
                        buttons=self.rating_buttons(report, lang), ref=rating_ref(report))

    async def lang_of(self, user_id: int) -> str:
        return await self._lang(user_id)

    async def tell_supporters(self, tx: Tx, report: Report, key: str, *, actor: int | None,
                               ask_rating: bool) -> None:
        """Each supporter hears what the reporter hears (the same words: they name only the
        report, its handler and the resolution), with the rating buttons too."""
        if not report.supporters:
            return
        rung = await self.org.node(report.rung_node_id)
        assert rung is not None
        for supporter in await self.reports.supporters(report.id, tx):
            lang = await self._lang(supporter.user_id)
            text = t(lang, SUPPORTER_WORDS.get(key, key), number=number(report.id),
                     title=await self.handler_title(report, lang), node=rung.name,
                     name=await self.person(actor) if actor and actor != report.reporter_id
                     else "", note=report.resolution or "")
            await self.notifier.enqueue(tx, Outgoing(
                supporter.user_id, text,
                buttons=self.rating_buttons(report, lang) if ask_rating else None,
                dedup_key=f"report:{report.id}:v{report.version}:supporter:"
                          f"{supporter.user_id}:{key}"))

    async def tell_merged(self, tx: Tx, duplicate: Report, target: Report,
                          user_ids: list[int]) -> None:
        """The duplicate's reporter and supporters: their problem is followed in the other
        report now (its number only, never who filed it)."""
        for user_id in user_ids:
            lang = await self._lang(user_id)
            await self.notifier.enqueue(tx, Outgoing(
                user_id, t(lang, "metoo.told_merged", number=number(duplicate.id),
                           target=number(target.id), title=await self.handler_title(target, lang)),
                dedup_key=f"report:{duplicate.id}:merged:{user_id}"))
