"""The org file's SQL: a whole organisation written in one transaction, and read back.

Existing rows are loaded in bulk and compared first, so a re-import of the same
file writes nothing and counts nothing as updated; writes go in batches, so a
district of 20,000 residents imports in a second or two.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from storage.db import Database, Tx
from storage.org import record_removal
from storage.timeutil import to_db

KINDS = ("nodes", "leaders", "partners", "residents", "chats")
Counts = dict[str, tuple[int, int]]  # kind → (created, updated)


# -- the plan an org file becomes, built and checked by bot/org/orgfile.py ------------
# (`where` names the entry and its line for messages)


@dataclass(frozen=True, slots=True)
class NodeEntry:
    key: str
    name: str
    level: str
    parent: str | None
    chat_id: int | None
    where: str


@dataclass(frozen=True, slots=True)
class LeaderEntry:
    node: str
    user_id: int
    name: str | None
    where: str
    removed: bool = False  # `removed = true`: no longer a leader of the node


@dataclass(frozen=True, slots=True)
class PartnerEntry:
    node: str
    kind: str
    name: str
    user_ids: tuple[int, ...]
    categories: tuple[str, ...]
    where: str


@dataclass(frozen=True, slots=True)
class ResidentEntry:
    user_id: int
    node: str
    unit: str | None
    where: str
    name: str | None = None


@dataclass
class OrgPlan:
    nodes: list[NodeEntry] = field(default_factory=list)
    leaders: list[LeaderEntry] = field(default_factory=list)
    partners: list[PartnerEntry] = field(default_factory=list)
    residents: list[ResidentEntry] = field(default_factory=list)


# -- what is stored ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredNode:
    id: int
    key: str
    name: str
    level: str
    parent_key: str | None
    chat_id: int | None = None  # the lowest active bound chat


@dataclass
class ExistingOrg:
    """What an import is checked against: the tree, and where people are attached."""

    nodes: dict[str, StoredNode]
    resident_nodes: set[str] = field(default_factory=set)
    partner_nodes: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class StoredLeader:
    node: str
    user_id: int
    name: str | None


@dataclass(frozen=True, slots=True)
class StoredPartner:
    node: str
    kind: str
    name: str
    user_ids: tuple[int, ...]
    categories: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StoredResident:
    user_id: int
    node: str
    unit: str | None
    name: str | None = None


@dataclass
class StoredOrg:
    nodes: dict[str, StoredNode]
    leaders: list[StoredLeader]
    partners: list[StoredPartner]
    residents: list[StoredResident]


async def _nodes_by_key(q: Database | Tx) -> dict[str, StoredNode]:
    rows = await q.fetchall(
        "SELECT n.id, n.key, n.name, n.level, p.key AS parent_key, c.chat_id"
        " FROM nodes n LEFT JOIN nodes p ON p.id = n.parent_id"
        " LEFT JOIN (SELECT node_id, min(chat_id) AS chat_id FROM chats"
        "            WHERE active = 1 AND node_id IS NOT NULL GROUP BY node_id) c"
        " ON c.node_id = n.id")
    return {r["key"]: StoredNode(r["id"], r["key"], r["name"], r["level"], r["parent_key"],
                                 r["chat_id"]) for r in rows}


async def load_existing(q: Database | Tx) -> ExistingOrg:
    nodes = await _nodes_by_key(q)
    key_of = {n.id: n.key for n in nodes.values()}
    residents = await q.fetchall("SELECT DISTINCT node_id FROM residents")
    partners = await q.fetchall("SELECT DISTINCT node_id FROM partners")
    return ExistingOrg(nodes, {key_of[r[0]] for r in residents},
                       {key_of[r[0]] for r in partners})


def _members(text: str | None) -> tuple[int, ...]:
    return tuple(sorted(int(u) for u in (text or "").split(",") if u))


class DryRun(Exception):  # noqa: N818 - not an error: how a dry run rolls back
    """Raised inside the import's transaction to roll it back, carrying what it did."""

    def __init__(self, counts: Counts, removed: list[StoredLeader]) -> None:
        super().__init__("dry run")
        self.counts, self.removed = counts, removed


async def apply_plan(db: Database, plan: OrgPlan, check: Callable[[ExistingOrg], None], *,
                     prune: bool = False, dry_run: bool = False
                     ) -> tuple[Counts, list[StoredLeader]]:
    """Write the plan in one transaction; `check` sees the stored org first and may raise,
    which leaves the database untouched. Leaders marked `removed` are removed, and with
    `prune` every leader the file does not list. `dry_run`: all of it, then rolled back
    (raises DryRun with what it would have done). Returns the counts and who was removed."""
    now = to_db(datetime.now(UTC))
    async with db.write() as tx:
        existing = await load_existing(tx)
        check(existing)
        counts: Counts = {"nodes": await _nodes(tx, plan, existing.nodes, now)}
        ids = {r["key"]: r["id"] for r in await tx.fetchall("SELECT id, key FROM nodes")}
        counts["leaders"] = await _leaders(tx, plan, ids, now)
        removed = await _remove_leaders(tx, plan, prune, now)
        counts["partners"] = await _partners(tx, plan, ids, now)
        counts["residents"] = await _residents(tx, plan, ids, now)
        counts["chats"] = await _chats(tx, plan, ids, now)
        if dry_run:
            raise DryRun(counts, removed)
        if removed or any(created or updated for created, updated in counts.values()):
            tx.after_commit.append(db.org_changed)
    return counts, removed


