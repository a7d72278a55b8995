"""The org file on a real SQLite file: import, re-import, every rejection, export, scale."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.org.orgfile import (
    Counts,
    ImportSummary,
    OrgFileError,
    export_org,
    import_org,
    parse_org_file,
)
from config.settings import Settings
from storage.copy import checksum, tables
from storage.db import Database, open_database
from tests.backend import database_in

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config" / "org.example.toml"
BASE = """\
[[nodes]]
key = "harmony"
name = "和谐社区"
level = "community"

[[nodes]]
key = "sunshine"
name = "阳光小区"
level = "compound"
parent = "harmony"

[[nodes]]
key = "b3"
name = "3号楼"
level = "building"
parent = "sunshine"
"""
NEW_NODE = '\n[[nodes]]\nkey = "{key}"\nname = "{key}"\nlevel = "{level}"\nparent = "{parent}"\n'


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(database_in(tmp_path / "org"))
    yield database
    await database.close()


async def _dump(db: Database) -> str:
    """Every table and row, as text: equal dumps mean an unchanged database."""
    found = await tables(db)
    sums = [await checksum(db, found[name]) for name in sorted(found)]
    return "\n".join(f"{s.table} {s.rows} {s.checksum}" for s in sums)


async def _import(db: Database, tmp_path: Path, text: str) -> ImportSummary:
    path = tmp_path / "org.toml"
    path.write_text(text, encoding="utf-8")
    return await import_org(db, Settings(), path)


async def _count(db: Database, table: str) -> int:
    return int(await db.fetchval(f"SELECT count(*) FROM {table}"))


async def test_example_imports(db: Database, settings: Settings) -> None:
    summary = await import_org(db, settings, EXAMPLE)
    assert summary.counts == {"nodes": (11, 0), "leaders": (8, 0), "partners": (3, 0),
                              "residents": (3, 0), "chats": (3, 0)}
    assert summary.describe().startswith("nodes: 11 created, 0 updated; leaders: 8 created")
    assert await _count(db, "partner_members") == 4
    assert await db.fetchval("SELECT count(*) FROM leaders WHERE source = 'file'") == 8
    row = await db.fetchone("SELECT n.key, c.type, c.active FROM chats c"
                            " JOIN nodes n ON n.id = c.node_id WHERE c.chat_id = -1001234567890")
    assert tuple(row) == ("b3", "group", 1)
    grid = await db.fetchone("SELECT p.key FROM nodes n JOIN nodes p ON p.id = n.parent_id"
                             " WHERE n.key = 'm1-u2'")
    assert grid[0] == "m1"


async def test_reimport_changes_nothing(db: Database, settings: Settings) -> None:
    await import_org(db, settings, EXAMPLE)
    before = await _dump(db)
    again = await import_org(db, settings, EXAMPLE)
    assert not again.changed, again.describe()
    assert all(c == Counts(0, 0) for c in again.counts.values())
    assert await _dump(db) == before


async def test_changed_file_updates_by_key(db: Database, tmp_path: Path,
                                           settings: Settings) -> None:
    await import_org(db, settings, EXAMPLE)
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace('name = "5号楼"', 'name = "五号楼"')
    text = text.replace('user_id = 3001\nnode = "b3-u1"\nunit = "1-502"',
                        'user_id = 3001\nnode = "b3-u2"\nunit = "2-101"')
    text += '\n[[leaders]]\nnode = "b3-u2"\nuser_id = 1006\nname = "吴邻长"\n'
    summary = await _import(db, tmp_path, text)
    assert summary.counts == {"nodes": (0, 1), "leaders": (1, 0), "partners": (0, 0),
                              "residents": (0, 1), "chats": (0, 0)}
    assert await db.fetchval("SELECT name FROM nodes WHERE key = 'b5'") == "五号楼"
    moved = await db.fetchone("SELECT n.key, r.unit FROM residents r"
                              " JOIN nodes n ON n.id = r.node_id WHERE r.user_id = 3001")
    assert tuple(moved) == ("b3-u2", "2-101")
    assert await _count(db, "nodes") == 11 and await _count(db, "leaders") == 9


async def test_partners_chats_and_parents_update(db: Database, tmp_path: Path,
                                                 settings: Settings) -> None:
    await import_org(db, settings, EXAMPLE)
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace("user_ids = [2002, 2003]", "user_ids = [2003, 2005]")
    text = text.replace("chat_id = -1001234567891", "")  # unbinding is not done by import
    text = text.replace('parent = "sunshine"\nchat_id = -1001234567890',
                        'parent = "sunshine"\nchat_id = -1001234567891')  # rebind to b3
    text = text.replace('key = "m2"\nname = "月光2号楼"\nlevel = "building"\nparent = "moonlight"',
                        'key = "m2"\nname = "月光2号楼"\nlevel = "building"\nparent = "sunshine"')
    summary = await _import(db, tmp_path, text)
    assert summary.counts == {"nodes": (0, 1), "leaders": (0, 0), "partners": (0, 1),
                              "residents": (0, 0), "chats": (0, 1)}
    members = await db.fetchall("SELECT m.user_id FROM partner_members m JOIN partners p"
                                " ON p.id = m.partner_id WHERE p.kind = 'owners_committee'"
                                " ORDER BY 1")
    assert [r[0] for r in members] == [2003, 2005]
    bound = await db.fetchall("SELECT c.chat_id, n.key FROM chats c JOIN nodes n"
                              " ON n.id = c.node_id ORDER BY c.chat_id")
    assert [tuple(r) for r in bound] == [(-1001234567892, "m1"), (-1001234567891, "b3"),
                                         (-1001234567890, "b3")]


async def test_nothing_is_deleted_and_omitted_details_are_kept(
        db: Database, tmp_path: Path, settings: Settings) -> None:
    await import_org(db, settings, EXAMPLE)
    before = await _dump(db)
    # a file with only a building and a resident, no names or units: nothing to change
    summary = await _import(db, tmp_path, BASE + '\n[[leaders]]\nnode = "b3"\nuser_id = 1002\n'
                            '\n[[residents]]\nuser_id = 3001\nnode = "b3-u1"\n')
    assert not summary.changed, summary.describe()
    assert await _dump(db) == before


def _bad(extra: str = "", base: str = BASE) -> str:
    return base + extra


BAD_CASES = [
    ("unknown parent", _bad(NEW_NODE.format(key="b4", level="building", parent="sunshin")),
     ['nodes[4] (key "b4", line 18): unknown parent "sunshin"']),
    ("cycle in the file", _bad(NEW_NODE.format(key="x1", level="grid", parent="x2")
                               + NEW_NODE.format(key="x2", level="grid", parent="x1")),
     ['nodes[4] (key "x1", line 18)', "cycle: x1 → x2 → x1"]),
    ("cycle through the database", """\
