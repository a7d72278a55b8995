"""The organisation's rules: who may do what, binding chats, invites, joining.

Speaks in domain terms (nodes, leaders, residents); knows nothing of Telegram.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from bot.core.clock import Clock
from bot.core.errors import BadInput, NotAllowed, NotFound
from bot.core.inputs import one_line
from config.settings import Level, Settings
from storage.db import Database
from storage.org import Chat, Leader, Node, OrgRepo, Resident

INVITE_LIFETIME = timedelta(days=7)
UNIT_MAX = 32


@dataclass(frozen=True, slots=True)
class Roles:
    """What a user is, for /help and permission checks."""

    admin: bool
    led_nodes: list[Node]
    home: Resident | None

    @property
    def leader(self) -> bool:
        return self.admin or bool(self.led_nodes)


@dataclass(frozen=True, slots=True)
class JoinResult:
    node: Node
    moved_from: Node | None
    leaders: list[Leader]


@dataclass(frozen=True, slots=True)
class TreeEntry:
    node: Node
    depth: int
    leaders: list[Leader]
    chats: list[Chat]
    residents: int


class OrgService:
    def __init__(self, settings: Settings, db: Database, org: OrgRepo, clock: Clock) -> None:
        self.settings, self.db, self.org, self.clock = settings, db, org, clock

    # -- who is who -----------------------------------------------------------------

    def is_admin(self, user_id: int) -> bool:
        return self.settings.is_bootstrap_admin(user_id)

    async def roles(self, user_id: int) -> Roles:
        return Roles(self.is_admin(user_id), await self.org.led_nodes(user_id),
                     await self.org.resident(user_id))

    async def may_manage(self, user_id: int, node: Node) -> bool:
        """Admins, and leaders of the node or of a node above it."""
        return self.is_admin(user_id) or await self.org.leads_at_or_above(user_id, node.id)

    async def lives_under(self, user_id: int, node_id: int) -> bool:
        """A registered resident of the node or of a node below it: those an event, a
        meeting or a topic of that node concerns, and the only ones who answer it."""
        resident = await self.org.resident(user_id)
        return resident is not None and resident.node_id in {
            n.id for n in await self.org.subtree(node_id)}

    async def node(self, key: str) -> Node:
        """A node by its key, or by its name as people write it (3号楼1单元)."""
        node = await self.org.node_by_key(key.strip().lower())
        if node is not None:
            return node
        wanted = "".join(key.split())
        named = [n for n in await self.org.all_nodes() if "".join(n.name.split()) == wanted]
        if len(named) > 1:
            raise BadInput("org.node_ambiguous", name=key,
                           keys="、".join(n.key for n in named))
        if not named:
            raise NotFound("org.unknown_node", key=key)
        return named[0]

    def role_level(self, word: str) -> Level | None:
        """A level by its leader's role key or title, in either language (邻长, grid_leader)."""
        wanted = word.strip().lower()
        return next((lv for lv in self.settings.levels
                     if wanted in (lv.role, lv.title_zh, lv.title_en.lower())), None)

    def role_title(self, level: str, lang: str) -> str:
        lv = self.settings.level(level)
        return lv.title_zh if lang == "zh" else lv.title_en

    def level_name(self, level: str, lang: str) -> str:
        lv = self.settings.level(level)
        return lv.name_zh if lang == "zh" else lv.name_en

    def _rank(self, level: str) -> int:
        return self.settings.level_keys.index(level)

    # -- chats ----------------------------------------------------------------------

    async def bind(self, user_id: int, chat_id: int, key: str) -> tuple[Node, Node | None]:
        """Bind the chat to the node; returns it and the node the chat was bound to before
        (None: unbound, or bound there already). A bound chat is taken from its node only by
        someone with rights over that node too (or an admin): else anyone leading some other
        building could take over the group."""
        node = await self.node(key)
        if not await self.may_manage(user_id, node):
            raise NotAllowed("org.bind_not_allowed")
        chat = await self.org.chat(chat_id)
        previous = None
        if chat is not None and chat.node_id is not None and chat.node_id != node.id:
            previous = await self.org.node(chat.node_id)
        if previous is not None and not await self.may_manage(user_id, previous):
            raise NotAllowed("org_rights.rebind_not_allowed", node=previous.name)
        async with self.db.write() as tx:
            await self.org.bind_chat(tx, chat_id, node.id, user_id, self.clock.now())
        return node, previous

    # -- invites --------------------------------------------------------------------

    async def create_invite(self, user_id: int, role: str | None, key: str) -> tuple[str, Node]:
        """An invite to lead the node; ``role`` (key or title) may be left out, as the
        node's level decides it."""
        node = await self.node(key)
        expected = self.settings.level(node.level)
        if role is not None:
            level = self.role_level(role)
            if level is None:
                raise BadInput("org.unknown_role", role=role,
                               roles=", ".join(lv.title_zh for lv in self.settings.levels))
            if node.level != level.key:
                raise BadInput("org.role_mismatch", role=role, key=node.name,
                               expected=expected.title_zh)
        role = expected.role
        if not (self.is_admin(user_id) or await self.org.leads_above(user_id, node.id)):
            raise NotAllowed("org.invite_not_allowed")
        token = secrets.token_urlsafe(12)
        now = self.clock.now()
        async with self.db.write() as tx:
            await self.org.create_invite(tx, token, node.id, role, user_id, now,
                                         now + INVITE_LIFETIME)
        return token, node

    async def accept_invite(self, user_id: int, token: str, name: str) -> Node:
        invite = await self.org.invite(token)
        if invite is None:
            raise NotFound("org.invite_invalid")
        now = self.clock.now()
        if invite.used_by is not None:
            raise BadInput("org.invite_used")
        if invite.expires_at <= now:
            raise BadInput("org.invite_expired")
        async with self.db.write() as tx:
            if not await self.org.claim_invite(tx, token, user_id, now):
                raise BadInput("org.invite_used")
            await self.org.add_leader(tx, invite.node_id, user_id, name, "invite", now)
        node = await self.org.node(invite.node_id)
        assert node is not None
        return node

    # -- removing leaders -----------------------------------------------------------

    async def may_remove_leader(self, user_id: int, node: Node) -> bool:
        """Those who may invite a leader of the node may remove one: admins, and leaders
        of a node above it."""
        return self.is_admin(user_id) or await self.org.leads_above(user_id, node.id)

    async def removable_leaders(self, user_id: int) -> list[tuple[Node, Leader]]:
        """The leaders this user may remove, in the order of the tree."""
        if not self.is_admin(user_id) and not await self.org.led_nodes(user_id):
            raise NotAllowed("leader_removal.not_allowed")
        found = []
        for node in await self.org.all_nodes():
            if await self.may_remove_leader(user_id, node):
                found += [(node, ld) for ld in await self.org.leaders_of(node.id)
                          if ld.user_id != user_id]
        return found

    async def leader_at(self, user_id: int, node_id: int, leader_id: int) -> tuple[Node, Leader]:
        """A leader this user may remove (checked before anything else is read)."""
        node = await self.org.node(node_id)
        if node is None or not await self.may_remove_leader(user_id, node):
            raise NotAllowed("leader_removal.not_allowed")
        leader = next((ld for ld in await self.org.leaders_of(node.id)
                       if ld.user_id == leader_id), None)
        if leader is None:
            raise NotFound("leader_removal.not_a_leader", node=node.name)
        return node, leader

    async def remove_leader(self, user_id: int, node_id: int,
                            leader_id: int) -> tuple[Node, Leader]:
        """Their rights end now; the reports they held are handed on by the deadline the
        removal arms (fired by the scheduler's next sweep)."""
        node, leader = await self.leader_at(user_id, node_id, leader_id)
        async with self.db.write() as tx:
            removed = await self.org.remove_leader(tx, node.id, leader_id, user_id, "command",
                                                   self.clock.now())
        if removed is None:
            raise NotFound("leader_removal.not_a_leader", node=node.name)
        return node, leader

    # -- residents ------------------------------------------------------------------

    def is_home_level(self, node: Node) -> bool:
        """Residents live under a building or a grid (the two lowest default levels)."""
        keys = self.settings.level_keys
        return self._rank(node.level) >= len(keys) - 2

    async def join_choices(self, node: Node) -> list[Node]:
        """The nodes below ``node`` a resident may pick from (empty: join ``node`` itself)."""
        return await self.org.children(node.id)

    async def join(self, user_id: int, node: Node, unit: str | None = None) -> JoinResult:
        if not self.is_home_level(node):
            raise BadInput("org.join_pick_lower")
        if unit is not None:
            unit = self.clean_unit(unit)
        previous = await self.org.resident(user_id)
        async with self.db.write() as tx:
            await self.org.register_resident(tx, user_id, node.id, unit, self.clock.now())
        moved_from = None
        if previous is not None and previous.node_id != node.id:
            moved_from = await self.org.node(previous.node_id)
        return JoinResult(node, moved_from, await self.nearest_leaders(node))

    def clean_unit(self, unit: str) -> str:
        unit = one_line(unit)
        if not unit or len(unit) > UNIT_MAX:
            raise BadInput("org.unit_invalid", max=UNIT_MAX)
        return unit

    async def set_unit(self, user_id: int, unit: str) -> Resident:
        unit = self.clean_unit(unit)
        async with self.db.write() as tx:
            if not await self.org.set_unit(tx, user_id, unit, self.clock.now()):
                raise NotFound("org.not_resident")
        resident = await self.org.resident(user_id)
        assert resident is not None
        return resident

    async def correct_unit(self, by_user: int, user_id: int, unit: str) -> tuple[Resident, Node]:
        """A leader of the resident's node or above corrects the registered unit."""
        resident = await self.org.resident(user_id)
        node = await self.org.node(resident.node_id) if resident else None
        if resident is None or node is None:
            raise NotFound("privacy.unit_not_resident")
        if not await self.may_manage(by_user, node):
            raise NotAllowed("privacy.unit_not_allowed")
        return await self.set_unit(user_id, unit), node

    async def remove_resident(self, by_user: int, user_id: int, node_id: int) -> Node:
        node = await self.org.node(node_id)
        if node is None:
            raise NotFound()
        if not await self.may_manage(by_user, node):
            raise NotAllowed()
        async with self.db.write() as tx:
            if not await self.org.remove_resident(tx, user_id, node_id):
                raise NotFound("org.resident_gone")
        return node

    async def nearest_leaders(self, node: Node) -> list[Leader]:
        """The leaders of the node, else of the nearest node above that has some."""
        for ancestor in await self.org.ancestors(node.id):
            leaders = await self.org.leaders_of(ancestor.id)
            if leaders:
                return leaders
        return []

    # -- the tree -------------------------------------------------------------------

    async def tree(self, user_id: int) -> list[TreeEntry]:
        """The whole tree for admins; for a leader, the subtrees they lead."""
        nodes = await self.org.all_nodes()
        if not self.is_admin(user_id):
            led = await self.org.led_nodes(user_id)
            if not led:
                raise NotAllowed("org.org_not_allowed")
            visible: set[int] = set()
            for node in led:
                visible.update(n.id for n in await self.org.subtree(node.id))
            nodes = [n for n in nodes if n.id in visible]
        by_parent: dict[int | None, list[Node]] = {}
        ids = {n.id for n in nodes}
        for n in nodes:
            parent = n.parent_id if n.parent_id in ids else None
            by_parent.setdefault(parent, []).append(n)
        leaders: dict[int, list[Leader]] = {}
        for leader in await self.org.leaders_in(list(ids)):
            leaders.setdefault(leader.node_id, []).append(leader)
        chats = await self.org.chats_by_node()
        counts = await self.org.resident_counts()
        entries: list[TreeEntry] = []

        def walk(parent: int | None, depth: int) -> None:
            for n in sorted(by_parent.get(parent, []), key=lambda n: n.key):
                entries.append(TreeEntry(n, depth, leaders.get(n.id, []), chats.get(n.id, []),
                                         counts.get(n.id, 0)))
                walk(n.id, depth + 1)

        walk(None, 0)
        return entries
