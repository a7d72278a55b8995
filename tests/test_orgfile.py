"""The org file on a real SQLite file: import, re-import, every rejection, export."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.orgfile import OrgFileError, export_org, import_org, parse_org_file
from config.settings import Settings
from storage.db import Database, open_database

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config" / "org.example.toml"
BASE = """
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


@pytest.fixture
async def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    database = await open_database(tmp_path / "org.db")
    yield database
    await database.close()


async def _dump(db: Database) -> list[tuple[object, ...]]:
    rows = []
    for table in ("nodes", "leaders", "partners", "partner_members", "residents", "chats"):
        rows += [(table, *r) for r in await db.fetchall(f"SELECT * FROM {table} ORDER BY 1, 2")]
    return rows


async def _import(db: Database, tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "org.toml"
    path.write_text(text, encoding="utf-8")
    return await import_org(db, Settings(), path)


async def test_example_imports_and_reimport_changes_nothing(db: Database, tmp_path: Path) -> None:
    first = await import_org(db, Settings(), EXAMPLE)
    assert first.counts["nodes"] == [8, 0] and first.counts["leaders"] == [5, 0]
    assert first.counts["partners"] == [2, 0] and first.counts["residents"] == [2, 0]
    assert first.counts["chats"] == [2, 0]
    before = await _dump(db)
    again = await import_org(db, Settings(), EXAMPLE)
    assert not again.changed, again.describe()
    assert await _dump(db) == before


async def test_changed_file_updates_by_key(db: Database, tmp_path: Path) -> None:
    await import_org(db, Settings(), EXAMPLE)
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace('name = "5号楼"', 'name = "五号楼"')
    text = text.replace('user_id = 3001\nnode = "b3-u1"', 'user_id = 3001\nnode = "b3-u2"')
    text += '\n[[leaders]]\nnode = "b3-u2"\nuser_id = 1006\nname = "吴邻长"\n'
    summary = await _import(db, tmp_path, text)
    assert summary.counts["nodes"] == [0, 1]
    assert summary.counts["residents"] == [0, 1]
    assert summary.counts["leaders"] == [1, 0]
    assert await db.fetchval("SELECT name FROM nodes WHERE key = 'b5'") == "五号楼"
    assert await db.fetchval("SELECT count(*) FROM nodes") == 8


BAD_CASES = [
    ("unknown parent", BASE + '[[nodes]]\nkey = "b4"\nname = "4号楼"\nlevel = "building"\n'
     'parent = "sunshin"\n', ["nodes[4]", "line 18", "unknown parent 'sunshin'"]),
    ("cycle", BASE.replace('level = "community"', 'level = "community"\nparent = "b3"'),
     ["cycle"]),
    ("duplicate key", BASE + '[[nodes]]\nkey = "b3"\nname = "又一个"\nlevel = "building"\n'
     'parent = "sunshine"\n', ["nodes[4]", "duplicate key 'b3'"]),
    ("bad level order", BASE + '[[nodes]]\nkey = "x"\nname = "X"\nlevel = "compound"\n'
     'parent = "b3"\n', ["nodes[4]", "cannot be under"]),
    ("bad chat id", BASE.replace('parent = "sunshine"', 'parent = "sunshine"\nchat_id = 12345'),
     ["nodes[3]", "bad chat_id 12345"]),
    ("unknown key", BASE.replace('name = "3号楼"', 'name = "3号楼"\ncolour = "red"'),
     ["nodes[3]", "unknown key 'colour'"]),
    ("unknown section", BASE + '[[buildings]]\nkey = "z"\n', ["unknown section [[buildings]]"]),
    ("syntax error", BASE + "[[nodes]\nkey = \n", ["not valid TOML", "line"]),
    ("unknown node of a leader", BASE + '[[leaders]]\nnode = "b9"\nuser_id = 5\n',
     ["leaders[1]", "unknown node 'b9'"]),
    ("resident in a compound", BASE + '[[residents]]\nuser_id = 5\nnode = "sunshine"\n',
     ["residents[1]", "not the compound"]),
    ("partner on a building", BASE + '[[partners]]\nnode = "b3"\nkind = "property"\n'
     'name = "物业"\nuser_ids = [9]\ncategories = ["repair"]\n', ["partners[1]", "compound"]),
    ("bad user id", BASE + '[[leaders]]\nnode = "b3"\nuser_id = -4\n', ["leaders[1]",
                                                                       "positive"]),
]


@pytest.mark.parametrize("name, text, expected", BAD_CASES, ids=[c[0] for c in BAD_CASES])
async def test_a_bad_file_is_rejected_whole(db: Database, tmp_path: Path, name: str, text: str,
                                            expected: list[str]) -> None:
    await import_org(db, Settings(), EXAMPLE)
    before = await _dump(db)
    with pytest.raises(OrgFileError) as caught:
        await _import(db, tmp_path, text)
    message = "\n".join(caught.value.problems)
    for part in expected:
        assert part in message, (name, message)
    assert await _dump(db) == before


def test_all_problems_are_reported_at_once() -> None:
    text = BASE + ('[[nodes]]\nkey = "BAD KEY"\nname = "x"\nlevel = "grid"\n'
                   '[[leaders]]\nnode = "b3"\nuser_id = "abc"\n')
    with pytest.raises(OrgFileError) as caught:
        parse_org_file(text, Settings().levels)
    assert len(caught.value.problems) == 2


async def test_export_round_trips(db: Database, tmp_path: Path) -> None:
    await import_org(db, Settings(), EXAMPLE)
    exported = await export_org(db, Settings())
    plan = parse_org_file(exported, Settings().levels)
    assert len(plan.nodes) == 8 and len(plan.residents) == 2
    again = await _import(db, tmp_path, exported)
    assert not again.changed, again.describe()


def _cli(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "LINLI_DATABASE": str(db)}
    return subprocess.run([sys.executable, "-m", "bot", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_cli_import_export_upgrade_check(tmp_path: Path) -> None:
    db = tmp_path / "fresh" / "linli.db"
    done = _cli("org", "import", str(EXAMPLE), db=db)  # a fresh file: schema made first
    assert done.returncode == 0, done.stderr
    assert "nodes: 8 created" in done.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(BASE + '[[nodes]]\nkey = "b4"\nname = "4"\nlevel = "building"\n'
                   'parent = "nowhere"\n', encoding="utf-8")
    refused = _cli("org", "import", str(bad), db=db)
    assert refused.returncode == 2 and "nodes[4]" in refused.stderr
    assert "Traceback" not in refused.stderr
    exported = _cli("org", "export", db=db)
    assert exported.returncode == 0 and 'key = "harmony"' in exported.stdout
    upgraded = _cli("db", "upgrade", db=db)
    assert upgraded.returncode == 0 and "none needed" in upgraded.stdout
    checked = _cli("check", db=db)
    assert checked.returncode == 2 and "LINLI_BOT_TOKEN" in checked.stderr
