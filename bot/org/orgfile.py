"""The org file (TOML): parse, validate, import all-or-nothing, export.

Every problem in a file is collected and named by its entry and line, so a
community worker fixes the file in one go; a file with any problem changes
nothing. Re-importing updates by key and never duplicates; it deletes only leaders marked
`removed = true`, and with --prune every leader the file no longer lists (shown first as a
dry run).
"""

from __future__ import annotations

import asyncio
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from bot.org.org import UNIT_MAX
from config.settings import Level, Settings
from storage.db import Database
from storage.orgfile_repo import (
    KINDS,
    DryRun,
    ExistingOrg,
    LeaderEntry,
    NodeEntry,
    OrgPlan,
    PartnerEntry,
    ResidentEntry,
    StoredLeader,
    apply_plan,
    read_org,
)

__all__ = ["Counts", "ImportSummary", "LeaderEntry", "NodeEntry", "OrgFileError", "OrgPlan",
           "PartnerEntry", "ResidentEntry", "export_org", "import_org", "parse_org_file"]

KEY = re.compile(r"[a-z0-9-]{1,32}")
PARTNER_KINDS = ("property", "owners_committee")
NAME_MAX = 64
# section → (required keys, optional keys, the keys that name an entry in messages)
SECTIONS: dict[str, tuple[set[str], set[str], tuple[str, ...]]] = {
    "nodes": ({"key", "name", "level"}, {"parent", "chat_id"}, ("key",)),
    "leaders": ({"node", "user_id"}, {"name", "removed"}, ("node", "user_id")),
    "partners": ({"node", "kind", "name"}, {"user_ids", "categories"}, ("node", "kind")),
    "residents": ({"user_id", "node"}, {"unit", "name"}, ("user_id",)),
}


