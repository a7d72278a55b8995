"""The organisation at run time: nodes, leaders, partners, residents, bound chats."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from storage.db import Database, Tx
from storage.timeutil import from_db, to_db


@dataclass(frozen=True, slots=True)
class Node:
    id: int
    key: str
    name: str
    level: str
    parent_id: int | None


@dataclass(frozen=True, slots=True)
class Leader:
    node_id: int
    user_id: int
    name: str | None


@dataclass(frozen=True, slots=True)
class Partner:
    id: int
    node_id: int
    kind: str
    name: str
    categories: tuple[str, ...]
    user_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Resident:
    user_id: int
    node_id: int
    unit: str | None
    name: str | None = None  # as the org file or a leader gave it
    phone: str | None = None  # a resident without Telegram may be known by phone only

    @property
    def offline(self) -> bool:
        """Without Telegram (a leader registered them by name and unit)."""
        return self.user_id < 0


@dataclass(frozen=True, slots=True)
class Chat:
    chat_id: int
    node_id: int | None
    title: str | None
    type: str | None
    is_forum: bool
    active: bool


@dataclass(frozen=True, slots=True)
class RoleRemoval:
    """A leader removed from a node, or a member from a partner (exactly one is set)."""

    id: int
    user_id: int
    node_id: int | None
    partner_id: int | None
    name: str | None
    source: str
    removed_by: int | None


ROLE_REMOVAL = "role_removal"  # the deadline subject that hands on their reports
# due at once, whatever clock the process that made the change keeps (an import runs on the
# machine's, the bot on its own)
AT_ONCE = datetime(2000, 1, 1, tzinfo=UTC)


async def record_removal(tx: Tx, *, user_id: int, node_id: int | None = None,
                         partner_id: int | None = None, name: str | None, source: str,
                         removed_by: int | None, now: str) -> int:
    """Log a removal and arm, due at once, the deadline that hands on the reports the person
    held (the running bot's sweep fires it, also after a change made by `linli org import`)."""
    removal_id = await tx.insert(
        "INSERT INTO role_removals(user_id, node_id, partner_id, name, source, removed_by,"
        " removed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (user_id, node_id, partner_id, name, source, removed_by, now))
    await tx.execute(
        "INSERT INTO deadlines(subject, subject_id, kind, due_at, created_at)"
        " VALUES (?, ?, 'hand_over', ?, ?)", (ROLE_REMOVAL, removal_id, to_db(AT_ONCE), now))
    return removal_id


@dataclass(frozen=True, slots=True)
class Invite:
    token: str
    node_id: int
    role: str
    created_by: int
    expires_at: datetime
    used_by: int | None


def _node(r: sqlite3.Row) -> Node:
    return Node(r["id"], r["key"], r["name"], r["level"], r["parent_id"])


def _partner(r: sqlite3.Row) -> Partner:
    return Partner(r["id"], r["node_id"], r["kind"], r["name"], tuple(json.loads(r["categories"])),
                   tuple(int(u) for u in (r["members"] or "").split(",") if u))


def _chat(r: sqlite3.Row) -> Chat:
    return Chat(r["chat_id"], r["node_id"], r["title"], r["type"], bool(r["is_forum"]),
                bool(r["active"]))




RECHECK_SECONDS = 1.0  # how soon a change made by another process (linli org import) shows
RESIDENTS_CACHED = 50_000  # who lives where, for this many users at most


@dataclass
class _Tree:
    """The organisation in memory: read on every report, changed rarely."""

    nodes: dict[int, Node]
    by_key: dict[str, Node]
    children: dict[int | None, list[Node]]
    leaders: dict[int, list[Leader]]
    led: dict[int, list[int]]
    partners: dict[int, list[Partner]]
    chats: dict[int, list[Chat]]

    def ancestors(self, node_id: int) -> list[Node]:
        found, cursor = [], self.nodes.get(node_id)
        while cursor is not None and len(found) <= len(self.nodes):
            found.append(cursor)
            cursor = self.nodes.get(cursor.parent_id) if cursor.parent_id is not None else None
        return found


async def _load_tree(db: Database) -> _Tree:
    nodes = {r["id"]: _node(r) for r in await db.fetchall("SELECT * FROM nodes ORDER BY id")}
    children: dict[int | None, list[Node]] = {}
    for n in nodes.values():
        children.setdefault(n.parent_id, []).append(n)
    leaders: dict[int, list[Leader]] = {}
    led: dict[int, list[int]] = {}
    for r in await db.fetchall("SELECT node_id, user_id, name FROM leaders ORDER BY id"):
        leaders.setdefault(r["node_id"], []).append(Leader(r["node_id"], r["user_id"], r["name"]))
        led.setdefault(r["user_id"], []).append(r["node_id"])
    partners: dict[int, list[Partner]] = {}
    for r in await db.fetchall(
        "SELECT p.*, group_concat(m.user_id) AS members FROM partners p"
        " LEFT JOIN partner_members m ON m.partner_id = p.id GROUP BY p.id ORDER BY p.id"
    ):
        partners.setdefault(r["node_id"], []).append(_partner(r))
    chats: dict[int, list[Chat]] = {}
    for r in await db.fetchall(
        "SELECT * FROM chats WHERE node_id IS NOT NULL ORDER BY chat_id"
    ):
        chats.setdefault(r["node_id"], []).append(_chat(r))
    return _Tree(nodes, {n.key: n for n in nodes.values()}, children, leaders, led, partners,
                 chats)


class OrgRepo:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._tree: _Tree | None = None
        self._seen = (-1, -1)  # (this process's changes, the database's org version)
        self._checked_at = 0.0
        self._residents: dict[int, Resident | None] = {}  # by user id; None: not a resident
        self._residents_seen = -1  # the residents' version the cache holds

    async def tree(self) -> _Tree:
        """The cached tree; reloaded after our own changes, or another process's."""
        now = time.monotonic()
        if self._tree is not None and self._seen[0] == self.db.org_changes and (
                now - self._checked_at < RECHECK_SECONDS):
            return self._tree
        row = await self.db.fetchone(
            "SELECT o.version, r.version FROM org_version o, residents_version r")
        assert row is not None
        version, residents = row
        self._checked_at = now
        if self._tree is None or self._seen != (self.db.org_changes, version):
            self._seen = (self.db.org_changes, version)
            self._tree = await _load_tree(self.db)
            self._residents_seen = -1
        if self._residents_seen != residents:
            self._residents.clear()
            self._residents_seen = residents
        return self._tree

    def _changed(self, tx: Tx) -> None:
        tx.after_commit.append(self.db.org_changed)

    # -- nodes ----------------------------------------------------------------------

    async def node(self, node_id: int) -> Node | None:
        return (await self.tree()).nodes.get(node_id)

    async def node_by_key(self, key: str) -> Node | None:
        return (await self.tree()).by_key.get(key)

    async def all_nodes(self) -> list[Node]:
        return sorted((await self.tree()).nodes.values(), key=lambda n: n.key)

    async def children(self, node_id: int | None) -> list[Node]:
        return list((await self.tree()).children.get(node_id, []))

    async def ancestors(self, node_id: int) -> list[Node]:
        """The node itself, then its parent, up to the root."""
        return (await self.tree()).ancestors(node_id)

    async def subtree(self, node_id: int) -> list[Node]:
        tree = await self.tree()
        found, queue = [], [tree.nodes[node_id]] if node_id in tree.nodes else []
        while queue:
            node = queue.pop()
            found.append(node)
            queue.extend(tree.children.get(node.id, []))
        return found

    # -- leaders --------------------------------------------------------------------

    async def leaders_of(self, node_id: int) -> list[Leader]:
        return list((await self.tree()).leaders.get(node_id, []))

    async def leaders_in(self, node_ids: list[int]) -> list[Leader]:
        tree = await self.tree()
        return [ld for node_id in node_ids for ld in tree.leaders.get(node_id, [])]

    async def led_nodes(self, user_id: int) -> list[Node]:
        tree = await self.tree()
        return sorted((tree.nodes[i] for i in set(tree.led.get(user_id, []))), key=lambda n: n.id)

    async def leads_at_or_above(self, user_id: int, node_id: int) -> bool:
        tree = await self.tree()
        led = set(tree.led.get(user_id, []))
        return any(n.id in led for n in tree.ancestors(node_id))

    async def leads_above(self, user_id: int, node_id: int) -> bool:
        tree = await self.tree()
        led = set(tree.led.get(user_id, []))
        return any(n.id in led for n in tree.ancestors(node_id)[1:])

    async def add_leader(
        self, tx: Tx, node_id: int, user_id: int, name: str | None, source: str, now: datetime
    ) -> bool:
        """Make ``user_id`` a leader of the node; False if they already were."""
        changed = await tx.update(
            "INSERT INTO leaders(node_id, user_id, name, source, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (node_id, user_id, name, source, to_db(now)),
        )
        self._changed(tx)
        return changed > 0

    async def remove_leader(self, tx: Tx, node_id: int, user_id: int, by_user: int | None,
                            source: str, now: datetime) -> int | None:
        """No longer a leader of the node: the removal's id, or None if they were not."""
        row = await tx.returning(
            "DELETE FROM leaders WHERE node_id = ? AND user_id = ? RETURNING name",
            (node_id, user_id))
        if row is None:
            return None
        self._changed(tx)
        return await record_removal(tx, user_id=user_id, node_id=node_id, name=row["name"],
                                    source=source, removed_by=by_user, now=to_db(now))

    async def removal(self, removal_id: int, tx: Tx | None = None) -> RoleRemoval | None:
        r = await (tx or self.db).fetchone("SELECT * FROM role_removals WHERE id = ?",
                                           (removal_id,))
        return None if r is None else RoleRemoval(r["id"], r["user_id"], r["node_id"],
                                                  r["partner_id"], r["name"], r["source"],
                                                  r["removed_by"])

    # -- partners -------------------------------------------------------------------

    async def partners_of(self, node_id: int) -> list[Partner]:
        return list((await self.tree()).partners.get(node_id, []))

    async def partner(self, partner_id: int) -> Partner | None:
        for partners in (await self.tree()).partners.values():
            for partner in partners:
                if partner.id == partner_id:
                    return partner
        return None

    async def leaders_named(self, user_id: int) -> list[str]:
        """The names this user is known by as a leader (from the org file or the invite)."""
        tree = await self.tree()
        return [ld.name for node_id in tree.led.get(user_id, []) for ld in tree.leaders[node_id]
                if ld.user_id == user_id and ld.name]

    # -- residents ------------------------------------------------------------------

    async def resident(self, user_id: int) -> Resident | None:
        """Where a user lives; cached, as every report and reply asks it."""
        await self.tree()  # clears the cache when residents changed
        if user_id in self._residents:
            return self._residents[user_id]
        r = await self.db.fetchone("SELECT * FROM residents WHERE user_id = ?", (user_id,))
        found = None if r is None else Resident(r["user_id"], r["node_id"], r["unit"], r["name"],
                                                r["phone"])
        if len(self._residents) >= RESIDENTS_CACHED:
            self._residents.clear()
        self._residents[user_id] = found
        return found

    def _resident_changed(self, tx: Tx, user_id: int) -> None:
        tx.after_commit.append(lambda: self._residents.pop(user_id, None))

    async def register_resident(
        self, tx: Tx, user_id: int, node_id: int, unit: str | None, now: datetime
    ) -> None:
        self._resident_changed(tx, user_id)
        await tx.execute(
            "INSERT INTO residents(user_id, node_id, unit, source, created_at, updated_at)"
            " VALUES (?, ?, ?, 'join', ?, ?) ON CONFLICT(user_id) DO UPDATE SET"
            " node_id = excluded.node_id, unit = coalesce(excluded.unit, residents.unit),"
            " updated_at = excluded.updated_at",
            (user_id, node_id, unit, to_db(now), to_db(now)),
        )

    async def set_unit(self, tx: Tx, user_id: int, unit: str | None, now: datetime) -> bool:
        self._resident_changed(tx, user_id)
        return await tx.update(
            "UPDATE residents SET unit = ?, updated_at = ? WHERE user_id = ?",
            (unit, to_db(now), user_id),
        ) > 0

    async def remove_resident(self, tx: Tx, user_id: int, node_id: int) -> bool:
        self._resident_changed(tx, user_id)
        return await tx.update(
            "DELETE FROM residents WHERE user_id = ? AND node_id = ?", (user_id, node_id)
        ) > 0

    async def residents_named(self, node_ids: list[int], name: str) -> list[Resident]:
        """Residents of these nodes known by this name: the name the org file or a leader
        gave, or the one their Telegram account shows."""
        if not node_ids:
            return []
        marks = ",".join("?" * len(node_ids))
        rows = await self.db.fetchall(
            f"SELECT r.* FROM residents r LEFT JOIN users u ON u.user_id = r.user_id"
            f" WHERE r.node_id IN ({marks}) AND (r.name = ? OR (r.name IS NULL AND"
            f" trim(coalesce(u.first_name, '') || ' ' || coalesce(u.last_name, '')) = ?))"
            f" ORDER BY r.user_id", (*node_ids, name, name))
        return [Resident(r["user_id"], r["node_id"], r["unit"], r["name"]) for r in rows]

    async def add_offline_resident(self, tx: Tx, node_id: int, name: str | None,
                                   unit: str | None, now: datetime,
                                   phone: str | None = None) -> int:
        """A resident without Telegram, by name and unit (or by phone number): the same one
        again if known."""
        if phone is not None:
            found = await tx.fetchval(
                "SELECT user_id FROM residents WHERE user_id < 0 AND node_id = ? AND phone = ?",
                (node_id, phone))
        else:
            found = await tx.fetchval(
                "SELECT user_id FROM residents WHERE user_id < 0 AND node_id = ? AND name = ?"
                " AND unit = ?", (node_id, name, unit))
        if found is not None:
            return int(found)
        user_id = int(await tx.fetchval(
            "SELECT CASE WHEN min(user_id) < 0 THEN min(user_id) ELSE 0 END - 1 FROM residents"))
        self._resident_changed(tx, user_id)
        await tx.execute(
            "INSERT INTO residents(user_id, node_id, unit, name, phone, source, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, 'leader', ?, ?)",
            (user_id, node_id, unit, name, phone, to_db(now), to_db(now)))
        return user_id

    async def residents_in(self, node_ids: list[int], limit: int = 100) -> list[Resident]:
        """Who lives at these nodes (for a pick from a button list), oldest first."""
        if not node_ids:
            return []
        marks = ",".join("?" * len(node_ids))
        rows = await self.db.fetchall(
            f"SELECT * FROM residents WHERE node_id IN ({marks}) ORDER BY created_at, user_id"
            f" LIMIT ?", (*node_ids, limit),
        )
        return [Resident(r["user_id"], r["node_id"], r["unit"], r["name"], r["phone"])
                for r in rows]

    async def resident_counts(self) -> dict[int, int]:
        rows = await self.db.fetchall("SELECT node_id, count(*) FROM residents GROUP BY node_id")
        return {r[0]: r[1] for r in rows}

    # -- chats ----------------------------------------------------------------------

    async def chat(self, chat_id: int) -> Chat | None:
        r = await self.db.fetchone("SELECT * FROM chats WHERE chat_id = ?", (chat_id,))
        return None if r is None else _chat(r)

    async def active_chats(self) -> list[Chat]:
        rows = await self.db.fetchall(
            "SELECT * FROM chats WHERE active = 1 AND node_id IS NOT NULL ORDER BY chat_id"
        )
        return [_chat(r) for r in rows]

    async def bound_chat_near(self, node_id: int) -> Chat | None:
        """The active chat bound to the node, else to its nearest ancestor that has one."""
        tree = await self.tree()
        for node in tree.ancestors(node_id):
            for chat in tree.chats.get(node.id, []):
                if chat.active:
                    return chat
        return None

    async def save_chat(
        self, tx: Tx, chat_id: int, *, title: str | None, type_: str | None, is_forum: bool,
        active: bool, now: datetime,
    ) -> None:
        """Remember a group the bot is in (or was removed from); keeps its binding."""
        await tx.execute(
            "INSERT INTO chats(chat_id, title, type, is_forum, active, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(chat_id) DO UPDATE SET"
            " title = coalesce(excluded.title, chats.title),"
            " type = coalesce(excluded.type, chats.type), is_forum = excluded.is_forum,"
            " active = excluded.active, updated_at = excluded.updated_at",
            (chat_id, title, type_, int(is_forum), int(active), to_db(now)),
        )
        self._changed(tx)

    async def set_chat_title(self, tx: Tx, chat_id: int, title: str, now: datetime) -> None:
        """A known group's name as Telegram last showed it (nothing to do if unchanged)."""
        tree = await self.tree()
        if all(c.title == title for chats in tree.chats.values() for c in chats
               if c.chat_id == chat_id):
            return
        await tx.execute(
            "UPDATE chats SET title = ?, updated_at = ? WHERE chat_id = ?"
            " AND title IS DISTINCT FROM ?", (title, to_db(now), chat_id, title))
        self._changed(tx)

    async def bind_chat(
        self, tx: Tx, chat_id: int, node_id: int, by_user: int, now: datetime
    ) -> None:
        await tx.execute(
            "UPDATE chats SET node_id = ?, active = 1, bound_by = ?, bound_at = ?, updated_at = ?"
            " WHERE chat_id = ?",
            (node_id, by_user, to_db(now), to_db(now), chat_id),
        )
        self._changed(tx)

    async def deactivate_chat(self, tx: Tx, chat_id: int, now: datetime) -> None:
        """The bot was removed: keep the binding on record, but send nothing there."""
        await tx.execute(
            "UPDATE chats SET active = 0, updated_at = ? WHERE chat_id = ?", (to_db(now), chat_id)
        )
        self._changed(tx)

    async def migrate_chat(self, tx: Tx, old_id: int, new_id: int, now: datetime) -> bool:
        """A group became a supergroup: the binding follows it to the new id."""
        old = await tx.fetchone("SELECT * FROM chats WHERE chat_id = ?", (old_id,))
        if old is None:
            return False
        self._changed(tx)
        existing = await tx.fetchone("SELECT * FROM chats WHERE chat_id = ?", (new_id,))
        if existing is None:
            await tx.execute(
                "UPDATE chats SET chat_id = ?, type = 'supergroup', updated_at = ?"
                " WHERE chat_id = ?",
                (new_id, to_db(now), old_id),
            )
        else:
            await tx.execute(
                "UPDATE chats SET node_id = coalesce(node_id, ?), bound_by = coalesce(bound_by, ?),"
                " bound_at = coalesce(bound_at, ?), active = 1, type = 'supergroup',"
                " updated_at = ? WHERE chat_id = ?",
                (old["node_id"], old["bound_by"], old["bound_at"], to_db(now), new_id),
            )
            await tx.execute("DELETE FROM chats WHERE chat_id = ?", (old_id,))
        return True

    async def chats_by_node(self) -> dict[int, list[Chat]]:
        return {k: list(v) for k, v in (await self.tree()).chats.items()}

    # -- invites --------------------------------------------------------------------

    async def create_invite(
        self, tx: Tx, token: str, node_id: int, role: str, created_by: int,
        now: datetime, expires_at: datetime,
    ) -> None:
        await tx.execute(
            "INSERT INTO invites(token, node_id, role, created_by, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (token, node_id, role, created_by, to_db(now), to_db(expires_at)),
        )

    async def invite(self, token: str, tx: Tx | None = None) -> Invite | None:
        r = await (tx or self.db).fetchone("SELECT * FROM invites WHERE token = ?", (token,))
        if r is None:
            return None
        return Invite(r["token"], r["node_id"], r["role"], r["created_by"],
                      from_db(r["expires_at"]), r["used_by"])

    async def claim_invite(self, tx: Tx, token: str, user_id: int, now: datetime) -> bool:
        """Use the invite once: only the first claim before expiry succeeds."""
        return await tx.update(
            "UPDATE invites SET used_by = ?, used_at = ? WHERE token = ? AND used_by IS NULL"
            " AND expires_at > ?",
            (user_id, to_db(now), token, to_db(now)),
        ) > 0
