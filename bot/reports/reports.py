"""Reports (诉求) climbing the leader chain.

Small matters stay in the grid, big matters stay in the community, nothing is
pushed further up. A report sits at one rung of its chain: the reporter's
node's ancestors that have leaders (a level without leaders is skipped), or
with the partner that handles its category at the first rung. Deadlines per
rung move it one rung up when missed; at the top it is flagged overdue instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from bot.core.calendars import Calendars
from bot.core.clock import Clock
from bot.core.errors import BadInput, NotAllowed, NotFound
from bot.core.i18n import CATALOG, number, t
from bot.core.inputs import visible
from bot.core.notifier import Notifier, Outgoing
from bot.core.scheduler import Scheduler
from bot.core.timing import acknowledge_within, quiet_hours_end, resolve_within
from bot.core.workcal import Due
from bot.reports.notices import (
    CALLBACK_RATINGS,
    RATINGS,
    ReportNotices,
    Sent,
    current_handlers,
    rating_ref,
)
from config.settings import Settings
from storage.db import Database, Tx
from storage.deadlines import Deadline
from storage.org import ROLE_REMOVAL, Node, OrgRepo, Partner, RoleRemoval
from storage.owed import Owed
from storage.replies import ReplyRepo
from storage.reports import Report, ReportRepo
from storage.reports import Voice as Voice  # handlers take it from here
from storage.timeutil import from_db, to_db

log = logging.getLogger(__name__)

# what the reporter is told on filing, composed once the report has its number
Receipt = Callable[[Report], Awaitable[list[Outgoing]]]

SUBJECT = "report"
TEXT_MAX = 2000
NOTE_MAX = 1000
MAX_READY = 5  # configured common replies offered at once
ACTIVE = ("open", "acknowledged", "reopened")
DEFAULT_KEYWORDS: dict[str, list[str]] = {
    "safety": ["火", "燃气", "煤气", "漏电", "电线", "隐患", "危险", "消防", "fire", "gas",
               "danger"],
    "repair": ["坏", "漏水", "维修", "电梯", "路灯", "不亮", "堵", "水管", "门禁", "broken",
               "leak", "repair", "lift", "elevator"],
    "environment": ["垃圾", "卫生", "脏", "异味", "臭", "绿化", "garbage", "rubbish", "dirty"],
    "dispute": ["纠纷", "吵架", "矛盾", "占用", "噪音", "扰民", "noise", "dispute", "quarrel"],
    "service": ["办理", "证明", "咨询", "代办", "certificate", "apply"],
    "suggestion": ["建议", "希望", "提议", "suggest", "proposal"],
}


class StaleAction(BadInput):
    """The button belongs to an earlier state of the report."""

    def __init__(self, report: Report) -> None:
        super().__init__("report.stale")
        self.report = report


@dataclass(frozen=True, slots=True)
class Move:
    """A report going to another rung (or partner): why, and by whose doing (None: a
    deadline's)."""

    report: Report
    rung: Node
    partner: Partner | None
    action: str  # escalated, reassigned, recategorised, handed_over
    note: str | None
    actor: int | None = None
    behalf: int | None = None  # the absent leader the actor stands in for


@dataclass(frozen=True, slots=True)
class Draft:
    category: str
    text: str
    photo_file_id: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    voice: Voice | None = None


class ReportService:
    def __init__(self, settings: Settings, db: Database, clock: Clock, org: OrgRepo,
                 reports: ReportRepo, notifier: Notifier, scheduler: Scheduler,
                 notices: ReportNotices, replies: ReplyRepo, calendars: Calendars) -> None:
        self.settings, self.db, self.clock = settings, db, clock
        self.org, self.reports, self.notifier, self.scheduler = org, reports, notifier, scheduler
        self.notices, self.replies, self.calendars = notices, replies, calendars
        scheduler.on_batch(SUBJECT, self.on_deadlines, owed=self._tell_moved)
        scheduler.on(ROLE_REMOVAL, self.on_role_removed)

    # -- input ----------------------------------------------------------------------

    def check_text(self, text: str | None, *, photo: bool = False) -> str:
        cleaned = visible(text)
        if not cleaned:
            raise BadInput("report.photo_needs_text" if photo else "report.empty")
        if len(cleaned) > TEXT_MAX:
            raise BadInput("report.too_long", max=TEXT_MAX, length=len(cleaned))
        return cleaned

    def check_note(self, text: str | None) -> str:
        cleaned = visible(text)
        if not cleaned or len(cleaned) > NOTE_MAX:
            raise BadInput("report.note_invalid", max=NOTE_MAX)
        return cleaned

    def guess_category(self, text: str) -> str:
        keywords = self.settings.reports.keywords or DEFAULT_KEYWORDS
        lowered = text.lower()
        for category in self.settings.reports.categories:  # the configured order decides ties
            if any(word.lower() in lowered for word in keywords.get(category, [])):
                return category
        return "other"

    # -- the chain ------------------------------------------------------------------

    async def chain(self, node_id: int) -> list[Node]:
        """The rungs, bottom up: the node and its ancestors that have leaders."""
        rungs = []
        for node in await self.org.ancestors(node_id):
            if await self.org.leaders_of(node.id):
                rungs.append(node)
        return rungs

    async def partner_for(self, node_id: int, category: str) -> Partner | None:
        for node in await self.org.ancestors(node_id):
            for partner in await self.org.partners_of(node.id):
                if category in partner.categories and partner.user_ids:
                    return partner
        return None

    async def handlers(self, report: Report) -> list[int]:
        return await self.notices.handlers(report)

    async def may_handle(self, user_id: int, report: Report) -> bool:
        """Its handlers, an active stand-in of one of them, admins."""
        return (user_id in await current_handlers(self.org, report)
                or user_id in await self.handlers(report)
                or self.settings.is_bootstrap_admin(user_id))

    async def _behalf(self, user_id: int, report: Report) -> int | None:
        """The absent leader this user acts for on this report, if standing in."""
        return await self.notices.away.acting_for(user_id,
                                                  await current_handlers(self.org, report))

    async def may_see(self, user_id: int, report: Report) -> bool:
        """The reporter, the handling chain (leaders above the reporter, the partner), admins."""
        if user_id == report.reporter_id or await self.may_handle(user_id, report):
            return True
        return await self.org.leads_at_or_above(user_id, report.node_id)

    async def get(self, report_id: int) -> Report:
        report = await self.reports.get(report_id)
        if report is None:
            raise NotFound("report.not_found", number=number(report_id))
        return report

    async def visible(self, user_id: int, report_id: int) -> Report:
        """The report, if this user may see it; otherwise the same answer as for none."""
        report = await self.reports.get(report_id)
        if report is None or not await self.may_see(user_id, report):
            raise NotFound("report.not_yours", number=number(report_id))
        return report

    # -- filing ---------------------------------------------------------------------

    async def file(self, reporter_id: int, node_id: int, draft: Draft,
                   source_chat_id: int | None, receipt: Receipt | None = None,
                   filed_by: int | None = None) -> Report:
        """File a report. ``receipt`` composes what the reporter is told it got; that goes
        out in the same transaction, so a crash can lose neither the report nor the word.
        ``filed_by``: the leader filing it for a resident without Telegram."""
        text = self.check_text(draft.text)
        if draft.category not in self.settings.reports.categories:
            raise BadInput("report.unknown_category")
        rung, partner = await self._route(node_id, draft.category)
        now = self.clock.now()
        async with self.db.write() as tx:
            report = await self.reports.create(
                tx, reporter_id=reporter_id, node_id=node_id, category=draft.category, text=text,
                photo_file_id=draft.photo_file_id, latitude=draft.latitude,
                longitude=draft.longitude, source_chat_id=source_chat_id, rung_node_id=rung.id,
                partner_id=partner.id if partner else None, now=now, filed_by=filed_by,
                voice=draft.voice,
            )
            await self.reports.log(tx, report.id, now, filed_by or reporter_id, "filed", None,
                                   "open", rung.id, draft.category)
            dues = await self._arm_rung(tx, report, rung, now)
            for message in await receipt(report) if receipt else []:
                await self.notifier.enqueue(tx, message)
            await self.notices.prompt(tx, report, await self.handlers(report), dues)
        self.notifier.kick()
        return report

    async def _route(self, node_id: int, category: str) -> tuple[Node, Partner | None]:
        chain = await self.chain(node_id)
        partner = await self.partner_for(node_id, category)
        if chain:
            return chain[0], partner
        top = (await self.org.ancestors(node_id))[-1]  # nobody leads: wait at the top
        return top, partner

    async def _arm_rung(self, tx: Tx, report: Report, rung: Node,
                        start: datetime) -> dict[str, Due]:
        """Full deadlines of the rung from ``start``; returns when each falls due."""
        dues = await self._rung_dues(report, rung, start)
        await self.scheduler.arm_all(tx, [(SUBJECT, report.id, kind, due.at, due.deferred_by)
                                          for kind, due in dues.items()])
        return dues

    async def _rung_dues(self, report: Report, rung: Node, start: datetime) -> dict[str, Due]:
        """When a rung's deadlines from ``start`` fall due; the acknowledge clock waits out
        the night. Working-time deadlines ("2WD") are counted on the working calendar."""
        ack_start = start if report.category == "safety" else quiet_hours_end(self.settings, start)
        dues = {
            "acknowledge": await self.calendars.due(
                ack_start, acknowledge_within(self.settings, rung.level, report.category)),
            "resolve": await self.calendars.due(
                start, resolve_within(self.settings, rung.level, report.category)),
        }
        if dues["resolve"].at < dues["acknowledge"].at:
            dues["resolve"] = dues["acknowledge"]
        return dues

    # -- a handler's actions ----------------------------------------------------------

    async def actionable(self, user_id: int, report_id: int, version: int | None,
                          states: tuple[str, ...] = ACTIVE) -> Report:
        """The report, if this user may act on it in this state; else why not."""
        await self.scheduler.catch_up(SUBJECT, report_id)  # a move's messages come first
        report = await self.get(report_id)
        if not await self.may_handle(user_id, report):
            if await self.may_see(user_id, report) and report.state not in states:
                raise StaleAction(report)
            raise NotAllowed("report.not_handler")
        if (version is not None and version != report.version) or report.state not in states:
            raise StaleAction(report)
        return report

    async def acknowledge(self, user_id: int, report_id: int, version: int | None) -> Report:
        report = await self.actionable(user_id, report_id, version, ("open",))
        behalf = await self._behalf(user_id, report)
        sent, dues = await self._prompts_and_dues(report)
        dues.pop("acknowledge", None)
        now = self.clock.now()
        async with self.db.write() as tx:
            changed = await self.reports.change_queued(
                tx, report, now, StaleAction(report), state="acknowledged",
                owner_id=behalf or user_id, acknowledged_at=now)
            await self.scheduler.deadlines.cancel(tx, SUBJECT, report.id, "acknowledge")
            await self.reports.log(tx, report.id, now, user_id, "acknowledged", report.state,
                                   "acknowledged", report.rung_node_id, on_behalf_of=behalf)
            await self._after_change(tx, changed, "report.told_acknowledged", actor=user_id,
                                     sent=sent, dues=dues)
        self.notifier.kick()
        return changed

    async def _prompts_and_dues(self, report: Report) -> tuple[Sent, dict[str, Due]]:
        """What a change tells about, read before taking the writer so that its transaction
        only writes. Safe: both change only with the report's version, which the change
        checks (a prompt sent meanwhile keeps its old buttons, and a press on it is told
        the report moved on)."""
        sent, dues = await asyncio.gather(self.notices.sent_prompts(report),
                                          self.notices.dues(report))
        return sent, dues

    async def resolve(self, user_id: int, report_id: int, version: int | None,
                      note: str, photo: str | None = None) -> Report:
        """Resolved with a note, and perhaps a photo as proof (shown to the reporter)."""
        note = self.check_note(note)
        report = await self.actionable(user_id, report_id, version,
                                        ("open", "acknowledged", "reopened"))
        behalf = await self._behalf(user_id, report)
        sent = await self.notices.sent_prompts(report)  # read before taking the writer
        now = self.clock.now()
        async with self.db.write() as tx:
            changed = await self.reports.change_queued(
                tx, report, now, StaleAction(report), state="resolved", resolution=note,
                resolved_at=now, owner_id=report.owner_id or behalf or user_id,
                resolution_photo=photo,
                acknowledged_at=report.acknowledged_at or now,
            )
            await self.scheduler.deadlines.cancel(tx, SUBJECT, report.id, "acknowledge", "resolve")
            await self.scheduler.arm(tx, SUBJECT, report.id, "rating",
                                     now + self.settings.reports.rating_window)
            await self.reports.log(tx, report.id, now, user_id, "resolved", report.state,
                                   "resolved", report.rung_node_id, note, on_behalf_of=behalf)
            await self._after_change(tx, changed, "report.told_resolved", actor=user_id,
                                     ask_rating=True, sent=sent, dues={})
        self.notifier.kick()
        return changed

    # -- common replies -----------------------------------------------------------------

    async def common_replies(self, user_id: int, category: str,
                             lang: str) -> list[tuple[str, str]]:
        """(code, note) offered on 办结: the configured ones (else the catalog's), then the
        leader's own saved ones."""
        ready = self.settings.reports.replies.get(category)
        if ready is None:
            key = f"replies.default.{category}"
            ready = t(lang, key).split("\n") if CATALOG.has(key) else []
        saved = await self.replies.of(user_id, category)
        return ([(f"c{i}", text) for i, text in enumerate(ready[:MAX_READY])]
                + [(f"s{reply_id}", text) for reply_id, text in saved])

    async def common_reply(self, user_id: int, category: str, code: str, lang: str) -> str:
        for offered, text in await self.common_replies(user_id, category, lang):
            if offered == code:
                return text
        raise BadInput("error.stale_button")

    async def save_reply(self, user_id: int, report_id: int) -> tuple[Report, bool]:
        """The note this leader resolved the report with, kept for its category; False
        when it was kept already."""
        report = await self.get(report_id)
        resolved = [e for e in await self.reports.events(report.id) if e.action == "resolved"]
        if not resolved or resolved[-1].actor_id != user_id or not resolved[-1].note:
            raise NotAllowed("replies.not_yours")
        async with self.db.write() as tx:
            saved = await self.replies.save(tx, user_id, report.category, resolved[-1].note,
                                            self.clock.now())
        return report, saved

    async def can_escalate(self, report: Report) -> bool:
        return await self._next_rung(report) is not None

    async def escalate(self, user_id: int, report_id: int, version: int | None,
                       reason: str) -> Report:
        reason = self.check_note(reason)
        report = await self.actionable(user_id, report_id, version,
                                        ("open", "acknowledged", "reopened"))
        behalf = await self._behalf(user_id, report)
        async with self.db.write() as tx:
            if not await self._escalate(tx, report, user_id, reason, behalf):
                raise BadInput("report.top_of_chain")
        self.notifier.kick()
        return await self.get(report_id)

    async def reassign_targets(self, user_id: int, report: Report) -> list[Node]:
        """Rungs below the current one that a handler may hand the report down to."""
        if report.partner_id is not None or not await self.may_handle(user_id, report):
            return []
        chain = await self.chain(report.node_id)
        ids = [n.id for n in chain]
        if report.rung_node_id not in ids:
            return []
        return chain[: ids.index(report.rung_node_id)]

    async def reassign(self, user_id: int, report_id: int, version: int | None,
                       node_id: int) -> Report:
        report = await self.actionable(user_id, report_id, version,
                                        ("open", "acknowledged", "reopened"))
        target = next((n for n in await self.reassign_targets(user_id, report)
                       if n.id == node_id), None)
        if target is None:
            raise NotAllowed("report.reassign_not_below")
        behalf = await self._behalf(user_id, report)
        now = self.clock.now()
        async with self.db.write() as tx:
            await self._moves(tx, [Move(report, target, None, "reassigned", None, user_id,
                                        behalf)], now)
        self.notifier.kick()
        return await self.get(report_id)

    async def change_category(self, user_id: int, report_id: int, version: int | None,
                              category: str) -> Report:
        if category not in self.settings.reports.categories:
            raise BadInput("report.unknown_category")
        report = await self.actionable(user_id, report_id, version,
                                        ("open", "acknowledged", "reopened"))
        rung, partner = await self._route(report.node_id, category)
        behalf = await self._behalf(user_id, report)
        now = self.clock.now()
        async with self.db.write() as tx:
            changed = await self.reports.change(tx, report, now, category=category)
            if changed is None:
                raise StaleAction(report)
            await self._moves(tx, [Move(changed, rung, partner, "recategorised",
                                        f"{report.category} → {category}", user_id, behalf)],
                              now)
        self.notifier.kick()
        return await self.get(report_id)

    # -- the reporter's rating --------------------------------------------------------

    async def ask_missed_ratings(self, reporter_id: int) -> int:
        """A rating is never lost: every resolved report of this reporter whose rating
        request never reached them (no private chat yet, or the bot blocked) is asked
        again, now that they are here. Returns how many were asked."""
        waiting = [r for r in await self.reports.by_reporter(reporter_id)
                   if r.state == "resolved"]
        missed = [r for r in waiting
                  if not await self.notifier.outbox.delivered_or_due(rating_ref(r), reporter_id)]
        if not missed:
            return 0
        lang = await self.notices.lang_of(reporter_id)
        async with self.db.write() as tx:
            for report in sorted(missed, key=lambda r: r.id):
                await self.notifier.enqueue(tx, self.notices.rating_request(report, lang))
        self.notifier.kick()
        return len(missed)

    async def rate(self, user_id: int, report_id: int, code: str) -> Report:
        await self.scheduler.catch_up(SUBJECT, report_id)
        report = await self.reports.get(report_id)
        rating = (CALLBACK_RATINGS if report and report.filed_by is not None else RATINGS).get(code)
        if (rating in RATINGS.values() and report is not None and report.rater != user_id
                and await self.reports.is_supporter(report.id, user_id)):
            return await self._rate_as_supporter(user_id, report, rating)
        if rating is None or report is None or report.rater != user_id:
            raise NotAllowed("report.rate_not_yours")
        if report.state != "resolved":
            raise BadInput("report.rate_too_late")
        now = self.clock.now()
        async with self.db.write() as tx:
            await self.scheduler.deadlines.cancel(tx, SUBJECT, report.id, "rating")
            if rating == "unreachable":  # the call-back found nobody: closed, not rated
                closed = await self.reports.change(tx, report, now, state="closed",
                                                   rating="unrated", closed_at=now)
                if closed is None:
                    raise StaleAction(report)
                await self.reports.log(tx, report.id, now, user_id, "rated", "resolved",
                                       "closed", report.rung_node_id, rating)
                await self._after_change(tx, closed, None, actor=user_id)
            elif rating != "unsatisfied":
                closed = await self.reports.change(tx, report, now, state="closed",
                                                   rating=rating, closed_at=now)
                if closed is None:
                    raise StaleAction(report)
                await self.reports.log(tx, report.id, now, user_id, "rated", "resolved",
                                       "closed", report.rung_node_id, rating)
                # the rating message itself becomes the thanks: nothing more to the reporter;
                # the residents who had the same problem hear that it is closed
                await self._after_change(tx, closed, None, actor=user_id)
                await self.notices.tell_supporters(tx, closed, "report.told_closed",
                                                   actor=user_id, ask_rating=False)
            else:
                await self._unsatisfied(tx, report, user_id, now)
        self.notifier.kick()
        return await self.get(report_id)

    async def _rate_as_supporter(self, user_id: int, report: Report, rating: str) -> Report:
        """A supporter's rating is theirs (kept and logged); the reporter's decides the state."""
        if report.state not in ("resolved", "closed") or report.resolved_at is None:
            raise BadInput("report.rate_too_late")
        now = self.clock.now()
        async with self.db.write() as tx:
            if not await self.reports.rate_as_supporter(tx, report.id, user_id, rating):
                raise NotAllowed("report.rate_not_yours")
            await self.reports.log(tx, report.id, now, user_id, "rated_supporter", report.state,
                                   report.state, report.rung_node_id, rating)
        return report

    async def _unsatisfied(self, tx: Tx, report: Report, user_id: int, now: datetime) -> None:
        await self.reports.log(tx, report.id, now, user_id, "rated", "resolved", "reopened",
                               report.rung_node_id, "unsatisfied")
        reopened = await self.reports.change(tx, report, now, state="reopened",
                                             rating="unsatisfied",
                                             unsatisfied=report.unsatisfied + 1, resolved_at=None)
        if reopened is None:
            raise StaleAction(report)
        if report.unsatisfied >= 1 and await self._escalate(tx, reopened, user_id,
                                                            "unsatisfied"):
            return  # the second "unsatisfied" takes it one level up
        rung = await self.org.node(report.rung_node_id)
        assert rung is not None
        due = await self.calendars.due(now, resolve_within(self.settings, rung.level,
                                                           report.category))
        await self.scheduler.arm(tx, SUBJECT, report.id, "resolve", due.at, due.deferred_by)
        await self.reports.log(tx, report.id, now, None, "reopened", "resolved", "reopened",
                               report.rung_node_id)
        await self._after_change(tx, reopened, None, actor=user_id, prompt_again=True)
        await self.notices.tell_supporters(tx, reopened, "report.told_reopened", actor=user_id,
                                           ask_rating=False)

    async def complain(self, user_id: int, report_id: int, text: str) -> Report:
        """The reporter says why they were not satisfied: logged, shown on the card (the
        reason it came back) and told to whoever handles it now."""
        reason = self.check_note(text)
        await self.scheduler.catch_up(SUBJECT, report_id)
        report = await self.reports.get(report_id)
        if report is None or report.rater != user_id or not report.active:
            raise NotAllowed("report.rate_not_yours")
        now = self.clock.now()
        async with self.db.write() as tx:
            await self.reports.log(tx, report.id, now, user_id, "complained", report.state,
                                   report.state, report.rung_node_id, reason)
            await self.notices.refresh_prompts(tx, report)
            await self.notices.tell_complaint(tx, report, await self.handlers(report), reason)
        self.notifier.kick()
        return report

    async def refresh(self, report_ids: list[int]) -> None:
        """Bring the leaders' prompts of these reports up to date (after /forget made
        them anonymous)."""
        for report_id in report_ids:
            async with self.db.write() as tx:
                report = await self.reports.get(report_id, tx)
                if report is not None:
                    await self.notices.refresh_prompts(tx, report)
        self.notifier.kick()

    # -- deadlines --------------------------------------------------------------------

    async def _read_ahead(self, tx: Tx, report_ids: list[int]) -> None:
        """These reports, their sent prompts and the leaders away, read in one go."""
        await asyncio.gather(self.reports.preload(tx, report_ids),
                             self.notices.read_sent_ahead(tx, report_ids),
                             self.notices.away.read_ahead(tx))

    async def _tell_moved(self, tx: Tx, owed: list[Owed]) -> None:
        """What deadlines' moves owe (recorded by ``_move``): the leaders before and after, and the
        reporter, told (the report as it stands now: an action on it since would have
        caught up first)."""
        await self._read_ahead(tx, [item.subject_id for item in owed])
        for item in owed:
            report = await self.reports.get(item.subject_id, tx)
            if report is None:
                continue
            told = item.payload
            dues = {kind: Due(at, tuple(deferred)) for kind, (text, deferred)
                    in told["dues"].items() if (at := from_db(text)) is not None}
            await self.notices.moved(tx, report, told["old"], told["new"], told["note"],
                                     told["actor"], dues)

    async def on_deadlines(self, tx: Tx, deadlines: list[Deadline]) -> None:
        """Missed deadlines of reports, a batch due together (one per report) or one. What
        they read is read for the lot, and the reports they move up move together: a
        statement per table for the batch (see bot/core/scheduler.py)."""
        if len(deadlines) > 1:  # not their prompts: a move tells later (``_moves``)
            await asyncio.gather(self.reports.preload(tx, [d.subject_id for d in deadlines]),
                                 self.notices.away.read_ahead(tx))
        now = self.clock.now()
        moves = []
        rungs: dict[tuple[int, int, int | None], Node | None] = {}  # reports alike, once
        for deadline in deadlines:
            report = await self.reports.get(deadline.subject_id, tx)
            if report is None:
                continue
            if deadline.kind == "rating" and report.state == "resolved":
                closed = await self.reports.change(tx, report, now, state="closed",
                                                   rating="unrated", closed_at=now)
                assert closed is not None  # read in this transaction
                await self.reports.log(tx, report.id, now, None, "closed_unrated", "resolved",
                                       "closed", report.rung_node_id)
                await self._after_change(tx, closed, "report.told_closed_unrated", actor=None)
            elif deadline.kind == "acknowledge" and report.state == "open" or (
                deadline.kind == "resolve" and report.active
            ):
                reason = f"missed:{deadline.kind}"
                alike = (report.node_id, report.rung_node_id, report.partner_id)
                if alike not in rungs:
                    rungs[alike] = await self._next_rung(report)
                target = rungs[alike]
                if target is None:  # at the top of the chain
                    await self._flag_overdue(tx, report, reason)
                else:
                    moves.append(Move(report, target, None, "escalated", reason))
        await self._moves(tx, moves, now, tell_later=True)

    # -- someone's role ended --------------------------------------------------------

    async def on_role_removed(self, tx: Tx, deadline: Deadline) -> None:
        """A leader left a node, or a member a partner: what they held is handed on."""
        removal = await self.org.removal(deadline.subject_id, tx)
        if removal is None:
            return
        for report in await self.reports.held_in_role(tx, removal.user_id, removal.node_id,
                                                      removal.partner_id):
            await self.scheduler.catch_up(SUBJECT, report.id, tx)
            await self._hand_over(tx, report, removal)

    async def _hand_over(self, tx: Tx, report: Report, removal: RoleRemoval) -> None:
        """To the others holding the same role (prompted afresh, the rung's clock restarted),
        else one rung up (or, at the top, the nearest rung below that has leaders)."""
        holders = await self.handlers(report)  # the removed person is no longer among them
        if holders and report.owner_id != removal.user_id:
            await self.notices.refresh_prompts(tx, report)  # their prompt loses its buttons
            return
        note = "partner_member_removed" if removal.partner_id is not None else "leader_removed"
        now = self.clock.now()
        if holders:
            rung = await self.org.node(report.rung_node_id)
            partner = await self.org.partner(report.partner_id) if report.partner_id else None
            assert rung is not None
            await self._moves(tx, [Move(report, rung, partner, "handed_over", note)], now)
            return
        target = await self._rung_after_removal(report)
        if target is None:  # nobody leads anywhere on its chain: it waits where it is
            await self.notices.refresh_prompts(tx, report)
            return
        await self._moves(tx, [Move(report, target, None, "handed_over", note)], now)

    async def _rung_after_removal(self, report: Report) -> Node | None:
        chain = await self.chain(report.node_id)
        if report.partner_id is not None:
            return chain[0] if chain else None
        order = [n.id for n in await self.org.ancestors(report.node_id)]
        here = order.index(report.rung_node_id) if report.rung_node_id in order else len(order)
        above = [n for n in chain if order.index(n.id) > here]
        below = [n for n in chain if order.index(n.id) < here]
        return above[0] if above else below[-1] if below else None

    async def _next_rung(self, report: Report) -> Node | None:
        chain = await self.chain(report.node_id)
        ids = [n.id for n in chain]
        if report.partner_id is not None and chain:
            return chain[0]  # a partner that misses a deadline hands over to the first leader
        if report.rung_node_id in ids and ids.index(report.rung_node_id) + 1 < len(chain):
            return chain[ids.index(report.rung_node_id) + 1]
        return None

    async def _escalate(self, tx: Tx, report: Report, actor: int | None, reason: str,
                        behalf: int | None = None) -> bool:
        """One rung up; False at the top of the chain, where nothing goes further."""
        target = await self._next_rung(report)
        if target is None:
            return False
        await self._moves(tx, [Move(report, target, None, "escalated", reason, actor, behalf)],
                          self.clock.now())
        return True

    async def _flag_overdue(self, tx: Tx, report: Report, reason: str) -> None:
        """Overdue at the top: flagged 超期 once; the daily digest reminds the community."""
        if report.overdue:
            return
        now = self.clock.now()
        await self.reports.change(tx, report, now, overdue=1)
        await self.reports.log(tx, report.id, now, None, "overdue", report.state, report.state,
                               report.rung_node_id, reason)

    async def _moves(self, tx: Tx, moves: list[Move], now: datetime, *,
                     tell_later: bool = False) -> None:
        """Reports to their new rungs (one leader's 上报, or a batch of missed deadlines'),
        a statement per table for the lot. ``tell_later``: what the moves tell is owed (a
        deadline's: see bot/core/scheduler), done right after the batch they are in."""
        if not moves:
            return
        handlers = self.notices.handlers_alike(tx)
        before = [await handlers(m.report) for m in moves]
        moved = await self.reports.change_all_queued(  # not waited for
            tx, [(m.report, {"rung_node_id": m.rung.id,
                             "partner_id": m.partner.id if m.partner else None,
                             "state": "open", "owner_id": None, "rung_since": now,
                             "acknowledged_at": None}) for m in moves],
            now, StaleAction(moves[0].report))
        await self.scheduler.deadlines.cancel_all(tx, SUBJECT, [r.id for r in moved],
                                                  "acknowledge", "resolve")
        dues: list[dict[str, Due]] = []
        dues_of: dict[tuple[str, str], dict[str, Due]] = {}  # by rung level and category
        for m in moves:
            key = (m.rung.level, m.report.category)
            if key not in dues_of:
                dues_of[key] = await self._rung_dues(m.report, m.rung, now)
            dues.append(dues_of[key])
        await self.scheduler.arm_all(tx, [  # the only ones armed now
            (SUBJECT, report.id, kind, due.at, due.deferred_by)
            for report, rung_dues in zip(moved, dues, strict=True)
            for kind, due in rung_dues.items()])
        await self.reports.log_all(tx, now, [
            (m.report.id, m.actor, m.action, m.report.state, "open", m.rung.id, m.note, m.behalf)
            for m in moves])
        after = [await handlers(report) for report in moved]
        told = list(zip(moves, moved, dues, before, after, strict=True))
        if tell_later:  # read back by _tell_moved
            await self.scheduler.owe(tx, SUBJECT, "moved", [
                (report.id, {"old": old, "new": new, "note": m.note, "actor": m.actor,
                             "dues": {kind: [to_db(due.at), list(due.deferred_by)]
                                      for kind, due in rung_dues.items()}})
                for m, report, rung_dues, old, new in told])
            return
        for m, report, rung_dues, old, new in told:
            await self.notices.moved(tx, report, old, new, m.note, m.actor, rung_dues)

    async def _after_change(self, tx: Tx, report: Report, reporter_key: str | None, *,
                            actor: int | None, ask_rating: bool = False,
                            prompt_again: bool = False, sent: Sent | None = None,
                            dues: dict[str, Due] | None = None) -> None:
        """Tell everyone concerned of the report as it now stands (``sent``, ``dues``: its
        prompts and deadlines, if read before)."""
        await self.notices.refresh_prompts(tx, report, sent, dues)
        if report.state == "closed":
            await self.notices.tell_closed(tx, report)
        if prompt_again:
            await self.notices.prompt(tx, report, await self.handlers(report))
        if reporter_key is not None:
            await self.notices.tell_reporter(tx, report, reporter_key, actor=actor,
                                             ask_rating=ask_rating)