class OrgFileError(Exception):
    """A file that cannot be imported; `problems` lists every fault found, one per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Counts(NamedTuple):
    created: int = 0
    updated: int = 0


@dataclass(frozen=True)
class ImportSummary:
    nodes: Counts = Counts()
    leaders: Counts = Counts()
    partners: Counts = Counts()
    residents: Counts = Counts()
    chats: Counts = Counts()
    removed_leaders: tuple[StoredLeader, ...] = ()  # `removed = true`, or not listed (prune)

    @property
    def counts(self) -> dict[str, Counts]:
        return {kind: getattr(self, kind) for kind in KINDS}

    @property
    def changed(self) -> bool:
        return bool(self.removed_leaders) or any(c.created or c.updated
                                                 for c in self.counts.values())

    def describe(self) -> str:
        text = "; ".join(f"{kind}: {c.created} created, {c.updated} updated"
                         for kind, c in self.counts.items())
        if self.removed_leaders:
            text += f"; leaders removed: {len(self.removed_leaders)}"
        return text

    def removals(self) -> list[str]:
        """One line per leader removed: node, user id, name."""
        return [f"{ld.node} {ld.user_id} {ld.name or ''}".rstrip()
                for ld in self.removed_leaders]


def _q(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)  # TOML dates are not JSON


def _is_user_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _text_problem(name: str, value: Any, limit: int) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return f"{name} must be non-empty text"
    if len(value) > limit:
        return f"{name} is {len(value)} characters long; at most {limit} are allowed"
    return None


_HEADER = re.compile(r"\s*\[\[\s*(?:\"([^\"]*)\"|'([^']*)'|([A-Za-z0-9_-]+))\s*\]\]")
_MULTILINE = re.compile(r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'')


def _header_lines(text: str) -> dict[str, list[int]]:
    """Line numbers of each [[section]] header in order: tomllib reports none."""
    # blank out multi-line strings (keeping their line breaks): a header quoted in one
    # is text, not a header
    text = _MULTILINE.sub(lambda m: "\n" * m.group().count("\n"), text)
    found: dict[str, list[int]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if match := _HEADER.match(line):
            found.setdefault(next(g for g in match.groups() if g is not None), []).append(number)
    return found


class _Reader:
    """Turns parsed TOML into a plan, collecting every problem on the way."""

    def __init__(self, text: str, levels: list[Level], categories: list[str] | None) -> None:
        self.levels = [lv.key for lv in levels]
        self.categories = categories
        self.lines = _header_lines(text)
        self.problems: list[str] = []
        self.broken: set[str] = set()  # node keys whose entry is faulty: no follow-on errors

    def where(self, section: str, index: int, entry: dict[str, Any], count: int) -> str:
        labels = [f"{k} {_q(entry[k])}" for k in SECTIONS[section][2]
                  if isinstance(entry.get(k), str | int)]
        lines = self.lines.get(section, [])
        if len(lines) == count:  # else the entries were not all written as [[headers]]
            labels.append(f"line {lines[index]}")
        return f"{section}[{index + 1}]" + (f" ({', '.join(labels)})" if labels else "")

    def read(self, data: dict[str, Any]) -> OrgPlan:
        for name, value in data.items():
            if name not in SECTIONS:
                what = f"section [[{name}]]" if isinstance(value, list) else f"key {_q(name)}"
                self.problems.append(f"unknown {what} (the file has [[nodes]], [[leaders]], "
                                     "[[partners]] and [[residents]])")
        plan = OrgPlan()
        readers = {"nodes": (self._node, plan.nodes), "leaders": (self._leader, plan.leaders),
                   "partners": (self._partner, plan.partners),
                   "residents": (self._resident, plan.residents)}
        for section, (read_entry, target) in readers.items():
            items = data.get(section, [])
            if not isinstance(items, list):
                self.problems.append(f"{section}: must be written as [[{section}]] entries")
                continue
            for index, entry in enumerate(items):
                if not isinstance(entry, dict):
                    self.problems.append(f"{section}[{index + 1}]: must be a [[{section}]] table")
                    continue
                where = self.where(section, index, entry, len(items))
                problems = self._shape(section, entry)
                complete = SECTIONS[section][0] <= entry.keys()
                built = read_entry(entry, where, problems) if complete else None
                if built is None and section == "nodes" and isinstance(entry.get("key"), str):
                    self.broken.add(entry["key"])
                self.problems += [f"{where}: {p}" for p in problems]
                if built is not None:
                    target.append(built)  # type: ignore[arg-type]
        return plan

    def _shape(self, section: str, entry: dict[str, Any]) -> list[str]:
        required, optional, _ = SECTIONS[section]
        problems = [f"unknown key {_q(k)} (allowed: {', '.join(sorted(required | optional))})"
                    for k in entry if k not in required | optional]
        return problems + [f"missing {_q(k)}" for k in sorted(required - set(entry))]

    def _node_ref(self, e: dict[str, Any], problems: list[str]) -> str:
        if not isinstance(e["node"], str):
            problems.append(f"node must be a node key in quotes, not {_q(e['node'])}")
        return str(e["node"])

    def _user(self, value: Any, problems: list[str]) -> int:
        if not _is_user_id(value):
            problems.append(f"user_id must be a positive whole number, not {_q(value)}")
        return value if isinstance(value, int) else 0

    def _optional_text(self, e: dict[str, Any], name: str, limit: int,
                       problems: list[str]) -> str | None:
        value = e.get(name)
        if value is not None and (problem := _text_problem(name, value, limit)):
            problems.append(problem)
        return value

    def _node(self, e: dict[str, Any], where: str, problems: list[str]) -> NodeEntry | None:
        key, level, parent, chat_id = e["key"], e["level"], e.get("parent"), e.get("chat_id")
        if not isinstance(key, str) or not KEY.fullmatch(key):
            problems.append(f"key {_q(key)} must be 1 to 32 characters from a-z, 0-9 and -")
        if problem := _text_problem("name", e["name"], NAME_MAX):
            problems.append(problem)
        if level not in self.levels:
            problems.append(f"unknown level {_q(level)} (levels: {', '.join(self.levels)})")
        if parent is not None and not isinstance(parent, str):
            problems.append(f"parent must be a node key in quotes, not {_q(parent)}")
        if chat_id is not None and (not isinstance(chat_id, int) or isinstance(chat_id, bool)
                                    or chat_id >= 0):
            problems.append(f"bad chat_id {_q(chat_id)}: a group chat id is a negative number")
        return None if problems else NodeEntry(key, e["name"], level, parent, chat_id, where)

    def _leader(self, e: dict[str, Any], where: str, problems: list[str]) -> LeaderEntry | None:
        node, user_id = self._node_ref(e, problems), self._user(e["user_id"], problems)
        name = self._optional_text(e, "name", NAME_MAX, problems)
        removed = e.get("removed", False)
        if not isinstance(removed, bool):
            problems.append(f"removed must be true or false, not {_q(removed)}")
        return None if problems else LeaderEntry(node, user_id, name, where, removed is True)

    def _partner(self, e: dict[str, Any], where: str, problems: list[str]) -> PartnerEntry | None:
        node = self._node_ref(e, problems)
        if e["kind"] not in PARTNER_KINDS:
            problems.append(f"kind {_q(e['kind'])} must be one of {', '.join(PARTNER_KINDS)}")
        if problem := _text_problem("name", e["name"], NAME_MAX):
            problems.append(problem)
        user_ids, categories = e.get("user_ids", []), e.get("categories", [])
        if not isinstance(user_ids, list) or not all(_is_user_id(u) for u in user_ids):
            problems.append(f"user_ids must be a list of positive whole numbers, not "
                            f"{_q(user_ids)}")
        known = self.categories
        if not isinstance(categories, list) or not all(
                isinstance(c, str) and (known is None or c in known) for c in categories):
            allowed = f" from: {', '.join(known)}" if known is not None else ""
            problems.append(f"categories must be a list of category names{allowed}; "
                            f"got {_q(categories)}")
        if problems:
            return None
        # a name written twice in a list means nothing more; keep the first
        return PartnerEntry(node, e["kind"], e["name"], tuple(dict.fromkeys(user_ids)),
                            tuple(dict.fromkeys(categories)), where)

    def _resident(self, e: dict[str, Any], where: str,
                  problems: list[str]) -> ResidentEntry | None:
        node, user_id = self._node_ref(e, problems), self._user(e["user_id"], problems)
        unit = self._optional_text(e, "unit", UNIT_MAX, problems)
        name = self._optional_text(e, "name", NAME_MAX, problems)
        return None if problems else ResidentEntry(user_id, node, unit, where, name)


def _check_within_file(plan: OrgPlan) -> list[str]:
    """Anything written twice: node keys, chats, leaders, partners, residents."""
    seen = [
        *((("key", n.key), n.where, f"duplicate key {_q(n.key)}") for n in plan.nodes),
        *((("chat", n.chat_id), n.where, f"chat_id {n.chat_id} is bound to two nodes")
          for n in plan.nodes if n.chat_id is not None),
        *((("leader", ld.node, ld.user_id), ld.where,
           f"duplicate leader {ld.user_id} of {_q(ld.node)}") for ld in plan.leaders),
        *((("partner", p.node, p.kind), p.where, f"a second {p.kind} of {_q(p.node)}")
          for p in plan.partners),
        *((("resident", r.user_id), r.where, f"resident {r.user_id} is listed twice")
          for r in plan.residents),
    ]
    first: dict[tuple[Any, ...], str] = {}
    problems = [f"{where}: {message} (first at {first[identity]})"
                for identity, where, message in seen
                if first.setdefault(identity, where) != where]
    return problems


def _read(text: str, levels: list[Level],
          categories: list[str] | None) -> tuple[OrgPlan, list[str], set[str]]:
    text = text.removeprefix("\ufeff")  # Windows editors start a UTF-8 file with a BOM
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise OrgFileError([f"not valid TOML: {exc}"]) from exc
    reader = _Reader(text, levels, categories)
    plan = reader.read(data)
    return plan, reader.problems + _check_within_file(plan), reader.broken


def parse_org_file(text: str, levels: list[Level],
                   categories: list[str] | None = None) -> OrgPlan:
    """Parse and check one file on its own (no database); raises OrgFileError."""
    plan, problems, _ = _read(text, levels, categories)
    if problems:
        raise OrgFileError(problems)
    return plan


def _cycles(plan: OrgPlan, parent_of: dict[str, str | None]) -> tuple[list[str], set[str]]:
    """Each loop in the merged tree once, blamed on its first entry in the file."""
    position = {n.key: i for i, n in enumerate(plan.nodes)}
    done: set[str] = set()
    looped: set[str] = set()
    problems: list[str] = []
    for n in plan.nodes:
        path: list[str] = []
        cursor: str | None = n.key
        while cursor is not None and cursor in parent_of and cursor not in done:
            if cursor in path:
                loop = path[path.index(cursor):]
                first = plan.nodes[min(position[k] for k in loop if k in position)]
                problems.append(f"{first.where}: parents form a cycle: "
                                f"{' → '.join([*loop, cursor])}")
                looped.update(loop)
                break
            path.append(cursor)  # as long as the levels allow: a short walk
            cursor = parent_of[cursor]
        done.update(path)
    return problems, looped


def check_against(plan: OrgPlan, existing: ExistingOrg, levels: list[str],
                  broken: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """The checks that need the database: the file merged into the stored tree."""
    level_of = {k: n.level for k, n in existing.nodes.items()}
    parent_of = {k: n.parent_key for k, n in existing.nodes.items()}
    for n in plan.nodes:
        level_of[n.key], parent_of[n.key] = n.level, n.parent
    problems, looped = _cycles(plan, parent_of)
    rank = {key: i for i, key in enumerate(levels)}

    def above(parent: str, child: str) -> bool:
        a, b = level_of.get(parent), level_of.get(child)
        return a not in rank or b not in rank or rank[a] < rank[b]  # unknown: `linli check`

    in_file = {n.key for n in plan.nodes}
    stored_children: dict[str, list[str]] = {}
    for key, stored in existing.nodes.items():
        if key not in in_file and stored.parent_key in in_file:
            stored_children.setdefault(stored.parent_key, []).append(key)
    order = f"(levels: {' > '.join(levels)})"
    for n in plan.nodes:
        if n.parent is not None and n.parent not in level_of and n.parent not in broken:
            problems.append(f"{n.where}: unknown parent {_q(n.parent)}")
        elif n.parent in level_of and n.key not in looped and not above(n.parent, n.key):
            problems.append(f"{n.where}: a {n.level} cannot be under the "
                            f"{level_of[n.parent]} {_q(n.parent)} {order}")
        for child in sorted(stored_children.get(n.key, [])):
            if not above(n.key, child):
                problems.append(f"{n.where}: a {n.level} cannot be above its child "
                                f"{_q(child)}, a {level_of[child]} {order}")
    return problems + _attachment_problems(plan, existing, levels, level_of, broken)


def _attachment_problems(plan: OrgPlan, existing: ExistingOrg, levels: list[str],
                         level_of: dict[str, str], broken: set[str] | frozenset[str]
                         ) -> list[str]:
    """Leaders, partners and residents must hang on a node that exists and suits them."""
    compound = "compound" if "compound" in levels else None
    homes = set(levels[levels.index(compound) + 1:] if compound else levels[1:]) or set(levels)
    home_text = " or ".join(lv for lv in levels if lv in homes)
    problems: list[str] = []
    for entry in (*plan.leaders, *plan.partners, *plan.residents):
        level = level_of.get(entry.node)
        if level is None:
            if entry.node not in broken:
                problems.append(f"{entry.where}: unknown node {_q(entry.node)}")
        elif isinstance(entry, PartnerEntry) and compound and level != compound:
            problems.append(f"{entry.where}: partners attach to a compound, not the {level} "
                            f"{_q(entry.node)}")
        elif isinstance(entry, ResidentEntry) and level not in homes:
            problems.append(f"{entry.where}: residents live under a {home_text}, not the "
                            f"{level} {_q(entry.node)}")
    for n in plan.nodes:  # a level change must still suit what the database attaches there
        stored = existing.nodes.get(n.key)
        if stored is None or stored.level == n.level:
            continue
        if compound and n.level != compound and n.key in existing.partner_nodes:
            problems.append(f"{n.where}: it has partners, so it must stay a compound")
        if n.level not in homes and n.key in existing.resident_nodes:
            problems.append(f"{n.where}: residents live here, so it must stay a {home_text}")
    return problems


async def import_org(db: Database, settings: Settings, path: Path, *, prune: bool = False,
                     dry_run: bool = False) -> ImportSummary:
    """Import a file whole or not at all; raises OrgFileError naming every problem.
    ``prune``: also remove every leader the file does not list. ``dry_run``: what the import
    would do, with nothing changed."""
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OrgFileError([f"{path}: cannot be read as UTF-8 text ({exc})"]) from exc
    plan, problems, broken = _read(text, settings.levels, settings.reports.categories)

    def check(existing: ExistingOrg) -> None:
        # runs inside the write transaction, so nothing can change between check and write
        found = problems + check_against(plan, existing, settings.level_keys, broken)
        if found:
            raise OrgFileError(found)

    try:
        counts, removed = await apply_plan(db, plan, check, prune=prune, dry_run=dry_run)
    except DryRun as preview:
        counts, removed = preview.counts, preview.removed
    return ImportSummary(**{kind: Counts(*pair) for kind, pair in counts.items()},
                         removed_leaders=tuple(removed))


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _toml(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if not isinstance(value, str):
        return str(value)
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", escaped) + '"'


def _entry(section: str, fields: dict[str, Any]) -> str:
    return "\n".join([f"[[{section}]]", *(f"{name} = {_toml(value)}"
                                          for name, value in fields.items()
                                          if value is not None)]) + "\n"


async def export_org(db: Database, settings: Settings) -> str:
    """The whole organisation as an org file that re-imports as "nothing changed"."""
    org = await read_org(db)
    children: dict[str | None, list[str]] = {}
    for node in org.nodes.values():
        parent = node.parent_key if node.parent_key in org.nodes else None
        children.setdefault(parent, []).append(node.key)
    order: list[str] = []
    stack = sorted(children.get(None, []), reverse=True)
    while stack:  # depth first, so each node follows its parent and its siblings by key
        key = stack.pop()
        order.append(key)
        stack += sorted(children.get(key, []), reverse=True)
    order += sorted(set(org.nodes) - set(order))  # unreachable only if the stored tree loops
    place = {key: i for i, key in enumerate(order)}
    out = [f"# Linli organisation: {len(order)} nodes, {len(org.leaders)} leaders, "
           f"{len(org.partners)} partners, {len(org.residents)} residents.\n"
           "# Re-import with: linli org import FILE\n"]
    for key in order:
        n = org.nodes[key]
        out.append(_entry("nodes", {"key": n.key, "name": n.name, "level": n.level,
                                    "parent": n.parent_key, "chat_id": n.chat_id}))
    for ld in sorted(org.leaders, key=lambda ld: place[ld.node]):
        out.append(_entry("leaders", {"node": ld.node, "user_id": ld.user_id,
                                      "name": ld.name or None}))
    for p in sorted(org.partners, key=lambda p: (place[p.node], p.kind)):
        out.append(_entry("partners", {"node": p.node, "kind": p.kind, "name": p.name,
                                       "user_ids": list(p.user_ids),
                                       "categories": list(p.categories)}))
    for r in sorted(org.residents, key=lambda r: (place[r.node], r.user_id)):
        out.append(_entry("residents", {"user_id": r.user_id, "node": r.node,
                                        "unit": r.unit or None, "name": r.name or None}))
    return "\n".join(out)
