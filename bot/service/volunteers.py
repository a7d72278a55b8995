"""Volunteers and help requests (服务暖邻).

Residents register as volunteers with skills and the hours they are usually free,
and may pause or leave. A help request is offered at once to the active volunteers
with that skill in the requester's community, nearest first (same grid, then the
same building, ...); the first to accept takes it and the other offers are withdrawn
(their messages edited). Contact details are exchanged only with the requester's
consent; both sides confirm completion. A request nobody took within
``services.help_unanswered`` (or one no volunteer matches) goes to the grid leader.
"""

from __future__ import annotations

import re

from bot.core.clock import Clock
from bot.core.errors import BadInput, NotAllowed, NotFound
from bot.core.i18n import Markup, esc, number, pick_language, t
from bot.core.inputs import visible
from bot.core.notifier import Button, Notifier, Outgoing
from bot.core.scheduler import Scheduler
from bot.org.org import OrgService
from config.settings import Settings
from storage.db import Database, Tx
from storage.deadlines import Deadline
from storage.org import OrgRepo
from storage.users import UserRepo
from storage.volunteers import HelpRequest, Volunteer, VolunteerRepo

SUBJECT = "help_request"
SKILLS = ("legal", "health", "repair", "housekeeping", "companionship")
ALIASES = {"法律咨询": "legal", "法律": "legal", "健康义诊": "health", "健康": "health",
           "义诊": "health", "维修": "repair", "家政": "housekeeping", "陪伴": "companionship"}
TEXT_MAX = 500
HOURS_MAX = 100
MAX_OFFERS = 10


def offer_ref(request_id: int) -> str:
    return f"help:{request_id}:offer"


def parse_skill(text: str) -> str:
    skill = ALIASES.get(text.strip(), text.strip().lower())
    if skill not in SKILLS:
        raise BadInput("helpreq.unknown_skill")
    return skill


