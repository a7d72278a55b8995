"""``linli db copy SRC DST``: every row of one database into a new one, verified.

Made for moving a live SQLite deployment to PostgreSQL (any direction works). The
source is read from a consistent snapshot (SQLite's online backup, taken first, so the
bot may keep running until the switch), the target must hold no data yet, and both
are brought to the same schema version first. Tables are copied parents first (by
their foreign keys); a column that refers to its own table is filled in a second pass,
so that rows may refer to later ones. Identity sequences continue after the highest id
copied. Afterwards each table's row count and a checksum of all its rows, read back
from the target, must equal the source's.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from storage.db import Database, database_for, open_database
from storage.timeutil import to_db

BATCH = 500
SEEDED = {"org_version", "residents_version", "calendar_version"}  # one row from the schema
# kept by the target's triggers while the rows above them arrive: copied last, so that
# the source's own rows are what stays
LAST = SEEDED | {"report_facts", "report_leader_facts"}
# each database keeps its own migration record; a lease is held by a running instance
NOT_COPIED = {"schema_version", "leases"}


@dataclass(frozen=True)
class Table:
    name: str
    columns: list[str]
    key: list[str]  # the primary key's columns (all columns when it has none)
    parents: set[str]  # the tables its foreign keys refer to
    self_refs: list[str]  # its columns referring to its own table


@dataclass(frozen=True)
class Copied:
    table: str
    rows: int
    checksum: str


class CopyError(RuntimeError):
    """The copy cannot start, or what arrived differs from what was read."""


async def tables(db: Database) -> dict[str, Table]:
    """The database's tables, their columns, keys and foreign keys."""
    found: dict[str, Table] = {}
    if db.dialect == "sqlite":
        names = [r[0] for r in await db.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        for name in names:
            info = await db.fetchall(f"PRAGMA table_info({name})")
            fks = await db.fetchall(f"PRAGMA foreign_key_list({name})")
            columns = [r["name"] for r in info]
            key = [r["name"] for r in sorted(info, key=lambda r: r["pk"]) if r["pk"]]
            found[name] = Table(name, columns, key or columns,
                                {r["table"] for r in fks} - {name},
                                [r["from"] for r in fks if r["table"] == name])
        return found
    rows = await db.fetchall(
        "SELECT c.table_name, c.column_name FROM information_schema.columns c"
        " JOIN information_schema.tables t ON t.table_name = c.table_name"
        "  AND t.table_schema = c.table_schema"
        " WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'"
        " ORDER BY c.table_name, c.ordinal_position")
    columns: dict[str, list[str]] = {}
    for table, column in rows:
        columns.setdefault(table, []).append(column)
    keys: dict[str, list[str]] = {}
    for table, column in await db.fetchall(
            "SELECT tc.table_name, k.column_name FROM information_schema.table_constraints tc"
            " JOIN information_schema.key_column_usage k"
            "  ON k.constraint_name = tc.constraint_name AND k.table_schema = tc.table_schema"
            " WHERE tc.table_schema = current_schema() AND tc.constraint_type = 'PRIMARY KEY'"
            " ORDER BY tc.table_name, k.ordinal_position"):
        keys.setdefault(table, []).append(column)
    parents: dict[str, set[str]] = {}
    self_refs: dict[str, list[str]] = {}
    for table, column, parent in await db.fetchall(
            "SELECT cl.relname, a.attname, pl.relname FROM pg_constraint c"
            " JOIN pg_class cl ON cl.oid = c.conrelid JOIN pg_class pl ON pl.oid = c.confrelid"
            " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]"
            " WHERE c.contype = 'f' AND cl.relnamespace = current_schema()::regnamespace"):
        if table == parent:
            self_refs.setdefault(table, []).append(column)
        else:
            parents.setdefault(table, set()).add(parent)
    for name, cols in columns.items():
        found[name] = Table(name, cols, keys.get(name) or cols, parents.get(name, set()),
                            self_refs.get(name, []))
    return found


def _parents_first(found: dict[str, Table]) -> list[Table]:
    order: list[Table] = []
    placed: set[str] = set()
    waiting = sorted(found)
    while waiting:
        ready = [n for n in waiting if found[n].parents <= placed | (found[n].parents - set(found))]
        if not ready:
            raise CopyError(f"foreign keys in a cycle among {', '.join(waiting)}")
        for name in ready:
            order.append(found[name])
            placed.add(name)
        waiting = [n for n in waiting if n not in placed]
    return order


def _value(v: Any) -> str:
    if v is None:
        return "\x00"
    if isinstance(v, datetime):
        return to_db(v)
    if isinstance(v, float):
        return repr(v)
    return str(v)


async def checksum(db: Database, table: Table) -> Copied:
    """The table's row count and a SHA-256 over its rows, in key order, each value
    written as SQLite stores it (so both databases give the same sum for the same rows)."""
    digest = hashlib.sha256()
    count = 0
    order = ", ".join(table.key)
    columns = ", ".join(table.columns)
    for row in await db.fetchall(f"SELECT {columns} FROM {table.name} ORDER BY {order}"):
        digest.update("\x1f".join(_value(v) for v in row).encode())
        digest.update(b"\x1e")
        count += 1
    return Copied(table.name, count, digest.hexdigest())


def _batches(rows: list[Any], size: int = BATCH) -> Iterable[list[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


async def _copy_table(src: Database, dst: Database, table: Table) -> None:
    columns = table.columns
    rows = await src.fetchall(
        f"SELECT {', '.join(columns)} FROM {table.name} ORDER BY {', '.join(table.key)}")
    if not rows:
        return
    later = [c for c in table.self_refs if c in columns]
    values = [[to_db(v) if isinstance(v, datetime) else v for v in row] for row in rows]
    marks = ", ".join("?" * len(columns))
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in table.key)
    conflict = (f" ON CONFLICT ({', '.join(table.key)}) DO UPDATE SET {updates}" if updates
                else " ON CONFLICT DO NOTHING")  # a row made by the target's triggers
    sql = f"INSERT INTO {table.name}({', '.join(columns)}) VALUES ({marks}){conflict}"
    refs = [columns.index(c) for c in later]
    first = [[None if i in refs else v for i, v in enumerate(row)] for row in values]
    async with dst.write(marks_update=False) as tx:
        for batch in _batches(first):
            await tx.executemany(sql, batch)
        if later:
            keys = [columns.index(k) for k in table.key]
            where = " AND ".join(f"{k} = ?" for k in table.key)
            assign = ", ".join(f"{c} = ?" for c in later)
            await tx.executemany(
                f"UPDATE {table.name} SET {assign} WHERE {where}",
                [[row[i] for i in refs] + [row[i] for i in keys]
                 for row in values if any(row[i] is not None for i in refs)])


async def _continue_sequences(dst: Database, found: dict[str, Table]) -> None:
    if dst.dialect != "postgresql":
        return
    async with dst.write(marks_update=False) as tx:
        for name, table in found.items():
            if table.key == ["id"]:
                await tx.fetchone(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'),"
                    f" coalesce((SELECT max(id) FROM {name}), 0) + 1, false)"
                    f" WHERE pg_get_serial_sequence('{name}', 'id') IS NOT NULL")


async def _empty(dst: Database, found: dict[str, Table]) -> None:
    for name in sorted(set(found) - SEEDED - NOT_COPIED):
        if await dst.fetchval(f"SELECT count(*) FROM {name}"):
            raise CopyError(f"the target already has data (table {name}); copy into a new,"
                            " empty database")


def _snapshot(path: Path, folder: Path) -> Path:
    """A consistent copy of a live SQLite file (the online backup API)."""
    if not path.is_file():
        raise CopyError(f"no database at {path}")
    copy_path = folder / "snapshot.db"
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    target = sqlite3.connect(copy_path)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    return copy_path


async def copy_database(source: Path | str, target: Path | str) -> list[Copied]:
    """Copy every row of ``source`` into the empty ``target``; the verified tables."""
    with tempfile.TemporaryDirectory(prefix="linli-copy-") as folder:
        if database_for(source).dialect == "sqlite":
            source = await asyncio.to_thread(_snapshot, Path(source), Path(folder))
        src = await open_database(source)
        try:
            dst = await open_database(target)
            try:
                return await _copy(src, dst)
            finally:
                await dst.close()
        finally:
            await src.close()


async def _copy(src: Database, dst: Database) -> list[Copied]:
    if await src.schema_version() != await dst.schema_version():
        raise CopyError("the two databases are at different schema versions")
    found, there = await tables(src), await tables(dst)
    missing = sorted(set(found) - set(there) - NOT_COPIED)
    if missing:
        raise CopyError(f"the target lacks tables {', '.join(missing)}")
    await _empty(dst, found)
    order = [t for t in _parents_first(found) if t.name not in NOT_COPIED]
    order.sort(key=lambda t: t.name in LAST)  # stable: parents still first
    for table in order:
        await _copy_table(src, dst, table)
    await _continue_sequences(dst, there)
    verified = []
    for table in order:
        want, got = await checksum(src, table), await checksum(dst, table)
        if (want.rows, want.checksum) != (got.rows, got.checksum):
            raise CopyError(f"table {table.name}: {want.rows} rows read, {got.rows} arrived,"
                            " or their contents differ")
        verified.append(got)
    return verified
