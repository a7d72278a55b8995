"""The org file (TOML): parse, validate, import all-or-nothing, export.

Every problem in a file is collected and named by its entry and line, so a
community worker fixes the file in one go; a file with any problem changes
nothing. Re-importing updates by key and never duplicates.
"""

from __future__ import annotations

import asyncio
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.settings import Level, Settings
from storage.db import Database
from storage.orgfile_repo import ExistingNode, OrgSnapshot, apply_plan, load_nodes, snapshot

KEY = re.compile(r"^[a-z0-9-]{1,32}$")
PARTNER_KINDS = ("property", "owners_committee")
SECTIONS = {
    "nodes": {"key", "name", "level", "parent", "chat_id"},
    "leaders": {"node", "user_id", "name"},
    "partners": {"node", "kind", "name", "user_ids", "categories"},
    "residents": {"user_id", "node", "unit"},
}
UNIT_MAX = 32
NAME_MAX = 64


class OrgFileError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


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


@dataclass
class OrgPlan:
    nodes: list[NodeEntry] = field(default_factory=list)
    leaders: list[LeaderEntry] = field(default_factory=list)
    partners: list[PartnerEntry] = field(default_factory=list)
    residents: list[ResidentEntry] = field(default_factory=list)


@dataclass
class ImportSummary:
    counts: dict[str, list[int]]  # kind → [created, updated]

    def describe(self) -> str:
        return "; ".join(f"{kind}: {c} created, {u} updated"
                         for kind, (c, u) in self.counts.items())

    @property
    def changed(self) -> bool:
        return any(c or u for c, u in self.counts.values())