async def _remove_leaders(tx: Tx, plan: OrgPlan, prune: bool, now: str) -> list[StoredLeader]:
    """Leaders marked `removed`, and with `prune` those not listed: gone, each removal
    logged with the deadline that hands on their reports."""
    listed = {(ld.node, ld.user_id) for ld in plan.leaders if not ld.removed}
    dropped = {(ld.node, ld.user_id) for ld in plan.leaders if ld.removed}
    removed = []
    for r in await tx.fetchall("SELECT l.node_id, n.key, l.user_id, l.name FROM leaders l"
                               " JOIN nodes n ON n.id = l.node_id ORDER BY l.id"):
        pair = (r["key"], r["user_id"])
        if pair not in dropped and (not prune or pair in listed):
            continue
        await tx.execute("DELETE FROM leaders WHERE node_id = ? AND user_id = ?",
                         (r["node_id"], r["user_id"]))
        await record_removal(tx, user_id=r["user_id"], node_id=r["node_id"], name=r["name"],
                             source="file" if pair in dropped else "prune", removed_by=None,
                             now=now)
        removed.append(StoredLeader(r["key"], r["user_id"], r["name"]))
    return removed


def _parents_first(nodes: list[NodeEntry]) -> list[NodeEntry]:
    by_key = {n.key: n for n in nodes}
    ordered: list[NodeEntry] = []
    placed: set[str] = set()
    for node in nodes:
        chain: list[NodeEntry] = []
        cursor: NodeEntry | None = node
        while cursor is not None and cursor.key not in placed:  # the plan has no cycles
            chain.append(cursor)
            placed.add(cursor.key)
            cursor = by_key.get(cursor.parent) if cursor.parent else None
        ordered += reversed(chain)
    return ordered


async def _nodes(tx: Tx, plan: OrgPlan, existing: dict[str, StoredNode], now: str
                 ) -> tuple[int, int]:
    new = [n for n in _parents_first(plan.nodes) if n.key not in existing]
    changed = [n for n in plan.nodes if n.key in existing and (
        existing[n.key].name, existing[n.key].level, existing[n.key].parent_key)
        != (n.name, n.level, n.parent)]
    # parents are looked up by key inside the statement: executemany runs the rows in
    # order, so a parent inserted a row earlier is already there
    await tx.executemany(
        "INSERT INTO nodes(key, name, level, parent_id, created_at, updated_at)"
        " VALUES (?, ?, ?, (SELECT id FROM nodes WHERE key = ?), ?, ?)",
        [(n.key, n.name, n.level, n.parent, now, now) for n in new])
    await tx.executemany(
        "UPDATE nodes SET name = ?, level = ?, parent_id = (SELECT id FROM nodes WHERE key = ?),"
        " updated_at = ? WHERE key = ?",
        [(n.name, n.level, n.parent, now, n.key) for n in changed])
    return len(new), len(changed)


async def _leaders(tx: Tx, plan: OrgPlan, ids: dict[str, int], now: str) -> tuple[int, int]:
    stored = {(r["node_id"], r["user_id"]): r["name"]
              for r in await tx.fetchall("SELECT node_id, user_id, name FROM leaders")}
    new, renamed = [], []
    for ld in plan.leaders:
        if ld.removed:
            continue
        pair = (ids[ld.node], ld.user_id)
        if pair not in stored:
            new.append((*pair, ld.name, now))
        elif ld.name is not None and stored[pair] != ld.name:  # no name in the file: keep ours
            renamed.append((ld.name, *pair))
    await tx.executemany("INSERT INTO leaders(node_id, user_id, name, source, created_at)"
                         " VALUES (?, ?, ?, 'file', ?)", new)
    await tx.executemany("UPDATE leaders SET name = ? WHERE node_id = ? AND user_id = ?",
                         renamed)
    return len(new), len(renamed)


