"""The same problem reported twice: supporters (我也遇到) and merging duplicates.

A resident whose problem is already reported in their building joins that report as a
supporter instead of filing it again (the rule for "the same problem" is in
bot/reports/plaintext.py). Supporters hear of every change like the reporter and are
asked to rate; nobody ever learns who the others are. A leader may merge a duplicate
into another report: it closes as merged and its reporter becomes a supporter.
"""

from __future__ import annotations

from bot.core.errors import BadInput
from bot.core.i18n import number
from bot.reports.plaintext import SAME_PROBLEM_WINDOW, Match, same_problem
from bot.reports.reports import SUBJECT, ReportService, StaleAction
from storage.reports import Report


class SameProblems:
    def __init__(self, service: ReportService) -> None:
        self.service, self.repo, self.org = service, service.reports, service.org

    async def neighbourhood(self, node_id: int) -> list[int]:
        """The nodes whose reports count as "the same building": the building above (or at)
        ``node_id`` and everything under it; without a building level, the node's subtree."""
        ancestors = await self.org.ancestors(node_id)
        building = next((n for n in ancestors if n.level == "building"), ancestors[0])
        return [n.id for n in await self.org.subtree(building.id)]

    async def same_problem(self, user_id: int, node_id: int, category: str,
                           text: str) -> Match | None:
        """An open report of the same building that most likely is this problem, filed by
        someone else in the last 7 days (see bot/reports/plaintext.py for the rule)."""
        since = self.service.clock.now() - SAME_PROBLEM_WINDOW
        candidates = [r for r in await self.repo.open_since(
            await self.neighbourhood(node_id), since) if r.reporter_id != user_id]
        candidates = [r for r in candidates if not await self.repo.is_supporter(r.id, user_id)]
        return same_problem(category, text, candidates)

    async def support(self, user_id: int, node_id: int, report_id: int) -> Report:
        """我也遇到: the resident joins an open report of their building as a supporter."""
        report = await self.repo.get(report_id)
        if (report is None or not report.active or report.merged_into is not None
                or report.node_id not in await self.neighbourhood(node_id)):
            raise BadInput("metoo.gone")
        if report.reporter_id == user_id or await self.repo.is_supporter(report.id, user_id):
            raise BadInput("metoo.already", number=number(report.id))
        now = self.service.clock.now()
        async with self.service.db.write() as tx:
            if not await self.repo.add_supporters(tx, report.id, [user_id], "me_too", now):
                raise BadInput("metoo.already", number=number(report.id))
            changed = await self.repo.change(tx, report, now, supporters=report.supporters + 1)
            if changed is None:
                raise StaleAction(report)
            await self.repo.log(tx, report.id, now, user_id, "supported", report.state,
                                report.state, report.rung_node_id)
            await self.service.notices.refresh_prompts(tx, changed)
        self.service.notifier.kick()
        return changed

    async def merge_targets(self, user_id: int, report: Report) -> list[Report]:
        """Open reports of the same building this one may be merged into, likeliest first."""
        if not report.active or not await self.service.may_handle(user_id, report):
            return []
        since = report.created_at - SAME_PROBLEM_WINDOW
        others = [r for r in await self.repo.open_since(
            await self.neighbourhood(report.node_id), since) if r.id != report.id]
        ranked = []
        for other in others:
            if await self.service.may_see(user_id, other):
                match = same_problem(report.category, report.text + " " + (
                    report.transcript or ""), [other])
                ranked.append((match.shared if match else 0, other.id, other))
        ranked.sort(key=lambda e: (-e[0], -e[1]))
        return [r for _, _, r in ranked[:6]]

    async def merge(self, user_id: int, report_id: int, version: int | None,
                    target_id: int) -> tuple[Report, Report]:
        """A leader merges a duplicate into another report: the duplicate closes as merged,
        its reporter (and supporters) become supporters of the other and are told."""
        duplicate = await self.service.actionable(user_id, report_id, version)
        target = next((r for r in await self.merge_targets(user_id, duplicate)
                       if r.id == target_id), None)
        if target is None:
            raise BadInput("metoo.merge_target_gone")
        moved = [duplicate.reporter_id, *[s.user_id for s in
                                          await self.repo.supporters(duplicate.id)]]
        moved = [uid for uid in dict.fromkeys(moved) if uid != target.reporter_id]
        sent = await self.service.notices.sent_prompts(duplicate)
        now = self.service.clock.now()
        async with self.service.db.write() as tx:
            closed = await self.repo.change(tx, duplicate, now, state="closed",
                                            merged_into=target.id, closed_at=now)
            if closed is None:
                raise StaleAction(duplicate)
            await self.service.scheduler.deadlines.cancel(tx, SUBJECT, duplicate.id,
                                                          "acknowledge", "resolve", "rating")
            await self.repo.log(tx, duplicate.id, now, user_id, "merged", duplicate.state,
                                "closed", duplicate.rung_node_id, number(target.id))
            await self.repo.leave_out_of_assessment(tx, duplicate.id)  # one problem, counted once
            added = await self.repo.add_supporters(tx, target.id, moved, "merged", now)
            grown = await self.repo.change(tx, target, now, supporters=target.supporters + added)
            if grown is None:
                raise StaleAction(target)
            await self.repo.log(tx, target.id, now, user_id, "merged_in", target.state,
                                target.state, target.rung_node_id, number(duplicate.id))
            await self.service.notices.refresh_prompts(tx, closed, sent, {})
            await self.service.notices.refresh_prompts(tx, grown)
            await self.service.notices.tell_merged(tx, closed, grown, moved)
        self.service.notifier.kick()
        return closed, grown
