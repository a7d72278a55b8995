"""The organisation at run time: nodes, leaders, partners, residents, bound chats."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime

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


@dataclass(frozen=True, slots=True)
class Chat:
    chat_id: int
    node_id: int | None
    title: str | None
    type: str | None
    is_forum: bool
    active: bool


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


_ANCESTORS = (
    "WITH RECURSIVE up(id, depth) AS (SELECT ?, 0 UNION ALL"
    " SELECT n.parent_id, up.depth + 1 FROM nodes n JOIN up ON n.id = up.id"
    " WHERE n.parent_id IS NOT NULL)"
)
_SUBTREE = (
    "WITH RECURSIVE down(id) AS (SELECT ? UNION ALL"
    " SELECT n.id FROM nodes n JOIN down ON n.parent_id = down.id)"
)


class OrgRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- nodes ----------------------------------------------------------------------

    async def node(self, node_id: int) -> Node | None:
        r = await self.db.fetchone("SELECT * FROM nodes WHERE id = ?", (node_id,))
        return None if r is None else _node(r)

    async def node_by_key(self, key: str) -> Node | None:
        r = await self.db.fetchone("SELECT * FROM nodes WHERE key = ?", (key,))
        return None if r is None else _node(r)

    async def all_nodes(self) -> list[Node]:
        return [_node(r) for r in await self.db.fetchall("SELECT * FROM nodes ORDER BY key")]

    async def children(self, node_id: int | None) -> list[Node]:
        if node_id is None:
            rows = await self.db.fetchall("SELECT * FROM nodes WHERE parent_id IS NULL ORDER BY id")
        else:
            rows = await self.db.fetchall(
                "SELECT * FROM nodes WHERE parent_id = ? ORDER BY id", (node_id,)
            )
        return [_node(r) for r in rows]

    async def ancestors(self, node_id: int) -> list[Node]:
        """The node itself, then its parent, up to the root."""
        rows = await self.db.fetchall(
            f"{_ANCESTORS} SELECT nodes.* FROM up JOIN nodes ON nodes.id = up.id ORDER BY depth",
            (node_id,),
        )
        return [_node(r) for r in rows]

    async def subtree(self, node_id: int) -> list[Node]:
        rows = await self.db.fetchall(
            f"{_SUBTREE} SELECT nodes.* FROM down JOIN nodes ON nodes.id = down.id", (node_id,)
        )
        return [_node(r) for r in rows]

    # -- leaders --------------------------------------------------------------------

    async def leaders_of(self, node_id: int) -> list[Leader]:
        rows = await self.db.fetchall(
            "SELECT node_id, user_id, name FROM leaders WHERE node_id = ? ORDER BY id", (node_id,)
        )
        return [Leader(r["node_id"], r["user_id"], r["name"]) for r in rows]

    async def leaders_in(self, node_ids: list[int]) -> list[Leader]:
        if not node_ids:
            return []
        marks = ",".join("?" * len(node_ids))
        rows = await self.db.fetchall(
            f"SELECT node_id, user_id, name FROM leaders WHERE node_id IN ({marks}) ORDER BY id",
            node_ids,
        )
        return [Leader(r["node_id"], r["user_id"], r["name"]) for r in rows]

    async def led_nodes(self, user_id: int) -> list[Node]:
        rows = await self.db.fetchall(
            "SELECT nodes.* FROM leaders JOIN nodes ON nodes.id = leaders.node_id"
            " WHERE leaders.user_id = ? ORDER BY nodes.id",
            (user_id,),
        )
        return [_node(r) for r in rows]

    async def leads_at_or_above(self, user_id: int, node_id: int) -> bool:
        found = await self.db.fetchval(
            f"{_ANCESTORS} SELECT 1 FROM up JOIN leaders l ON l.node_id = up.id"
            " WHERE l.user_id = ? LIMIT 1",
            (node_id, user_id),
        )
        return found is not None

    async def leads_above(self, user_id: int, node_id: int) -> bool:
        found = await self.db.fetchval(
            f"{_ANCESTORS} SELECT 1 FROM up JOIN leaders l ON l.node_id = up.id"
            " WHERE l.user_id = ? AND up.depth > 0 LIMIT 1",
            (node_id, user_id),
        )
        return found is not None

    async def add_leader(
        self, tx: Tx, node_id: int, user_id: int, name: str | None, source: str, now: datetime
    ) -> bool:
        """Make ``user_id`` a leader of the node; False if they already were."""
        changed = await tx.update(
            "INSERT OR IGNORE INTO leaders(node_id, user_id, name, source, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (node_id, user_id, name, source, to_db(now)),
        )
        return changed > 0

    # -- partners -------------------------------------------------------------------

    async def partners_of(self, node_id: int) -> list[Partner]:
        rows = await self.db.fetchall(
            "SELECT p.*, group_concat(m.user_id) AS members FROM partners p"
            " LEFT JOIN partner_members m ON m.partner_id = p.id"
            " WHERE p.node_id = ? GROUP BY p.id ORDER BY p.id",
            (node_id,),
        )
        return [_partner(r) for r in rows]

    async def partner(self, partner_id: int) -> Partner | None:
        r = await self.db.fetchone(
            "SELECT p.*, group_concat(m.user_id) AS members FROM partners p"
            " LEFT JOIN partner_members m ON m.partner_id = p.id WHERE p.id = ? GROUP BY p.id",
            (partner_id,),
        )
        return None if r is None else _partner(r)

    async def leaders_named(self, user_id: int) -> list[str]:
        """The names this user is known by as a leader (from the org file or the invite)."""
        rows = await self.db.fetchall(
            "SELECT name FROM leaders WHERE user_id = ? AND name IS NOT NULL ORDER BY id",
            (user_id,),
        )
        return [r["name"] for r in rows]

    # -- residents ------------------------------------------------------------------

    async def resident(self, user_id: int) -> Resident | None:
        r = await self.db.fetchone("SELECT * FROM residents WHERE user_id = ?", (user_id,))
        return None if r is None else Resident(r["user_id"], r["node_id"], r["unit"])

    async def register_resident(
        self, tx: Tx, user_id: int, node_id: int, unit: str | None, now: datetime
    ) -> None:
        await tx.execute(
            "INSERT INTO residents(user_id, node_id, unit, source, created_at, updated_at)"
            " VALUES (?, ?, ?, 'join', ?, ?) ON CONFLICT(user_id) DO UPDATE SET"
            " node_id = excluded.node_id, unit = coalesce(excluded.unit, residents.unit),"
            " updated_at = excluded.updated_at",
            (user_id, node_id, unit, to_db(now), to_db(now)),
        )

    async def set_unit(self, tx: Tx, user_id: int, unit: str | None, now: datetime) -> bool:
        return await tx.update(
            "UPDATE residents SET unit = ?, updated_at = ? WHERE user_id = ?",
            (unit, to_db(now), user_id),
        ) > 0

    async def remove_resident(self, tx: Tx, user_id: int, node_id: int) -> bool:
        return await tx.update(
            "DELETE FROM residents WHERE user_id = ? AND node_id = ?", (user_id, node_id)
        ) > 0

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
        r = await self.db.fetchone(
            f"{_ANCESTORS} SELECT chats.* FROM up JOIN chats ON chats.node_id = up.id"
            " WHERE chats.active = 1 ORDER BY up.depth, chats.chat_id LIMIT 1",
            (node_id,),
        )
        return None if r is None else _chat(r)

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

    async def bind_chat(
        self, tx: Tx, chat_id: int, node_id: int, by_user: int, now: datetime
    ) -> None:
        await tx.execute(
            "UPDATE chats SET node_id = ?, active = 1, bound_by = ?, bound_at = ?, updated_at = ?"
            " WHERE chat_id = ?",
            (node_id, by_user, to_db(now), to_db(now), chat_id),
        )

    async def deactivate_chat(self, tx: Tx, chat_id: int, now: datetime) -> None:
        """The bot was removed: keep the binding on record, but send nothing there."""
        await tx.execute(
            "UPDATE chats SET active = 0, updated_at = ? WHERE chat_id = ?", (to_db(now), chat_id)
        )

    async def migrate_chat(self, tx: Tx, old_id: int, new_id: int, now: datetime) -> bool:
        """A group became a supergroup: the binding follows it to the new id."""
        old = await tx.fetchone("SELECT * FROM chats WHERE chat_id = ?", (old_id,))
        if old is None:
            return False
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
        rows = await self.db.fetchall(
            "SELECT * FROM chats WHERE node_id IS NOT NULL ORDER BY chat_id"
        )
        found: dict[int, list[Chat]] = {}
        for r in rows:
            found.setdefault(r["node_id"], []).append(_chat(r))
        return found

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