async def _partners(tx: Tx, plan: OrgPlan, ids: dict[str, int], now: str) -> tuple[int, int]:
    stored = {(r["node_id"], r["kind"]): r for r in await tx.fetchall(
        "SELECT p.id, p.node_id, p.kind, p.name, p.categories,"
        " group_concat(m.user_id) AS members FROM partners p"
        " LEFT JOIN partner_members m ON m.partner_id = p.id GROUP BY p.id")}
    created = updated = 0
    members: list[tuple[int, int]] = []
    for p in plan.partners:
        old = stored.get((ids[p.node], p.kind))
        categories = json.dumps(list(p.categories))
        if old is None:
            partner_id = await tx.insert(  # a handful per compound: one by one is fine
                "INSERT INTO partners(node_id, kind, name, categories, created_at)"
                " VALUES (?, ?, ?, ?, ?)", (ids[p.node], p.kind, p.name, categories, now))
            created += 1
        elif (old["name"], set(json.loads(old["categories"])), _members(old["members"])) == (
                p.name, set(p.categories), tuple(sorted(p.user_ids))):
            continue
        else:
            partner_id = old["id"]
            await tx.execute("UPDATE partners SET name = ?, categories = ? WHERE id = ?",
                             (p.name, categories, partner_id))
            await tx.execute("DELETE FROM partner_members WHERE partner_id = ?", (partner_id,))
            updated += 1
            for gone in sorted(set(_members(old["members"])) - set(p.user_ids)):
                await record_removal(tx, user_id=gone, partner_id=partner_id, name=None,
                                     source="file", removed_by=None, now=now)
        members += [(partner_id, u) for u in p.user_ids]
    await tx.executemany("INSERT INTO partner_members(partner_id, user_id) VALUES (?, ?)",
                         members)
    return created, updated


async def _residents(tx: Tx, plan: OrgPlan, ids: dict[str, int], now: str) -> tuple[int, int]:
    stored = {r["user_id"]: (r["node_id"], r["unit"], r["name"]) for r in await tx.fetchall(
        "SELECT user_id, node_id, unit, name FROM residents")}
    new, changed = [], []
    for r in plan.residents:
        node_id = ids[r.node]
        if r.user_id not in stored:
            new.append((r.user_id, node_id, r.unit, r.name, now, now))
            continue
        old_node, old_unit, old_name = stored[r.user_id]
        # no unit in the file keeps the one a resident gave, unless they move: a room
        # number means nothing in another building
        unit = r.unit if r.unit is not None or old_node != node_id else old_unit
        name = r.name if r.name is not None else old_name
        if (old_node, old_unit, old_name) != (node_id, unit, name):
            changed.append((node_id, unit, name, now, r.user_id))
    await tx.executemany(
        "INSERT INTO residents(user_id, node_id, unit, name, source, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, 'file', ?, ?)", new)
    await tx.executemany(
        "UPDATE residents SET node_id = ?, unit = ?, name = ?, updated_at = ? WHERE user_id = ?",
        changed)
    return len(new), len(changed)


async def _chats(tx: Tx, plan: OrgPlan, ids: dict[str, int], now: str) -> tuple[int, int]:
    stored = {r["chat_id"]: (r["node_id"], r["active"]) for r in await tx.fetchall(
        "SELECT chat_id, node_id, active FROM chats")}
    new, rebound = [], []
    for n in plan.nodes:
        if n.chat_id is None:
            continue
        old = stored.get(n.chat_id)
        if old is None:
            new.append((n.chat_id, ids[n.key], now, now))
        elif old != (ids[n.key], 1):
            rebound.append((ids[n.key], now, now, n.chat_id))
    # the type stays what Telegram told us; 'group' only until the bot sees the chat
    await tx.executemany(
        "INSERT INTO chats(chat_id, node_id, type, active, bound_at, updated_at)"
        " VALUES (?, ?, 'group', 1, ?, ?)", new)
    await tx.executemany(
        "UPDATE chats SET node_id = ?, active = 1, type = coalesce(type, 'group'),"
        " bound_at = ?, updated_at = ? WHERE chat_id = ?", rebound)
    return len(new), len(rebound)


async def read_org(db: Database) -> StoredOrg:
    """Everything an export writes, read as one consistent picture."""
    # the write lock is taken only for its snapshot: separate reads could straddle an
    # import and export a leader of a node they did not see
    async with db.write() as tx:
        nodes = await _nodes_by_key(tx)
        leaders = [StoredLeader(r["key"], r["user_id"], r["name"]) for r in await tx.fetchall(
            "SELECT n.key, l.user_id, l.name FROM leaders l JOIN nodes n ON n.id = l.node_id"
            " ORDER BY l.id")]
        partners = [StoredPartner(r["key"], r["kind"], r["name"], _members(r["members"]),
                                  tuple(json.loads(r["categories"])))
                    for r in await tx.fetchall(
            "SELECT n.key, p.kind, p.name, p.categories, group_concat(m.user_id) AS members"
            " FROM partners p JOIN nodes n ON n.id = p.node_id"
            " LEFT JOIN partner_members m ON m.partner_id = p.id GROUP BY p.id, n.key")]
        residents = [StoredResident(r["user_id"], r["key"], r["unit"], r["name"])
                     for r in await tx.fetchall(
            "SELECT r.user_id, n.key, r.unit, r.name FROM residents r"
            " JOIN nodes n ON n.id = r.node_id WHERE r.user_id > 0")]
    return StoredOrg(nodes, leaders, partners, residents)