def _header_lines(text: str) -> dict[str, list[int]]:
    """Line numbers of each [[section]] header, in order (tomllib gives none)."""
    found: dict[str, list[int]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = re.match(r"^\s*\[\[\s*([A-Za-z_]+)\s*\]\]", line)
        if match:
            found.setdefault(match.group(1), []).append(number)
    return found


def _is_user_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _text(value: Any, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value.strip()) <= limit


class _Parser:
    def __init__(self, text: str, levels: list[Level], categories: list[str] | None) -> None:
        self.text, self.levels, self.categories = text, [lv.key for lv in levels], categories
        self.problems: list[str] = []
        self.lines = _header_lines(text)

    def where(self, section: str, index: int, entry: dict[str, Any], label: str) -> str:
        lines = self.lines.get(section, [])
        line = f", line {lines[index]}" if index < len(lines) else ""
        ident = entry.get(label)
        named = f" ({label} {json.dumps(ident, ensure_ascii=False)}" if ident is not None else " ("
        return f"{section}[{index + 1}]{named}{line})".replace(" (, ", " (")

    def bad(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def entries(self, data: dict[str, Any], section: str, label: str):  # type: ignore[no-untyped-def]
        items = data.get(section, [])
        if not isinstance(items, list):
            self.problems.append(f"{section}: must be written as [[{section}]] tables")
            return
        for index, entry in enumerate(items):
            where = self.where(section, index, entry if isinstance(entry, dict) else {}, label)
            if not isinstance(entry, dict):
                self.bad(where, "must be a table")
                continue
            for unknown in sorted(set(entry) - SECTIONS[section]):
                self.bad(where, f"unknown key {unknown!r}")
            yield where, entry

    def parse(self) -> OrgPlan:
        try:
            data = tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as exc:
            raise OrgFileError([f"not valid TOML: {exc}"]) from exc
        for unknown in sorted(set(data) - set(SECTIONS)):
            self.problems.append(f"unknown section [[{unknown}]] (expected: nodes, leaders, "
                                 "partners, residents)")
        plan = OrgPlan()
        for where, e in self.entries(data, "nodes", "key"):
            self._node(plan, where, e)
        for where, e in self.entries(data, "leaders", "user_id"):
            if self._needs(where, e, "node", "user_id"):
                if not _is_user_id(e["user_id"]):
                    self.bad(where, "user_id must be a positive whole number")
                elif e.get("name") is not None and not _text(e["name"], NAME_MAX):
                    self.bad(where, f"name must be text of 1 to {NAME_MAX} characters")
                else:
                    plan.leaders.append(LeaderEntry(str(e["node"]), e["user_id"], e.get("name"),
                                                    where))
        for where, e in self.entries(data, "partners", "name"):
            self._partner(plan, where, e)
        for where, e in self.entries(data, "residents", "user_id"):
            if self._needs(where, e, "node", "user_id"):
                unit = e.get("unit")
                if not _is_user_id(e["user_id"]):
                    self.bad(where, "user_id must be a positive whole number")
                elif unit is not None and not _text(unit, UNIT_MAX):
                    self.bad(where, f"unit must be text of 1 to {UNIT_MAX} characters")
                else:
                    plan.residents.append(ResidentEntry(e["user_id"], str(e["node"]),
                                                        unit.strip() if unit else None, where))
        return plan

    def _needs(self, where: str, entry: dict[str, Any], *keys: str) -> bool:
        missing = [k for k in keys if k not in entry]
        for key in missing:
            self.bad(where, f"missing {key!r}")
        return not missing

    def _node(self, plan: OrgPlan, where: str, e: dict[str, Any]) -> None:
        if not self._needs(where, e, "key", "name", "level"):
            return
        ok = True
        if not isinstance(e["key"], str) or not KEY.match(e["key"]):
            self.bad(where, "key must be 1 to 32 of a-z, 0-9 and -")
            ok = False
        if not _text(e["name"], NAME_MAX):
            self.bad(where, f"name must be text of 1 to {NAME_MAX} characters")
            ok = False
        if e["level"] not in self.levels:
            self.bad(where, f"unknown level {e['level']!r} (levels: {', '.join(self.levels)})")
            ok = False
        chat_id = e.get("chat_id")
        if chat_id is not None and (not isinstance(chat_id, int) or isinstance(chat_id, bool)
                                    or chat_id >= 0):
            self.bad(where, f"bad chat_id {chat_id!r}: a group chat id is a negative number")
            ok = False
        parent = e.get("parent")
        if parent is not None and not isinstance(parent, str):
            self.bad(where, "parent must be a node key")
            ok = False
        if ok:
            plan.nodes.append(NodeEntry(e["key"], e["name"].strip(), e["level"], parent, chat_id,
                                        where))

    def _partner(self, plan: OrgPlan, where: str, e: dict[str, Any]) -> None:
        if not self._needs(where, e, "node", "kind", "name"):
            return
        user_ids = e.get("user_ids", [])
        categories = e.get("categories", [])
        if e["kind"] not in PARTNER_KINDS:
            self.bad(where, f"kind must be one of {', '.join(PARTNER_KINDS)}")
        elif not _text(e["name"], NAME_MAX):
            self.bad(where, f"name must be text of 1 to {NAME_MAX} characters")
        elif not isinstance(user_ids, list) or not all(_is_user_id(u) for u in user_ids):
            self.bad(where, "user_ids must be a list of positive whole numbers")
        elif not isinstance(categories, list) or (self.categories is not None and any(
                c not in self.categories for c in categories)):
            self.bad(where, f"categories must be a list of: {', '.join(self.categories or [])}")
        else:
            plan.partners.append(PartnerEntry(str(e["node"]), e["kind"], e["name"].strip(),
                                              tuple(user_ids), tuple(categories), where))


def parse_org_file(text: str, levels: list[Level],
                   categories: list[str] | None = None) -> OrgPlan:
    """Parse and check one file on its own; raises OrgFileError with every problem."""
    parser = _Parser(text, levels, categories)
    plan = parser.parse()
    _check_within_file(plan, parser.problems)
    if parser.problems:
        raise OrgFileError(parser.problems)
    return plan


def _check_within_file(plan: OrgPlan, problems: list[str]) -> None:
    seen: dict[str, str] = {}
    chats: dict[int, str] = {}
    for n in plan.nodes:
        if n.key in seen:
            problems.append(f"{n.where}: duplicate key {n.key!r} (first at {seen[n.key]})")
        seen.setdefault(n.key, n.where)
        if n.chat_id is not None:
            if n.chat_id in chats:
                problems.append(f"{n.where}: chat_id {n.chat_id} is already bound to "
                                f"{chats[n.chat_id]}")
            chats.setdefault(n.chat_id, n.where)
    pairs: set[tuple[str, int]] = set()
    for ld in plan.leaders:
        if (ld.node, ld.user_id) in pairs:
            problems.append(f"{ld.where}: duplicate leader {ld.user_id} of {ld.node!r}")
        pairs.add((ld.node, ld.user_id))
    people: set[int] = set()
    for r in plan.residents:
        if r.user_id in people:
            problems.append(f"{r.where}: resident {r.user_id} is listed twice")
        people.add(r.user_id)
    kinds: set[tuple[str, str]] = set()
    for p in plan.partners:
        if (p.node, p.kind) in kinds:
            problems.append(f"{p.where}: a second {p.kind} for {p.node!r}")
        kinds.add((p.node, p.kind))


def _check_against(plan: OrgPlan, existing: dict[str, ExistingNode],
                   levels: list[str]) -> list[str]:
    """Checks that need the database: parents, cycles, level order, where things attach."""
    problems: list[str] = []
    level_of = {k: n.level for k, n in existing.items()}
    parent_of = {k: n.parent_key for k, n in existing.items()}
    for n in plan.nodes:
        level_of[n.key], parent_of[n.key] = n.level, n.parent
    rank = {key: i for i, key in enumerate(levels)}
    for n in plan.nodes:
        if n.parent is None:
            continue
        if n.parent not in level_of:
            problems.append(f"{n.where}: unknown parent {n.parent!r}")
            continue
        parent_level = level_of[n.parent]
        if parent_level in rank and rank[parent_level] >= rank[n.level]:
            problems.append(f"{n.where}: a {n.level} cannot be under the {parent_level} "
                            f"{n.parent!r} (levels go {' > '.join(levels)})")
        seen, cursor = {n.key}, n.parent
        while cursor is not None:
            if cursor in seen:
                problems.append(f"{n.where}: parents form a cycle through {cursor!r}")
                break
            seen.add(cursor)
            cursor = parent_of.get(cursor)
    compound = "compound" if "compound" in rank else None
    homes = set(levels[-2:])
    for entry in (*plan.leaders, *plan.partners, *plan.residents):
        if entry.node not in level_of:
            problems.append(f"{entry.where}: unknown node {entry.node!r}")
        elif isinstance(entry, PartnerEntry) and compound and level_of[entry.node] != compound:
            problems.append(f"{entry.where}: partners attach to a compound, "
                            f"not the {level_of[entry.node]} {entry.node!r}")
        elif isinstance(entry, ResidentEntry) and level_of[entry.node] not in homes:
            problems.append(f"{entry.where}: residents live under a {' or '.join(sorted(homes))}"
                            f", not the {level_of[entry.node]} {entry.node!r}")
    return problems


async def import_org(db: Database, settings: Settings, path: Path) -> ImportSummary:
    text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    plan = parse_org_file(text, settings.levels, settings.reports.categories)
    problems = _check_against(plan, await load_nodes(db), settings.level_keys)
    if problems:
        raise OrgFileError(problems)
    return ImportSummary(await apply_plan(db, plan))


def _toml(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)  # JSON strings and lists are valid TOML


async def export_org(db: Database, settings: Settings) -> str:
    snap: OrgSnapshot = await snapshot(db)
    out = ["# Linli organisation, exported. Re-import with: linli org import FILE\n"]
    for n in snap.nodes:
        lines = [f"key = {_toml(n.key)}", f"name = {_toml(n.name)}", f"level = {_toml(n.level)}"]
        if n.parent_key:
            lines.append(f"parent = {_toml(n.parent_key)}")
        if n.chat_id is not None:
            lines.append(f"chat_id = {n.chat_id}")
        out.append("[[nodes]]\n" + "\n".join(lines) + "\n")
    for node_key, user_id, name in snap.leaders:
        extra = f"\nname = {_toml(name)}" if name else ""
        out.append(f"[[leaders]]\nnode = {_toml(node_key)}\nuser_id = {user_id}{extra}\n")
    for node_key, kind, name, user_ids, categories in snap.partners:
        out.append(f"[[partners]]\nnode = {_toml(node_key)}\nkind = {_toml(kind)}\n"
                   f"name = {_toml(name)}\nuser_ids = {_toml(user_ids)}\n"
                   f"categories = {_toml(categories)}\n")
    for user_id, node_key, unit in snap.residents:
        extra = f"\nunit = {_toml(unit)}" if unit else ""
        out.append(f"[[residents]]\nuser_id = {user_id}\nnode = {_toml(node_key)}{extra}\n")
    return "\n".join(out)
