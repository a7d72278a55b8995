"""最美家庭 (most beautiful family): a leader opens nominations for their scope, residents
nominate a household with a reason, the leader opens the vote (one vote per resident
of the scope), and the result is posted with the winners."""

from __future__ import annotations

import re

from bot.core.clock import Clock
from bot.core.errors import BadInput, NotAllowed, NotFound
from bot.core.i18n import Markup, t
from bot.core.inputs import visible
from bot.core.notifier import Button, Notifier, Outgoing
from bot.org.audience import bound_chats, scope_of
from bot.org.org import OrgService
from config.settings import Settings
from storage.db import Database, Tx
from storage.families import FamilyRepo, Nomination, Selection

WINNERS = 3
HOUSEHOLD_MAX, REASON_MAX, TITLE_MAX = 40, 300, 40
_SPLIT = re.compile(r"[:：，,]|\s")


class FamilyService:
    def __init__(self, settings: Settings, db: Database, clock: Clock, org: OrgService,
                 repo: FamilyRepo, notifier: Notifier) -> None:
        self.settings, self.db, self.clock, self.org = settings, db, clock, org
        self.repo, self.notifier = repo, notifier

    async def _chats(self, tx: Tx, selection: Selection, key: str,
                     buttons: list[list[Button]] | None = None, **params: object) -> None:
        lang = self.settings.language  # group chats read the deployment's language
        for chat in await bound_chats(self.org.org, selection.node_id):
            await self.notifier.enqueue(tx, Outgoing(
                chat.chat_id, t(lang, key, title=selection.title, **params), buttons=buttons,
                dedup_key=f"fm:{selection.id}:{key}:{chat.chat_id}", bulk=True))

    def leader_buttons(self, selection: Selection, lang: str) -> list[list[Button]]:
        if selection.state == "nominating":
            return [[Button(t(lang, "family.btn_open_vote"), data=f"fm:v:{selection.id}")]]
        if selection.state == "voting":
            return [[Button(t(lang, "family.btn_close"), data=f"fm:r:{selection.id}")]]
        return []

    # -- nominations ----------------------------------------------------------------

    async def open(self, user_id: int, request: str, lang: str, reply_to: int) -> Selection:
        words = request.split(maxsplit=1)
        key = None
        if words and words[0].startswith("@"):
            key, request = words[0][1:], words[1] if len(words) > 1 else ""
        node = await scope_of(self.org, user_id, key)
        if not await bound_chats(self.org.org, node.id):
            raise BadInput("family.no_chats", node=node.name)
        title = " ".join(request.split()) or t(self.settings.language, "family.default_title",
                                               year=self.clock.now().year)
        if len(title) > TITLE_MAX:
            raise BadInput("too_long.family_title", max=TITLE_MAX, length=len(title))
        async with self.db.write() as tx:
            selection_id = await self.repo.create(tx, user_id, node.id, title, self.clock.now())
            selection = await self.repo.get(selection_id, tx)
            assert selection is not None
            await self.notifier.enqueue(tx, Outgoing(
                reply_to, t(lang, "family.opened", title=title, node=node.name),
                buttons=self.leader_buttons(selection, lang)))
            await self._chats(tx, selection, "family.announce", node=node.name)
        self.notifier.kick()
        return selection

    def parse_nomination(self, text: str) -> tuple[str, str]:
        parts = _SPLIT.split(visible(text), maxsplit=1)
        household = visible(parts[0]) if parts else ""
        reason = visible(parts[1]) if len(parts) > 1 else ""
        if not household or not reason:
            raise BadInput("family.nominate_usage")
        if len(household) > HOUSEHOLD_MAX:
            raise BadInput("too_long.household", max=HOUSEHOLD_MAX, length=len(household))
        if len(reason) > REASON_MAX:
            raise BadInput("too_long.nomination_reason", max=REASON_MAX, length=len(reason))
        return household, reason

    async def nominate(self, user_id: int, text: str) -> tuple[Selection, str, bool]:
        resident = await self.org.org.resident(user_id)
        if resident is None:
            raise NotAllowed("family.residents_only")
        above = [n.id for n in await self.org.org.ancestors(resident.node_id)]
        selection = await self.repo.open_for(above, "nominating")
        if selection is None:
            raise BadInput("family.no_open")
        household, reason = self.parse_nomination(text)
        async with self.db.write() as tx:
            _, replaced = await self.repo.nominate(tx, selection.id, user_id, household, reason,
                                                   self.clock.now())
        return selection, household, replaced

    # -- the vote -------------------------------------------------------------------

    async def _managed(self, user_id: int, selection_id: int) -> Selection:
        selection = await self.repo.get(selection_id)
        if selection is None:
            raise NotFound()
        node = await self.org.org.node(selection.node_id)
        if node is None or not await self.org.may_manage(user_id, node):
            raise NotAllowed()
        return selection

    async def open_vote(self, user_id: int, selection_id: int) -> Selection:
        selection = await self._managed(user_id, selection_id)
        nominations = await self.repo.nominations(selection.id)
        if not nominations:
            raise BadInput("family.no_nominations")
        async with self.db.write() as tx:
            if not await self.repo.move(tx, selection.id, "nominating", "voting",
                                        self.clock.now()):
                raise BadInput("family.wrong_state")
            lang = self.settings.language
            lines = [t(lang, "family.ballot_line", n=i, household=n.household, reason=n.reason)
                     for i, n in enumerate(nominations, start=1)]
            buttons = [[Button(t(lang, "family.btn_vote", n=i, household=n.household[:12]),
                               data=f"fm:x:{selection.id}:{n.id}")]
                       for i, n in enumerate(nominations[:20], start=1)]
            await self._chats(tx, selection, "family.ballot", buttons=buttons,
                              lines=Markup("\n".join(lines)))
            moved = await self.repo.get(selection.id, tx)
        self.notifier.kick()
        assert moved is not None
        return moved

    async def vote(self, user_id: int, selection_id: int, nomination_id: int) -> str:
        selection = await self.repo.get(selection_id)
        if selection is None or selection.state != "voting":
            raise BadInput("family.vote_closed")
        if nomination_id not in {n.id for n in await self.repo.nominations(selection_id)}:
            raise BadInput("error.stale_button")
        resident = await self.org.org.resident(user_id)
        scope = {n.id for n in await self.org.org.subtree(selection.node_id)}
        if resident is None or resident.node_id not in scope:
            raise NotAllowed("family.residents_only")
        async with self.db.write() as tx:
            counted = await self.repo.vote(tx, selection_id, user_id, nomination_id,
                                           self.clock.now())
        return "family.voted" if counted else "family.already_voted"

    async def close(self, user_id: int, selection_id: int) -> list[Nomination]:
        selection = await self._managed(user_id, selection_id)
        async with self.db.write() as tx:
            if not await self.repo.move(tx, selection.id, "voting", "closed", self.clock.now()):
                raise BadInput("family.wrong_state")
            ranked = await self.repo.nominations(selection.id, tx)
            winners = self.winners(ranked)
            lang = self.settings.language
            lines = [t(lang, "family.result_line", household=n.household, votes=n.votes,
                       reason=n.reason) for n in winners]
            await self._chats(tx, selection, "family.results", lines=Markup("\n".join(lines)),
                              voters=sum(n.votes for n in ranked))
        self.notifier.kick()
        return winners

    @staticmethod
    def winners(ranked: list[Nomination]) -> list[Nomination]:
        """The top three with votes; a tie for third place is shared."""
        voted = [n for n in ranked if n.votes > 0]
        if len(voted) <= WINNERS:
            return voted
        cut = voted[WINNERS - 1].votes
        return [n for n in voted if n.votes >= cut]
