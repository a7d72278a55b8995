"""Storage on a real database (SQLite and PostgreSQL): migrations, concurrent writers, UTC."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from storage.db import CHECKPOINT_AFTER, Database, available_migrations, open_database
from storage.org import RECHECK_SECONDS, OrgRepo
from storage.timeutil import from_db, to_db
from tests.backend import database_in


async def test_migrations_apply_once_and_record_the_version(tmp_path: Path) -> None:
    db = await open_database(database_in(tmp_path / "a"))
    try:
        latest = available_migrations()[-1][0]
        assert await db.schema_version() == latest
        assert await db.upgrade() == []  # nothing left to do
        if db.dialect == "sqlite":
            assert await db.fetchval("PRAGMA journal_mode") == "wal"
            assert await db.fetchval("PRAGMA foreign_keys") == 1
        else:  # instants are timestamptz on PostgreSQL
            assert await db.fetchval(
                "SELECT data_type FROM information_schema.columns WHERE table_name = 'reports'"
                " AND column_name = 'created_at'") == "timestamp with time zone"
    finally:
        await db.close()
    again = await open_database(database_in(tmp_path / "a"))
    try:
        assert await again.schema_version() == latest
    finally:
        await again.close()


@pytest.mark.sqlite_only("SQLite's migration files and statement queue")
async def test_a_migration_that_lands_after_a_higher_one_is_still_applied(
        tmp_path: Path) -> None:
    db = Database(tmp_path / "gap.db")
    await db.open()
    try:
        first = [(1, "a", "CREATE TABLE a (x INTEGER);"), (3, "c", "CREATE TABLE c (x INTEGER);")]
        assert await db.upgrade(first) == [1, 3]
        late = [*first[:1], (2, "b", "CREATE TABLE b (x INTEGER);"), first[1]]
        assert await db.upgrade(late) == [2]  # a feature branch merged after 0003 existed
        assert await db.fetchval("SELECT count(*) FROM b") == 0
        assert await db.upgrade(late) == []
    finally:
        await db.close()


@pytest.mark.sqlite_only("SQLite's write-ahead log")
async def test_the_log_is_copied_into_the_database_file_soon_after_a_commit(
        tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    db = Database(path)
    await db.open()

    def in_the_file() -> list[tuple[int]]:  # the database file alone, without its log
        raw = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
        try:
            return raw.execute("SELECT n FROM t").fetchall()
        except sqlite3.OperationalError:  # the table itself is still only in the log
            return []
        finally:
            raw.close()
    try:
        async with db.write() as tx:
            await tx.execute("CREATE TABLE t (n INTEGER)")
            await tx.execute("INSERT INTO t VALUES (1)")
        assert in_the_file() == []  # not by the commit itself
        await asyncio.sleep(CHECKPOINT_AFTER + 0.5)
        assert in_the_file() == [(1,)]
        assert await db.fetchval("SELECT n FROM t") == 1
    finally:
        await db.close()


async def test_concurrent_transactions_lose_no_write(tmp_path: Path) -> None:
    db = await open_database(database_in(tmp_path / "b"))
    try:
        async with db.write() as tx:
            await tx.execute("CREATE TABLE counter (n INTEGER NOT NULL)")
            await tx.execute("INSERT INTO counter VALUES (0)")

        async def bump() -> None:
            async with db.write() as tx:
                n = await tx.fetchval("SELECT n FROM counter")
                await asyncio.sleep(0)  # let other handlers run mid-transaction
                await tx.execute("UPDATE counter SET n = ?", (n + 1,))

        await asyncio.gather(*(bump() for _ in range(200)))
        assert await db.fetchval("SELECT n FROM counter") == 200
    finally:
        await db.close()


async def test_a_read_sees_what_was_committed_while_other_reads_run(tmp_path: Path) -> None:
    """Handlers share one reading connection: no read may see an older snapshot."""
    db = await open_database(database_in(tmp_path / "r"))
    try:
        async with db.write() as tx:
            await tx.execute("CREATE TABLE asked (id INTEGER PRIMARY KEY)")
            await tx.execute("CREATE TABLE big (n INTEGER)")
            await tx.executemany("INSERT INTO big VALUES (?)", [(i,) for i in range(2000)])

        async def ask_then_read(n: int) -> bool:  # a question asked, then its answer comes
            async with db.write() as tx:
                await tx.execute("INSERT INTO asked VALUES (?)", (n,))
            return await db.fetchval("SELECT id FROM asked WHERE id = ?", (n,)) == n

        async def browse() -> None:  # another handler reading a long list meanwhile
            for _ in range(5):
                assert len(await db.fetchall("SELECT n FROM big")) == 2000

        results = await asyncio.gather(*(ask_then_read(n) for n in range(300)),
                                       *(browse() for _ in range(30)))
        assert all(results[:300]), results.count(False)
    finally:
        await db.close()


async def test_a_failed_transaction_changes_nothing(tmp_path: Path) -> None:
    db = await open_database(database_in(tmp_path / "c"))
    try:
        with pytest.raises(RuntimeError):
            async with db.write() as tx:
                await tx.execute(
                    "INSERT INTO nodes(key, name, level, created_at, updated_at)"
                    " VALUES ('x', 'X', 'grid', '2026-01-01', '2026-01-01')"
                )
                raise RuntimeError("boom")
        assert await db.fetchval("SELECT count(*) FROM nodes") == 0
    finally:
        await db.close()


async def test_foreign_keys_are_enforced(tmp_path: Path) -> None:
    db = await open_database(database_in(tmp_path / "d"))
    try:
        with pytest.raises(Exception, match="(?i)foreign key"):
            async with db.write() as tx:
                await tx.execute(
                    "INSERT INTO leaders(node_id, user_id, source, created_at)"
                    " VALUES (999, 1, 'file', '2026-01-01')"
                )
    finally:
        await db.close()


async def test_a_queued_change_that_fails_undoes_the_whole_transaction(tmp_path: Path) -> None:
    """Changes are handed to the writer without waiting; one failing still fails them all,
    those queued before it and the reads and waited-for changes after it."""
    db = await open_database(database_in(tmp_path / "q"))
    try:
        with pytest.raises(Exception, match="(?i)foreign key"):
            async with db.write() as tx:
                await tx.execute("INSERT INTO nodes(key, name, level, created_at, updated_at)"
                                 " VALUES ('a', 'A', 'grid', '2026-01-01', '2026-01-01')")
                await tx.execute("INSERT INTO leaders(node_id, user_id, source, created_at)"
                                 " VALUES (999, 1, 'file', '2026-01-01')")  # fails (on SQLite
                # unseen until the commit)
                node = await tx.insert(
                    "INSERT INTO nodes(key, name, level, created_at, updated_at)"
                    " VALUES ('b', 'B', 'grid', '2026-01-01', '2026-01-01')")
                assert await tx.fetchval("SELECT count(*) FROM nodes") == 2  # in order
                assert node > 0
        assert await db.fetchval("SELECT count(*) FROM nodes") == 0
        assert await db.fetchval("SELECT count(*) FROM leaders") == 0
    finally:
        await db.close()


@pytest.mark.sqlite_only("SQLite's migration files and statement queue")
async def test_an_error_the_caller_waited_for_is_the_callers_to_handle(tmp_path: Path) -> None:
    db = await open_database(database_in(tmp_path / "w"))
    try:
        async with db.write() as tx:
            await tx.execute("INSERT INTO nodes(key, name, level, created_at, updated_at)"
                             " VALUES ('a', 'A', 'grid', '2026-01-01', '2026-01-01')")
            with pytest.raises(sqlite3.IntegrityError):  # the same key again
                await tx.insert("INSERT INTO nodes(key, name, level, created_at, updated_at)"
                                " VALUES ('a', 'again', 'grid', '2026-01-01', '2026-01-01')")
            await tx.execute("INSERT INTO nodes(key, name, level, created_at, updated_at)"
                             " VALUES ('b', 'B', 'grid', '2026-01-01', '2026-01-01')")
        names = [r[0] for r in await db.fetchall("SELECT name FROM nodes ORDER BY key")]
        assert names == ["A", "B"]
    finally:
        await db.close()


async def test_a_queued_change_that_must_change_a_row_fails_when_it_does_not(
        tmp_path: Path) -> None:
    db = await open_database(database_in(tmp_path / "m"))
    try:
        async with db.write() as tx:
            await tx.execute("INSERT INTO nodes(key, name, level, created_at, updated_at)"
                             " VALUES ('a', 'A', 'grid', '2026-01-01', '2026-01-01')")
        with pytest.raises(LookupError):
            async with db.write() as tx:
                await tx.execute("UPDATE nodes SET name = 'changed' WHERE key = 'a'")
                await tx.execute("UPDATE nodes SET name = 'x' WHERE key = 'gone'",
                                 must_change=LookupError("moved on"))
        assert await db.fetchval("SELECT name FROM nodes WHERE key = 'a'") == "A"
        async with db.write() as tx:
            await tx.execute("UPDATE nodes SET name = 'B' WHERE key = 'a'",
                             must_change=LookupError("moved on"))
        assert await db.fetchval("SELECT name FROM nodes WHERE key = 'a'") == "B"
    finally:
        await db.close()


async def test_who_lives_where_is_cached_yet_sees_every_change(tmp_path: Path) -> None:
    """Residents are cached; a change in this process shows at once, one made by another
    process (an import) within the organisation's recheck interval."""
    db = await open_database(database_in(tmp_path / "r"))
    other = await open_database(database_in(tmp_path / "r"))  # as `linli org import` would
    try:
        org = OrgRepo(db)
        now = datetime.now(UTC)
        async with db.write() as tx:
            node = await tx.insert("INSERT INTO nodes(key, name, level, created_at, updated_at)"
                                   " VALUES ('g', 'G', 'grid', '2026-01-01', '2026-01-01')")
        assert await org.resident(7) is None
        async with db.write() as tx:
            await org.register_resident(tx, 7, node, "1-101", now)
        assert (await org.resident(7)).unit == "1-101"  # type: ignore[union-attr]
        async with other.write() as tx:
            await tx.execute("UPDATE residents SET unit = '2-202' WHERE user_id = 7")
            await tx.execute("INSERT INTO residents(user_id, node_id, unit, source, created_at,"
                             " updated_at) VALUES (8, ?, NULL, 'file', '2026-01-01',"
                             " '2026-01-01')", (node,))
        assert (await org.resident(7)).unit == "1-101"  # type: ignore[union-attr]  # cached
        await asyncio.sleep(RECHECK_SECONDS + 0.1)
        assert (await org.resident(7)).unit == "2-202"  # type: ignore[union-attr]
        assert await org.resident(8) is not None
    finally:
        await other.close()
        await db.close()


def test_instants_are_stored_as_utc_and_sort_in_time() -> None:
    shanghai = timezone(timedelta(hours=8))
    local = datetime(2026, 11, 25, 8, 0, tzinfo=shanghai)
    stored = to_db(local)
    assert stored == "2026-11-25T00:00:00.000000Z"
    assert from_db(stored) == local
    assert to_db(local) < to_db(local + timedelta(microseconds=1))
    with pytest.raises(ValueError):
        to_db(datetime(2026, 1, 1))  # naive times are refused
    assert from_db(stored).tzinfo == UTC


@pytest.mark.sqlite_only("SQLite's migration files and statement queue")
async def test_a_database_in_a_new_folder(tmp_path: Path) -> None:
    db = Database(tmp_path / "deep" / "er" / "e.db")
    await db.open()
    try:
        assert await db.upgrade()
    finally:
        await db.close()