[[nodes]]
key = "sunshine"
name = "阳光小区"
level = "compound"
parent = "b3-u1"
""", ['nodes[1] (key "sunshine", line 1)', "cycle"]),
    ("duplicate key", _bad(NEW_NODE.format(key="b3", level="building", parent="sunshine")),
     ['nodes[4] (key "b3", line 18): duplicate key "b3" (first at nodes[3]']),
    ("bad level order", _bad(NEW_NODE.format(key="x", level="compound", parent="b3")),
     ['nodes[4] (key "x", line 18): a compound cannot be under the building "b3"']),
    ("level above a stored child", BASE.replace('level = "building"', 'level = "grid"'),
     ['nodes[3] (key "b3", line 12): a grid cannot be above its child "b3-u1"']),
    ("positive chat id", BASE.replace('parent = "sunshine"', 'parent = "sunshine"\nchat_id = 5'),
     ['nodes[3] (key "b3", line 12): bad chat_id 5']),
    ("chat id as text", BASE.replace('parent = "sunshine"',
                                     'parent = "sunshine"\nchat_id = "-100"'),
     ['nodes[3] (key "b3", line 12): bad chat_id "-100"']),
    ("one chat on two nodes", BASE.replace('level = "compound"', 'level = "compound"\n'
                                           'chat_id = -77').replace(
        'parent = "sunshine"', 'parent = "sunshine"\nchat_id = -77'),
     ['nodes[3] (key "b3", line 13): chat_id -77 is bound to two nodes']),
    ("unknown key", BASE.replace('name = "3号楼"', 'name = "3号楼"\ncolour = "red"'),
     ['nodes[3] (key "b3", line 12): unknown key "colour"']),
    ("unknown section", _bad('\n[[buildings]]\nkey = "z"\n'), ["unknown section [[buildings]]"]),
    ("syntax error", _bad('\n[[nodes]\nkey = "z"\n'), ["not valid TOML", "line 18"]),
    ("bad key", _bad(NEW_NODE.format(key="B 4", level="building", parent="sunshine")),
     ['nodes[4] (key "B 4", line 18): key "B 4" must be']),
    ("unknown level", _bad(NEW_NODE.format(key="b4", level="floor", parent="sunshine")),
     ['nodes[4] (key "b4", line 18): unknown level "floor"']),
    ("leader of an unknown node", _bad('\n[[leaders]]\nnode = "b9"\nuser_id = 5\n'),
     ['leaders[1] (node "b9", user_id 5, line 18): unknown node "b9"']),
    ("bad user id", _bad('\n[[leaders]]\nnode = "b3"\nuser_id = -4\n'),
     ['leaders[1] (node "b3", user_id -4, line 18): user_id must be a positive']),
    ("duplicate leader", _bad('\n[[leaders]]\nnode = "b3"\nuser_id = 4\n' * 2),
     ['leaders[2] (node "b3", user_id 4, line 22): duplicate leader 4 of "b3"']),
    ("resident in a compound", _bad('\n[[residents]]\nuser_id = 5\nnode = "sunshine"\n'),
     ['residents[1] (user_id 5, line 18): residents live under a building or grid']),
    ("resident twice", _bad('\n[[residents]]\nuser_id = 5\nnode = "b3"\n' * 2),
     ["residents[2] (user_id 5, line 22): resident 5 is listed twice"]),
    ("partner on a building", _bad('\n[[partners]]\nnode = "b3"\nkind = "property"\n'
                                   'name = "物业"\nuser_ids = [9]\ncategories = ["repair"]\n'),
     ['partners[1] (node "b3", kind "property", line 18): partners attach to a compound']),
    ("partner category", _bad('\n[[partners]]\nnode = "sunshine"\nkind = "property"\n'
                              'name = "物业"\nuser_ids = [9]\ncategories = ["repairs"]\n'),
     ['partners[1] (node "sunshine", kind "property", line 18): categories must be']),
    ("missing name", BASE.replace('name = "3号楼"\n', ""), ['nodes[3] (key "b3", line 12): '
                                                           'missing "name"']),
]


@pytest.mark.parametrize("text, expected", [c[1:] for c in BAD_CASES],
                         ids=[c[0] for c in BAD_CASES])
async def test_a_bad_file_is_rejected_whole(db: Database, tmp_path: Path, settings: Settings,
                                            text: str, expected: list[str]) -> None:
    await import_org(db, settings, EXAMPLE)
    before = await _dump(db)
    # a valid change rides along, to show that it is not applied either
    text = text.replace('name = "和谐社区"', 'name = "和谐新社区"')
    with pytest.raises(OrgFileError) as caught:
        await _import(db, tmp_path, text)
    message = "\n".join(caught.value.problems)
    for part in expected:
        assert part in message, message
    assert await _dump(db) == before


async def test_all_problems_are_reported_at_once(db: Database, tmp_path: Path) -> None:
    text = BASE + NEW_NODE.format(key="b4", level="building", parent="nowhere") + """