class VolunteerService:
    def __init__(self, settings: Settings, db: Database, clock: Clock, org_repo: OrgRepo,
                 org: OrgService, repo: VolunteerRepo, users: UserRepo, notifier: Notifier,
                 scheduler: Scheduler) -> None:
        self.settings, self.db, self.clock = settings, db, clock
        self.org_repo, self.org, self.repo, self.users = org_repo, org, repo, users
        self.notifier, self.scheduler = notifier, scheduler
        scheduler.on(SUBJECT, self.on_unanswered)

    async def _lang(self, user_id: int) -> str:
        user = await self.users.get(user_id)
        return pick_language(user.language if user else None,
                             user.language_code if user else None, self.settings.language)

    async def person(self, user_id: int) -> Markup:
        """A link that opens the user's profile: how contact is shared."""
        user = await self.users.get(user_id)
        name = user.display_name if user else str(user_id)
        return Markup(f'<a href="tg://user?id={user_id}">{esc(name)}</a>')

    async def home(self, user_id: int, why: str = "helpreq.join_first") -> int:
        resident = await self.org_repo.resident(user_id)
        if resident is None:
            raise NotFound(why)
        return resident.node_id

    # -- volunteers -----------------------------------------------------------------------

    async def register(self, user_id: int, skills_text: str, hours: str | None) -> Volunteer:
        node_id = await self.home(user_id, "volunteer.join_first")
        skills = sorted({parse_skill(s) for s in re.split(r"[,，、;；/]+", skills_text)
                         if s.strip()})
        if not skills:
            raise BadInput("helpreq.unknown_skill")
        hours = visible(hours)[:HOURS_MAX] or None
        async with self.db.write() as tx:
            await self.repo.register(tx, user_id, node_id, skills, hours, self.clock.now())
        volunteer = await self.repo.get(user_id)
        assert volunteer is not None
        return volunteer

    async def set_state(self, user_id: int, state: str) -> Volunteer:
        volunteer = await self.repo.get(user_id)
        if volunteer is None or (volunteer.state == "left" and state != "left"):
            raise NotFound("volunteer.not_registered")  # after leaving: register again
        async with self.db.write() as tx:
            await self.repo.set_state(tx, user_id, state, self.clock.now())
        found = await self.repo.get(user_id)
        assert found is not None
        return found

    async def ranked(self, node_id: int, skill: str, exclude: int) -> list[int]:
        """Active volunteers with the skill in the requester's community, nearest first."""
        home = await self.org_repo.ancestors(node_id)
        depth = {n.id: i for i, n in enumerate(home)}  # 0: the requester's own node
        top = home[-1].id
        found = []
        for user_id, vnode in await self.repo.matching(skill):
            if user_id == exclude:
                continue
            up = await self.org_repo.ancestors(vnode)
            if up[-1].id != top:
                continue
            # tree distance: steps up from the volunteer to the first shared ancestor, and down
            steps = next(i + depth[n.id] for i, n in enumerate(up) if n.id in depth)
            found.append((steps, user_id))
        return [user_id for _, user_id in sorted(found)][:MAX_OFFERS]

    # -- help requests --------------------------------------------------------------------

    def check_text(self, text: str | None) -> str:
        cleaned = visible(text)
        if not cleaned or len(cleaned) > TEXT_MAX:
            raise BadInput("helpreq.text_invalid", max=TEXT_MAX)
        return cleaned

    async def file(self, user_id: int, skill: str, text: str) -> tuple[HelpRequest, int]:
        node_id = await self.home(user_id)
        skill, text = parse_skill(skill), self.check_text(text)
        volunteers = await self.ranked(node_id, skill, user_id)
        now = self.clock.now()
        async with self.db.write() as tx:
            request_id = await self.repo.create_request(tx, user_id, node_id, skill, text, now)
            request = await self.repo.request(request_id, tx)
            assert request is not None
            if volunteers:
                await self.repo.add_offers(tx, request_id, volunteers)
                for volunteer_id in volunteers:
                    await self._offer(tx, request, volunteer_id)
                await self.scheduler.arm(tx, SUBJECT, request_id, "unanswered",
                                         now + self.settings.services.help_unanswered)
            else:
                # the requester's confirmation (handlers) already says a leader coordinates
                await self._hand_over(tx, request, "helpreq.to_leader_nobody",
                                      tell_requester=False)
        self.notifier.kick()
        return request, len(volunteers)

    async def _offer(self, tx: Tx, request: HelpRequest, volunteer_id: int) -> None:
        lang = await self._lang(volunteer_id)
        node = await self.org_repo.node(request.node_id)
        await self.notifier.enqueue(tx, Outgoing(
            volunteer_id, t(lang, "helpreq.offer", number=number(request.id),
                            skill=t(lang, f"helpreq.skill.{request.skill}"),
                            node=node.name if node else "", text=request.text),
            buttons=[[Button(t(lang, "helpreq.btn_accept"), data=f"hr:acc:{request.id}")]],
            ref=offer_ref(request.id), dedup_key=f"help:{request.id}:offer:{volunteer_id}"))

    async def _edit_offers(self, tx: Tx, request: HelpRequest, keep: int | None) -> None:
        """Every offer message but the winner's says it was withdrawn: taken by another
        volunteer, or (nobody took it, ``keep`` None) handed to the neighbour leader."""
        for chat_id, message_ids in await self.notifier.outbox.sent_messages(
                offer_ref(request.id), tx):
            if not message_ids:
                continue
            lang = await self._lang(chat_id)
            if keep is None:
                key = "helpreq.offer_to_leader"
            else:
                key = "helpreq.offer_yours" if chat_id == keep else "helpreq.offer_withdrawn"
            await self.notifier.enqueue(tx, Outgoing(
                chat_id, t(lang, key, number=number(request.id),
                           skill=t(lang, f"helpreq.skill.{request.skill}"), text=request.text),
                method="edit_text", message_id=message_ids[-1],
                dedup_key=f"help:{request.id}:edit:{chat_id}:{message_ids[-1]}"))

    async def accept(self, volunteer_id: int, request_id: int) -> HelpRequest:
        request = await self.repo.request(request_id)
        offers = await self.repo.offers(request_id) if request else []
        if request is None or volunteer_id not in {o.volunteer_id for o in offers}:
            raise NotAllowed("helpreq.not_offered")
        now = self.clock.now()
        async with self.db.write() as tx:
            if not await self.repo.accept(tx, request.id, volunteer_id, now):
                raise BadInput("helpreq.taken", number=number(request.id))
            await self.scheduler.deadlines.cancel(tx, SUBJECT, request.id, "unanswered")
            await self._edit_offers(tx, request, keep=volunteer_id)
            lang = await self._lang(request.requester_id)
            await self.notifier.enqueue(tx, Outgoing(
                request.requester_id,
                t(lang, "helpreq.accepted_ask_consent", number=number(request.id),
                  name=await self.person(volunteer_id)),
                buttons=[[Button(t(lang, "helpreq.btn_consent"), data=f"hr:ok:{request.id}"),
                          Button(t(lang, "helpreq.btn_no_consent"), data=f"hr:no:{request.id}")]],
                dedup_key=f"help:{request.id}:consent"))
        self.notifier.kick()
        taken = await self.repo.request(request.id)
        assert taken is not None
        return taken

    async def consent(self, user_id: int, request_id: int, agree: bool) -> HelpRequest:
        request = await self.repo.request(request_id)
        if request is None or request.requester_id != user_id:
            raise NotAllowed("helpreq.not_yours")
        if request.state != "accepted" or request.consent or request.volunteer_id is None:
            raise BadInput("helpreq.already_answered", number=number(request.id))
        now = self.clock.now()
        volunteer_id = request.volunteer_id
        async with self.db.write() as tx:
            if agree:
                if not await self.repo.set_consent(tx, request.id, now):
                    raise BadInput("helpreq.already_answered", number=number(request.id))
                for me, other, key in ((user_id, volunteer_id, "helpreq.contact_requester"),
                                       (volunteer_id, user_id, "helpreq.contact_volunteer")):
                    lang = await self._lang(me)
                    done = Button(t(lang, "helpreq.btn_done"), data=f"hr:done:{request.id}")
                    await self.notifier.enqueue(tx, Outgoing(
                        me, t(lang, key, number=number(request.id), name=await self.person(other),
                              text=request.text),
                        buttons=[[done]], dedup_key=f"help:{request.id}:contact:{me}"))
            else:
                lang = await self._lang(volunteer_id)
                await self.notifier.enqueue(tx, Outgoing(
                    volunteer_id, t(lang, "helpreq.declined_contact", number=number(request.id)),
                    dedup_key=f"help:{request.id}:declined"))
                await self._hand_over(tx, request, "helpreq.to_leader_no_consent",
                                      tell_requester=False)  # the pressed message says so
        self.notifier.kick()
        changed = await self.repo.request(request.id)
        assert changed is not None
        return changed

    async def done(self, user_id: int, request_id: int) -> tuple[HelpRequest, bool]:
        request = await self.repo.request(request_id)
        if request is None or user_id not in (request.requester_id, request.volunteer_id):
            raise NotAllowed("helpreq.not_yours")
        if request.state != "accepted" or not request.consent:
            raise BadInput("helpreq.already_answered", number=number(request.id))
        side = "requester" if user_id == request.requester_id else "volunteer"
        now = self.clock.now()
        async with self.db.write() as tx:
            both = await self.repo.mark_done(tx, request.id, side, now)
            if both:
                for who in (request.requester_id, request.volunteer_id):
                    assert who is not None
                    lang = await self._lang(who)
                    await self.notifier.enqueue(tx, Outgoing(
                        who, t(lang, "helpreq.completed", number=number(request.id)),
                        dedup_key=f"help:{request.id}:completed:{who}"))
        self.notifier.kick()
        changed = await self.repo.request(request.id)
        assert changed is not None
        return changed, both

    # -- nobody took it -------------------------------------------------------------------

    async def on_unanswered(self, tx: Tx, deadline: Deadline) -> None:
        request = await self.repo.request(deadline.subject_id, tx)
        if request is None or request.state != "open":
            return
        await self._edit_offers(tx, request, keep=None)
        await self._hand_over(tx, request, "helpreq.to_leader_unanswered")

    async def _hand_over(self, tx: Tx, request: HelpRequest, key: str, *,
                         tell_requester: bool = True) -> None:
        await self.repo.hand_over(tx, request.id, self.clock.now())
        node = await self.org_repo.node(request.node_id)
        assert node is not None
        resident = await self.org_repo.resident(request.requester_id)
        for leader in await self.org.nearest_leaders(node):
            lang = await self._lang(leader.user_id)
            await self.notifier.enqueue(tx, Outgoing(
                leader.user_id, t(lang, key, number=number(request.id),
                                  skill=t(lang, f"helpreq.skill.{request.skill}"),
                                  name=await self.person(request.requester_id), node=node.name,
                                  unit=resident.unit if resident and resident.unit else "—",
                                  text=request.text),
                dedup_key=f"help:{request.id}:leader:{leader.user_id}"))
        if not tell_requester:
            return
        lang = await self._lang(request.requester_id)
        await self.notifier.enqueue(tx, Outgoing(
            request.requester_id, t(lang, "helpreq.told_handed_over", number=number(request.id)),
            dedup_key=f"help:{request.id}:handed"))
