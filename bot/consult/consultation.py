"""Consultation (恳谈睦邻), part one: topic proposals and the polls that pick them.

Residents propose topics for their node and support others' (+1, once). Leaders
see the open proposals of their scope, merge duplicates, decline with a reason,
and put 2–12 of them to a Telegram poll in a bound chat. Only residents of the
chat's node count; the poll closes at a deadline of the one scheduler (so it
survives restarts and tallies once) and the ranked result is posted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.clock import Clock
from bot.core.errors import BadInput, NotAllowed, NotFound
from bot.core.i18n import Markup, esc, number, pick_language, t
from bot.core.inputs import one_line
from bot.core.notifier import Delivery, Notifier, Outgoing
from bot.core.scheduler import Scheduler
from bot.core.timing import local_time
from bot.org.org import OrgService
from config.settings import Settings
from storage.consultation import ConsultationRepo, Proposal, TopicPoll
from storage.db import Database, Tx
from storage.deadlines import Deadline
from storage.org import Chat, Node, OrgRepo
from storage.outbox import OutboxRow
from storage.users import UserRepo

POLL_SUBJECT = "topic_poll"
TEXT_MAX = 300
REASON_MAX = 300
POLL_MIN, POLL_MAX = 2, 12
OPTION_MAX = 100  # Telegram's limit for a poll option, in UTF-16 code units
POLL_REF = re.compile(r"^tpoll:(\d+)$")


def shorten(text: str, limit: int = OPTION_MAX) -> str:
    """Cut to ``limit`` UTF-16 code units (what Telegram counts), marking the cut."""
    def units(s: str) -> int:
        return len(s.encode("utf-16-le")) // 2

    if units(text) <= limit:
        return text
    out, used = [], 1  # room for the ellipsis
    for ch in text:
        if used + units(ch) > limit:
            break
        out.append(ch)
        used += units(ch)
    return "".join(out) + "…"


@dataclass(frozen=True, slots=True)
class Ranked:
    proposal: Proposal
    votes: int


AGENDA_FROM_POLL = 5  # a closed poll's top topics (with votes) make a meeting's agenda


def agenda_winners(ranked: list[Ranked]) -> list[Ranked]:
    """The topics of a poll that go on the agenda of the meeting that follows it."""
    return [r for r in ranked if r.votes > 0][:AGENDA_FROM_POLL]


class ConsultationService:
    def __init__(self, settings: Settings, db: Database, clock: Clock, org: OrgService,
                 repo: ConsultationRepo, users: UserRepo, notifier: Notifier,
                 scheduler: Scheduler) -> None:
        self.settings, self.db, self.clock, self.org = settings, db, clock, org
        self.repo, self.users, self.notifier, self.scheduler = repo, users, notifier, scheduler
        self.tree: OrgRepo = org.org
        scheduler.on(POLL_SUBJECT, self._on_deadline)
        notifier.on_finished("tpoll:", self._poll_sent)

    async def lang_of(self, user_id: int) -> str:
        user = await self.users.get(user_id)
        if user is None:
            return self.settings.language
        return pick_language(user.language, user.language_code, self.settings.language)

    async def name_of(self, user_id: int) -> str:
        names = await self.tree.leaders_named(user_id)
        if names:
            return names[0]
        user = await self.users.get(user_id)
        return user.display_name if user else str(user_id)

    # -- scope ------------------------------------------------------------------------

    async def is_under(self, node_id: int, root_id: int) -> bool:
        return any(n.id == root_id for n in await self.tree.ancestors(node_id))

    async def scope(self, user_id: int) -> list[Node]:
        """The nodes a leader looks after: their subtrees (everything for admins)."""
        if self.org.is_admin(user_id):
            return await self.tree.all_nodes()
        led = await self.tree.led_nodes(user_id)
        if not led:
            raise NotAllowed("consult.leaders_only")
        seen: dict[int, Node] = {}
        for node in led:
            for n in await self.tree.subtree(node.id):
                seen[n.id] = n
        return list(seen.values())

    async def require_leader(self, user_id: int) -> None:
        if not (await self.org.roles(user_id)).leader:
            raise NotAllowed("consult.leaders_only")

    async def managed(self, user_id: int, node_id: int) -> Node:
        node = await self.tree.node(node_id)
        if node is None or not await self.org.may_manage(user_id, node):
            raise NotAllowed("consult.not_your_scope")
        return node

    async def bound_chat(self, chat_id: int) -> tuple[Chat, Node]:
        chat = await self.tree.chat(chat_id)
        if chat is None or chat.node_id is None or not chat.active:
            raise BadInput("org.chat_not_bound")
        node = await self.tree.node(chat.node_id)
        assert node is not None
        return chat, node

    async def chat_in_scope(self, user_id: int, key: str | None) -> int:
        """For a leader in private: the bound chat of node KEY, or their scope's only one."""
        await self.require_leader(user_id)
        by_node = await self.tree.chats_by_node()
        if key is not None:
            node = await self.org.node(key)
            await self.managed(user_id, node.id)
            chats = [c for c in by_node.get(node.id, []) if c.active]
            if not chats:
                raise BadInput("consult.node_has_no_chat", node=node.name)
            return chats[0].chat_id
        options = [(n, c) for n in await self.scope(user_id) for c in by_node.get(n.id, [])
                   if c.active]
        if len(options) == 1:
            return options[0][1].chat_id
        raise BadInput("consult.pick_chat",
                       keys="、".join(sorted(n.key for n, _ in options)) or "—")

    # -- proposals --------------------------------------------------------------------

    async def propose(self, user_id: int, text: str, chat_id: int | None) -> Proposal:
        cleaned = one_line(text)
        if not cleaned:
            raise BadInput("consult.propose_usage")
        if len(cleaned) > TEXT_MAX:
            raise BadInput("consult.propose_too_long", max=TEXT_MAX, length=len(cleaned))
        resident = await self.tree.resident(user_id)
        if resident is None:
            raise BadInput("consult.join_first")
        now = self.clock.now()
        async with self.db.write() as tx:
            proposal_id = await self.repo.propose(tx, resident.node_id, user_id, cleaned,
                                                  chat_id, now)
        return await self.proposal(proposal_id)

    async def proposal(self, proposal_id: int) -> Proposal:
        proposal = await self.repo.proposal(proposal_id)
        if proposal is None:
            raise NotFound("consult.no_topic", number=number(proposal_id))
        return proposal

    async def support(self, user_id: int, proposal_id: int) -> tuple[Proposal, bool]:
        """+1 from a resident, once; returns the proposal and whether this was new."""
        proposal = await self.proposal(proposal_id)
        if await self.tree.resident(user_id) is None:
            raise NotAllowed("consult.support_residents")
        if not await self.org.lives_under(user_id, proposal.node_id):
            node = await self.tree.node(proposal.node_id)
            raise NotAllowed("consult_rights.support_not_here", number=number(proposal.id),
                             node=node.name if node else "")
        if proposal.state != "open":
            raise BadInput("consult.topic_closed", number=number(proposal.id))
        async with self.db.write() as tx:
            added = await self.repo.support(tx, proposal.id, user_id, self.clock.now())
        return await self.proposal(proposal_id), added

    async def open_topics(self, user_id: int) -> list[Proposal]:
        return await self.repo.open_proposals([n.id for n in await self.scope(user_id)])

    async def merge(self, user_id: int, duplicate_id: int, into_id: int) -> Proposal:
        duplicate, target = await self.proposal(duplicate_id), await self.proposal(into_id)
        await self.managed(user_id, duplicate.node_id)
        await self.managed(user_id, target.node_id)
        if duplicate.id == target.id or target.state != "open":
            raise BadInput("consult.merge_target_invalid")
        now = self.clock.now()
        async with self.db.write() as tx:
            if not await self.repo.set_proposal_state(tx, duplicate.id, ("open",), "merged", now,
                                                      merged_into=target.id):
                raise BadInput("consult.topic_closed", number=number(duplicate.id))
            await self.repo.move_supports(tx, duplicate.id, target.id, now)
            lang = await self.lang_of(duplicate.proposer_id)
            await self.notifier.enqueue(tx, Outgoing(
                duplicate.proposer_id,
                t(lang, "consult.told_merged", number=number(duplicate.id),
                  into=number(target.id), text=target.text),
                dedup_key=f"topic:{duplicate.id}:merged"))
        self.notifier.kick()
        return await self.proposal(target.id)

    async def decline(self, user_id: int, proposal_id: int, reason: str) -> Proposal:
        proposal = await self.proposal(proposal_id)
        await self.managed(user_id, proposal.node_id)
        reason = one_line(reason)
        if not reason or len(reason) > REASON_MAX:
            raise BadInput("consult.reason_invalid", max=REASON_MAX)
        now = self.clock.now()
        async with self.db.write() as tx:
            if not await self.repo.set_proposal_state(tx, proposal.id, ("open",), "declined", now,
                                                      decline_reason=reason):
                raise BadInput("consult.topic_closed", number=number(proposal.id))
            lang = await self.lang_of(proposal.proposer_id)
            await self.notifier.enqueue(tx, Outgoing(
                proposal.proposer_id,
                t(lang, "consult.told_declined", number=number(proposal.id), text=proposal.text,
                  reason=reason),
                dedup_key=f"topic:{proposal.id}:declined"))
        self.notifier.kick()
        return await self.proposal(proposal.id)

    # -- topic polls ------------------------------------------------------------------

    async def open_poll(self, user_id: int, chat_id: int, thread_id: int | None,
                        proposal_ids: list[int], closes_at: datetime) -> TopicPoll:
        await self.require_leader(user_id)
        ids = list(dict.fromkeys(proposal_ids))
        if not POLL_MIN <= len(ids) <= POLL_MAX:
            raise BadInput("consult.poll_count", count=len(ids), min=POLL_MIN, max=POLL_MAX)
        now = self.clock.now()
        if closes_at <= now:
            raise BadInput("consult.poll_past",
                           at=local_time(self.settings, self.settings.language, closes_at))
        chat, node = await self.bound_chat(chat_id)
        await self.managed(user_id, node.id)
        proposals = [await self.proposal(pid) for pid in ids]
        for p in proposals:
            if p.state != "open":
                raise BadInput("consult.topic_closed", number=number(p.id))
            if not await self.is_under(p.node_id, node.id):
                raise BadInput("consult.topic_outside", number=number(p.id), node=node.name)
        async with self.db.write() as tx:
            poll_id = await self.repo.create_poll(tx, node.id, chat.chat_id, thread_id, user_id,
                                                  closes_at, ids, now)
            for p in proposals:
                await self.repo.set_proposal_state(tx, p.id, ("open",), "polled", now)
            await self.scheduler.arm(tx, POLL_SUBJECT, poll_id, "close", closes_at)
            await self._post_poll(tx, poll_id, chat.chat_id, thread_id, node, proposals,
                                  closes_at)
        self.notifier.kick()
        poll = await self.repo.poll(poll_id)
        assert poll is not None
        return poll

    async def _post_poll(self, tx: Tx, poll_id: int, chat_id: int, thread_id: int | None,
                         node: Node, proposals: list[Proposal], closes_at: datetime) -> None:
        lang = self.settings.language
        lines = [t(lang, "consult.poll_line", index=i + 1, number=number(p.id), text=p.text)
                 for i, p in enumerate(proposals)]
        await self.notifier.enqueue(tx, Outgoing(
            chat_id, t(lang, "consult.poll_intro", poll=number(poll_id), node=node.name,
                       at=local_time(self.settings, lang, closes_at),
                       lines=Markup("\n".join(lines))),
            thread_id=thread_id, dedup_key=f"tpoll:{poll_id}:intro"))
        options = [esc(shorten(f"{number(p.id)} {p.text}")) for p in proposals]
        await self.notifier.enqueue(tx, Outgoing(
            chat_id, method="send_poll", thread_id=thread_id, ref=f"tpoll:{poll_id}",
            poll={"question": t(lang, "consult.poll_question", poll=number(poll_id)),
                  "options": options, "multiple": True},
            dedup_key=f"tpoll:{poll_id}:poll"))

    async def _poll_sent(self, tx: Tx, row: OutboxRow, delivery: Delivery,
                         extra: dict[str, Any]) -> None:
        match = POLL_REF.match(row.ref or "")
        if match and delivery.status == "sent" and extra.get("poll_id") and delivery.message_ids:
            await self.repo.posted(tx, int(match.group(1)), str(extra["poll_id"]),
                                   delivery.message_ids[0])

    async def vote(self, user_id: int, tg_poll_id: str, option_ids: list[int]) -> bool | None:
        """Follow a vote (changed or retracted); True if it counts, None if not our poll."""
        poll = await self.repo.poll_by_tg(tg_poll_id)
        if poll is None or poll.state != "open":
            return None
        resident = await self.tree.resident(user_id)
        counted = resident is not None and await self.is_under(resident.node_id, poll.node_id)
        async with self.db.write() as tx:
            await self.repo.record_vote(tx, poll.id, user_id, sorted(set(option_ids)), counted,
                                        self.clock.now())
            if not counted and option_ids:
                node = await self.tree.node(poll.node_id)
                lang = await self.lang_of(user_id)
                await self.notifier.enqueue(tx, Outgoing(
                    user_id, t(lang, "consult.vote_not_counted", poll=number(poll.id),
                               node=node.name if node else ""),
                    dedup_key=f"tpoll:{poll.id}:outsider:{user_id}"))
        self.notifier.kick()
        return counted

    async def stop_poll(self, user_id: int, poll_id: int) -> TopicPoll:
        poll = await self.repo.poll(poll_id)
        if poll is None:
            raise NotFound("consult.no_poll", poll=number(poll_id))
        await self.managed(user_id, poll.node_id)
        async with self.db.write() as tx:
            if not await self._close(tx, poll):
                raise BadInput("consult.poll_already_closed", number=number(poll.id))
        self.notifier.kick()
        closed = await self.repo.poll(poll_id)
        assert closed is not None
        return closed

    async def _on_deadline(self, tx: Tx, deadline: Deadline) -> None:
        poll = await self.repo.poll(deadline.subject_id, tx)
        if poll is not None:
            await self._close(tx, poll)

    async def _close(self, tx: Tx, poll: TopicPoll) -> bool:
        """Stop the poll, tally the counted votes, post the ranked result: once."""
        if not await self.repo.close_poll(tx, poll.id, self.clock.now()):
            return False
        await self.scheduler.deadlines.cancel(tx, POLL_SUBJECT, poll.id)
        if poll.message_id is not None:
            await self.notifier.enqueue(tx, Outgoing(
                poll.chat_id, method="stop_poll", message_id=poll.message_id,
                dedup_key=f"tpoll:{poll.id}:stop"))
        ranked = await self.ranking(poll.id, tx)
        voters = sum(1 for chosen in await self.repo.counted_votes(poll.id, tx) if chosen)
        lang = self.settings.language
        lines = [t(lang, "consult.result_line", rank=i + 1, number=number(r.proposal.id),
                   text=r.proposal.text, votes=r.votes) for i, r in enumerate(ranked)]
        chosen = agenda_winners(ranked)
        lines.append(t(lang, "consult.result_agenda", numbers="、".join(
            number(r.proposal.id) for r in chosen)) if chosen
            else t(lang, "consult.result_no_agenda"))
        await self.notifier.enqueue(tx, Outgoing(
            poll.chat_id, t(lang, "consult.result", poll=number(poll.id), voters=voters,
                            lines=Markup("\n".join(lines))),
            thread_id=poll.thread_id, dedup_key=f"tpoll:{poll.id}:result"))
        return True

    async def ranking(self, poll_id: int, tx: Tx | None = None) -> list[Ranked]:
        """Proposals by counted votes, most first; ties keep the poll's order."""
        proposal_ids = await self.repo.options(poll_id, tx)
        counts = [0] * len(proposal_ids)
        for chosen in await self.repo.counted_votes(poll_id, tx):
            for position in chosen:
                if 0 <= position < len(counts):
                    counts[position] += 1
        order = sorted(range(len(proposal_ids)), key=lambda i: (-counts[i], i))
        ranked = []
        for i in order:
            proposal = await self.repo.proposal(proposal_ids[i], tx)
            assert proposal is not None
            ranked.append(Ranked(proposal, counts[i]))
        return ranked
