"""The org file's SQL: the whole organisation written in one transaction, and read back.

Existing rows are loaded in bulk and compared first, so a re-import of the same
file writes nothing and counts nothing as updated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from storage.db import Database, Tx
from storage.timeutil import to_db

if TYPE_CHECKING:
    from bot.orgfile import OrgPlan


@dataclass(frozen=True, slots=True)
class ExistingNode:
    id: int
    key: str
    name: str
    level: str
    parent_key: str | None
    chat_id: int | None = None


@dataclass
class OrgSnapshot:
    nodes: list[ExistingNode]  # parents before children
    leaders: list[tuple[str, int, str | None]]
    partners: list[tuple[str, str, str, list[int], list[str]]]
    residents: list[tuple[int, str, str | None]]


async def load_nodes(db: Database | Tx) -> dict[str, ExistingNode]:
    rows = await db.fetchall(
        "SELECT n.id, n.key, n.name, n.level, p.key AS parent_key,"
        " (SELECT min(c.chat_id) FROM chats c WHERE c.node_id = n.id AND c.active = 1) AS chat_id"
        " FROM nodes n LEFT JOIN nodes p ON p.id = n.parent_id"
    )
    return {r["key"]: ExistingNode(r["id"], r["key"], r["name"], r["level"], r["parent_key"],
                                   r["chat_id"]) for r in rows}


def _parents_first(plan: OrgPlan) -> list:  # type: ignore[type-arg]
    by_key = {n.key: n for n in plan.nodes}
    ordered, placed = [], set()

    def place(key: str) -> None:
        if key in placed or key not in by_key:
            return
        placed.add(key)
        parent = by_key[key].parent
        if parent:
            place(parent)
        ordered.append(by_key[key])

    for node in plan.nodes:
        place(node.key)
    return ordered


async def apply_plan(db: Database, plan: OrgPlan) -> dict[str, list[int]]:
    now = to_db(datetime.now(UTC))
    counts = {kind: [0, 0] for kind in ("nodes", "chats", "leaders", "partners", "residents")}
    async with db.write() as tx:
        existing = await load_nodes(tx)
        ids = {key: n.id for key, n in existing.items()}
        for n in _parents_first(plan):
            parent_id = ids.get(n.parent) if n.parent else None
            old = existing.get(n.key)
            if old is None:
                ids[n.key] = await tx.insert(
                    "INSERT INTO nodes(key, name, level, parent_id, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)", (n.key, n.name, n.level, parent_id, now, now))
                counts["nodes"][0] += 1
            elif (old.name, old.level, old.parent_key) != (n.name, n.level, n.parent):
                await tx.execute(
                    "UPDATE nodes SET name = ?, level = ?, parent_id = ?, updated_at = ?"
                    " WHERE id = ?", (n.name, n.level, parent_id, now, old.id))
                counts["nodes"][1] += 1
        await _chats(tx, plan, ids, now, counts["chats"])
        await _leaders(tx, plan, ids, now, counts["leaders"])
        await _partners(tx, plan, ids, now, counts["partners"])
        await _residents(tx, plan, ids, now, counts["residents"])
    return counts


async def _chats(tx: Tx, plan: OrgPlan, ids: dict[str, int], now: str, count: list[int]) -> None:
    rows = {r["chat_id"]: r for r in await tx.fetchall("SELECT * FROM chats")}
    for n in plan.nodes:
        if n.chat_id is None:
            continue
        old = rows.get(n.chat_id)
        if old is None:
            await tx.execute(
                "INSERT INTO chats(chat_id, node_id, type, active, bound_at, updated_at)"
                " VALUES (?, ?, 'group', 1, ?, ?)", (n.chat_id, ids[n.key], now, now))
            count[0] += 1
        elif old["node_id"] != ids[n.key]:
            await tx.execute(
                "UPDATE chats SET node_id = ?, bound_at = ?, updated_at = ? WHERE chat_id = ?",
                (ids[n.key], now, now, n.chat_id))
            count[1] += 1


async def _leaders(tx: Tx, plan: OrgPlan, ids: dict[str, int], now: str,
                   count: list[int]) -> None:
    rows = {(r["node_id"], r["user_id"]): r["name"]
            for r in await tx.fetchall("SELECT node_id, user_id, name FROM leaders")}
    new, renamed = [], []
    for ld in plan.leaders:
        pair = (ids[ld.node], ld.user_id)
        if pair not in rows:
            new.append((*pair, ld.name, now))
        elif ld.name is not None and rows[pair] != ld.name:
            renamed.append((ld.name, *pair))
    await tx.executemany("INSERT INTO leaders(node_id, user_id, name, source, created_at)"
                         " VALUES (?, ?, ?, 'file', ?)", new)
    await tx.executemany("UPDATE leaders SET name = ? WHERE node_id = ? AND user_id = ?", renamed)
    count[0] += len(new)
    count[1] += len(renamed)


async def _partners(tx: Tx, plan: OrgPlan, ids: dict[str, int], now: str,
                    count: list[int]) -> None:
    rows = {(r["node_id"], r["kind"]): r for r in await tx.fetchall(
        "SELECT p.*, group_concat(m.user_id) AS members FROM partners p"
        " LEFT JOIN partner_members m ON m.partner_id = p.id GROUP BY p.id")}
    for p in plan.partners:
        old = rows.get((ids[p.node], p.kind))
        categories = json.dumps(list(p.categories))
        if old is None:
            partner_id = await tx.insert(
                "INSERT INTO partners(node_id, kind, name, categories, created_at)"
                " VALUES (?, ?, ?, ?, ?)", (ids[p.node], p.kind, p.name, categories, now))
            count[0] += 1
        else:
            members = sorted(int(u) for u in (old["members"] or "").split(",") if u)
            if (old["name"], json.loads(old["categories"]), members) == (
                    p.name, list(p.categories), sorted(p.user_ids)):
                continue
            partner_id = old["id"]
            await tx.execute("UPDATE partners SET name = ?, categories = ? WHERE id = ?",
                             (p.name, categories, partner_id))
            await tx.execute("DELETE FROM partner_members WHERE partner_id = ?", (partner_id,))
            count[1] += 1
        await tx.executemany("INSERT INTO partner_members(partner_id, user_id) VALUES (?, ?)",
                             [(partner_id, u) for u in sorted(set(p.user_ids))])


async def _residents(tx: Tx, plan: OrgPlan, ids: dict[str, int], now: str,
                     count: list[int]) -> None:
    rows = {r["user_id"]: (r["node_id"], r["unit"])
            for r in await tx.fetchall("SELECT user_id, node_id, unit FROM residents")}
    new, moved = [], []
    for r in plan.residents:
        wanted = (ids[r.node], r.unit)
        if r.user_id not in rows:
            new.append((r.user_id, *wanted, now, now))
        elif rows[r.user_id] != wanted:
            moved.append((*wanted, now, r.user_id))
    await tx.executemany(
        "INSERT INTO residents(user_id, node_id, unit, source, created_at, updated_at)"
        " VALUES (?, ?, ?, 'file', ?, ?)", new)
    await tx.executemany(
        "UPDATE residents SET node_id = ?, unit = ?, updated_at = ? WHERE user_id = ?", moved)
    count[0] += len(new)
    count[1] += len(moved)


async def snapshot(db: Database) -> OrgSnapshot:
    nodes = await load_nodes(db)
    children: dict[str | None, list[ExistingNode]] = {}
    for n in nodes.values():
        children.setdefault(n.parent_key, []).append(n)
    ordered: list[ExistingNode] = []

    def walk(parent: str | None) -> None:
        for n in sorted(children.get(parent, []), key=lambda n: n.key):
            ordered.append(n)
            walk(n.key)

    walk(None)
    leaders = [(r["key"], r["user_id"], r["name"]) for r in await db.fetchall(
        "SELECT n.key, l.user_id, l.name FROM leaders l JOIN nodes n ON n.id = l.node_id"
        " ORDER BY n.key, l.id")]
    partners = [(r["key"], r["kind"], r["name"],
                 sorted(int(u) for u in (r["members"] or "").split(",") if u),
                 json.loads(r["categories"])) for r in await db.fetchall(
        "SELECT n.key, p.kind, p.name, p.categories, group_concat(m.user_id) AS members"
        " FROM partners p JOIN nodes n ON n.id = p.node_id"
        " LEFT JOIN partner_members m ON m.partner_id = p.id GROUP BY p.id ORDER BY n.key, p.kind")]
    residents = [(r["user_id"], r["key"], r["unit"]) for r in await db.fetchall(
        "SELECT r.user_id, n.key, r.unit FROM residents r JOIN nodes n ON n.id = r.node_id"
        " ORDER BY r.user_id")]
    return OrgSnapshot(ordered, leaders, partners, residents)