[[nodes]]
key = "b5"
name = ""
level = "building"
parent = "sunshine"

[[leaders]]
node = "b3"
user_id = "abc"

[[leaders]]
node = "b5"
user_id = 7

[[residents]]
user_id = 8
node = "harmony"
"""
    with pytest.raises(OrgFileError) as caught:
        await _import(db, tmp_path, text)
    problems = caught.value.problems
    assert len(problems) == 4, problems  # the leader of the faulty "b5" is not blamed too
    assert any(p.startswith('nodes[4] (key "b4", line 18): unknown parent') for p in problems)
    assert any(p.startswith('nodes[5] (key "b5", line 24): name must') for p in problems)
    assert any(p.startswith('leaders[1] (node "b3", user_id "abc", line 30)') for p in problems)
    assert any(p.startswith("residents[1] (user_id 8, line 38)") for p in problems)
    assert await _count(db, "nodes") == 0


def test_parse_is_pure_and_counts_lines_past_multiline_strings() -> None:
    text = 'title = """\n[[nodes]]\n"""\n' + BASE.replace('key = "b3"', 'key = "b3"\nx = 1')
    with pytest.raises(OrgFileError) as caught:
        parse_org_file(text, Settings().levels)
    assert caught.value.problems == [
        'unknown key "title" (the file has [[nodes]], [[leaders]], [[partners]] and '
        '[[residents]])',
        'nodes[3] (key "b3", line 15): unknown key "x" (allowed: chat_id, key, level, name, '
        'parent)']
    plan = parse_org_file("\ufeff" + BASE + '\n[[nodes]]\nkey = "x"\nname = "X"\nlevel = "grid"'
                          '\nparent = "elsewhere"\n', Settings().levels)
    assert [n.key for n in plan.nodes] == ["harmony", "sunshine", "b3", "x"]
    assert plan.nodes[3].where == 'nodes[4] (key "x", line 18)'


async def test_export_round_trips(db: Database, tmp_path: Path, settings: Settings) -> None:
    await import_org(db, settings, EXAMPLE)
    # what the bot adds at run time: an invited leader, a /bind, a second chat, odd names
    async with db.write() as tx:
        await tx.execute("UPDATE nodes SET name = ? WHERE key = 'm2'", ('月光"2"号楼\\\t\x7f',))
        await tx.execute("INSERT INTO leaders(node_id, user_id, name, source, created_at)"
                         " SELECT id, 1010, NULL, 'invite', '2026-01-01'"
                         " FROM nodes WHERE key = 'm2'")
        await tx.execute("INSERT INTO chats(chat_id, node_id, type, is_forum, active, updated_at)"
                         " SELECT -100999, id, 'supergroup', 1, 1, '2026-01-01'"
                         " FROM nodes WHERE key = 'm2'")
        await tx.execute("INSERT INTO chats(chat_id, node_id, type, active, updated_at)"
                         " SELECT -100998, id, 'supergroup', 1, '2026-01-01'"
                         " FROM nodes WHERE key = 'm2'")
        await tx.execute("INSERT INTO residents(user_id, node_id, unit, source, created_at,"
                         " updated_at) SELECT 3100, id, NULL, 'join', '2026-01-01', '2026-01-01'"
                         " FROM nodes WHERE key = 'm1-u1'")
    exported = await export_org(db, settings)
    plan = parse_org_file(exported, settings.levels, settings.reports.categories)
    assert [n.key for n in plan.nodes][:4] == ["harmony", "moonlight", "m1", "m1-u1"]
    assert len(plan.nodes) == 11 and len(plan.leaders) == 9 and len(plan.residents) == 4
    assert next(n for n in plan.nodes if n.key == "m2").chat_id == -100999  # the lowest
    before = await _dump(db)
    again = await _import(db, tmp_path, exported)
    assert not again.changed, again.describe()
    assert await _dump(db) == before
    assert await export_org(db, settings) == exported


def district(compounds: int, buildings: int, grids: int, residents_per_grid: int) -> str:
    """A generated district: compounds × buildings × grids, a leader on every node."""
    out = ['[[nodes]]\nkey = "d"\nname = "街道社区"\nlevel = "community"\n',
           '[[leaders]]\nnode = "d"\nuser_id = 1\n']
    user, chat = 10, -1000000000000
    for c in range(compounds):
        out.append(f'[[nodes]]\nkey = "c{c}"\nname = "小区{c}"\nlevel = "compound"\n'
                   'parent = "d"\n')
        out.append(f'[[partners]]\nnode = "c{c}"\nkind = "property"\nname = "物业{c}"\n'
                   f'user_ids = [{900000 + c}]\ncategories = ["repair"]\n')
        for b in range(buildings):
            chat -= 1
            out.append(f'[[nodes]]\nkey = "c{c}-b{b}"\nname = "{b}号楼"\nlevel = "building"\n'
                       f'parent = "c{c}"\nchat_id = {chat}\n')
            out.append(f'[[leaders]]\nnode = "c{c}-b{b}"\nuser_id = {user}\nname = "楼栋长"\n')
            user += 1
            for g in range(grids):
                key = f"c{c}-b{b}-g{g}"
                out.append(f'[[nodes]]\nkey = "{key}"\nname = "{g}单元"\nlevel = "grid"\n'
                           f'parent = "c{c}-b{b}"\n')
                out.append(f'[[leaders]]\nnode = "{key}"\nuser_id = {user}\nname = "邻长"\n')
                user += 1
                for r in range(residents_per_grid):
                    out.append(f'[[residents]]\nuser_id = {user}\nnode = "{key}"\n'
                               f'unit = "{g + 1}-{r + 101}"\n')
                    user += 1
    return "\n".join(out)


async def test_a_district_imports_quickly(db: Database, tmp_path: Path) -> None:
    # full size: 20 compounds, 400 buildings, 1,600 grids, 2,001 leaders, 20,800 residents
    text = district(compounds=20, buildings=20, grids=4, residents_per_grid=13)
    started = time.perf_counter()
    summary = await _import(db, tmp_path, text)
    took = time.perf_counter() - started
    assert summary.nodes == Counts(2021, 0) and summary.residents == Counts(20800, 0)
    assert summary.chats == Counts(400, 0) and summary.leaders == Counts(2001, 0)
    # PostgreSQL's server is a process away: a little slower (2.5 s alone against 1 s)
    limit = 10 if db.dialect == "sqlite" else 15
    assert took < limit, f"import took {took:.1f} s"
    started = time.perf_counter()
    again = await _import(db, tmp_path, text)
    assert not again.changed and time.perf_counter() - started < limit


def _cli(*args: str, db: Path | str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "LINLI_DATABASE": str(db)}
    return subprocess.run([sys.executable, "-m", "bot", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_cli_import_export_upgrade_check(tmp_path: Path) -> None:
    db = database_in(tmp_path / "fresh")
    done = _cli("org", "import", str(EXAMPLE), db=db)  # a fresh file: schema made first
    assert done.returncode == 0, done.stderr
    assert "nodes: 11 created, 0 updated; leaders: 8 created" in done.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(BASE + NEW_NODE.format(key="b4", level="building", parent="nowhere"),
                   encoding="utf-8")
    refused = _cli("org", "import", str(bad), db=db)
    assert refused.returncode == 2 and 'nodes[4] (key "b4", line 18)' in refused.stderr
    assert "Traceback" not in refused.stderr
    exported = _cli("org", "export", db=db)
    assert exported.returncode == 0 and 'key = "harmony"' in exported.stdout
    upgraded = _cli("db", "upgrade", db=db)
    assert upgraded.returncode == 0 and "none needed" in upgraded.stdout
    checked = _cli("check", db=db)
    assert checked.returncode == 2 and "LINLI_BOT_TOKEN" in checked.stderr
