"""The SQLite database: connections, transactions and migrations.

One writer connection guarded by an asyncio lock gives every write transaction
the database to itself (PTB runs updates concurrently; without the lock two
handlers would interleave statements inside one transaction). A second
connection serves plain reads, which WAL lets run beside a write.

aiosqlite runs each statement on the connection's own thread: every call is a trip
there and back, which costs far more than a simple statement itself (about 0.1 ms
against a few microseconds). The writer therefore lets Python's sqlite3 begin the
transaction (BEGIN IMMEDIATE) together with its first INSERT/UPDATE/DELETE, rather
than in a trip of its own; reads before that first change run under the lock, so no
other writer of this process comes between them and the change.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from storage.timeutil import to_db

log = logging.getLogger(__name__)

Params = Sequence[Any] | dict[str, Any]
_BEGINS_ITSELF = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=10000",
)
# The write-ahead log is copied into the database file (a checkpoint, with its fsyncs) on
# a connection of its own, this long after a commit, not by the commit that fills it:
# SQLite's automatic checkpoint made every thousandth page's commit hold the writer for
# it (milliseconds, and more than one in a burst of deadlines). A passive checkpoint
# waits for nobody; the log stays as durable as ever.
CHECKPOINT_AFTER = 1.0  # seconds


@dataclass
class HandlingUpdate:
    """The Telegram update being handled in this task (set by the update processor)."""

    update_id: int
    handled: bool = False  # its effects are committed: a second delivery is skipped


handling_update: ContextVar[HandlingUpdate | None] = ContextVar("handling_update", default=None)


class _Queries:
    """Read helpers shared by the database and an open transaction.

    Every read runs to its end in one call on the connection's thread. Handlers share
    the reading connection, and an SQLite statement left open (a cursor still being
    fetched from) holds the connection's read snapshot: another handler's query would
    then run inside that old snapshot and miss what was committed since (seen under
    load as a leader's answer not finding the question just asked).
    """

    _conn: aiosqlite.Connection

    async def _rows(self, sql: str, params: Params) -> Iterable[sqlite3.Row]:
        return await self._conn.execute_fetchall(sql, params)

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        return next(iter(await self._rows(sql, params)), None)

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        return list(await self._rows(sql, params))

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]


# at most this many rows in one statement (SQLite allows 32,766 values in a statement)
ROWS_AT_ONCE = 500


def row_chunks(rows: Sequence[Sequence[Any]]) -> list[tuple[str, Sequence[Sequence[Any]]]]:
    """The rows in statement-sized chunks, each with the placeholders of one row."""
    return [(f"({', '.join('?' * len(rows[0]))})", rows[start:start + ROWS_AT_ONCE])
            for start in range(0, len(rows), ROWS_AT_ONCE)]


# a change handed over without waiting: (sql, params or rows, executemany?)
_Held = tuple[str, Any, bool]


def _run_held(conn: aiosqlite.Connection, held: list[_Held]) -> list[int | Exception]:
    """On the connection's thread: run changes handed over together, in order, each one
    whatever the one before did (as when each came on its own); each one's row count or
    error."""
    raw = conn._conn  # the sqlite3 connection, used here on its own thread  # noqa: SLF001
    results: list[int | Exception] = []
    for sql, params, many in held:
        try:
            results.append((raw.executemany if many else raw.execute)(sql, params).rowcount)
        except Exception as exc:
            results.append(exc)
    return results


class Tx(_Queries):
    """An open write transaction.

    A change whose result nobody needs (``execute``, ``executemany``) is held, then handed
    to the writer's thread without waiting for it, together with the changes held beside
    it, in one trip: when a statement whose result is needed comes (before it, in the same
    order) or when the transaction ends. The thread runs statements in the order they were
    handed over, so a later read sees the change; the transaction waits for them all, and
    fails if one failed, before it commits. A transaction of many small changes (a batch
    of deadlines) so holds the single writer for a few trips to its thread rather than one
    per statement.
    """

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._queued: list[asyncio.Future[Any]] = []
        self._held: list[_Held] = []
        # (the trip's future, the statement's place in it, rows it must change, the error)
        self._expected: list[tuple[asyncio.Future[Any], int, int, BaseException]] = []
        self._held_expected: list[tuple[int, int, BaseException]] = []
        self._begun = False
        self.after_commit: list[Callable[[], None]] = []  # run once the changes are visible

    async def execute(self, sql: str, params: Params = (), *,
                      must_change: BaseException | None = None, rows: int = 1) -> None:
        """Queue a change; with ``must_change``, the transaction fails with that error
        if the statement changes fewer than ``rows`` rows (checked without waiting)."""
        self._begin(sql)
        if must_change is not None:
            self._held_expected.append((len(self._held), rows, must_change))
        self._held.append((sql, params, False))

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        self._begin(sql)
        self._held.append((sql, list(rows), True))

    async def execute_rows(self, head: str, rows: Sequence[Sequence[Any]], *,
                           params: Params = (), tail: str = "",
                           must_change: BaseException | None = None) -> None:
        """Queue one change for many rows: ``head`` (with its ``params``), the rows as
        ``(?, ?), (?, ?)``, then ``tail``: ``INSERT INTO t(a, b) VALUES`` and the rows, or
        ``UPDATE t SET a = v.column2 FROM (VALUES`` the rows ``) AS v WHERE t.id =
        v.column1``. One statement for many rows costs each database far less than one a
        row: SQLite sets up the statement, and the triggers it fires, once; PostgreSQL
        parses and plans it once. With ``must_change``, it fails unless it changes as
        many rows as it was given."""
        for row, chunk in row_chunks(rows):
            await self.execute(f"{head} {', '.join([row] * len(chunk))}{tail}",
                               [*params, *(value for values in chunk for value in values)],
                               must_change=must_change, rows=len(chunk))

    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run an INSERT and return the new row's id."""
        self._begin(sql)
        cur = await self._in_turn(self._conn.execute(sql, params))
        return int(cur.lastrowid)

    async def insert_new(self, sql: str, params: Params = ()) -> int | None:
        """Run an INSERT ... ON CONFLICT DO NOTHING: the new row's id, or None when ignored."""
        self._begin(sql)
        cur = await self._in_turn(self._conn.execute(sql, params))
        return int(cur.lastrowid) if cur.rowcount else None

    async def returning(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """Run a change ending in RETURNING; the first row it returned."""
        self._begin(sql)
        return next(iter(await self._rows(sql, params)), None)

    async def returning_all(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """Run a change ending in RETURNING; every row it returned."""
        self._begin(sql)
        return list(await self._rows(sql, params))

    async def update(self, sql: str, params: Params = ()) -> int:
        """Run an UPDATE/DELETE and return how many rows it changed."""
        self._begin(sql)
        cur = await self._in_turn(self._conn.execute(sql, params))
        return cur.rowcount

    async def _rows(self, sql: str, params: Params) -> Iterable[sqlite3.Row]:
        return await self._in_turn(self._conn.execute_fetchall(sql, params))

    def _begin(self, sql: str) -> None:
        # sqlite3 begins the transaction itself before INSERT, UPDATE, DELETE or REPLACE;
        # any other statement (CREATE, WITH ... INSERT) would run outside of it
        if not self._begun:
            self._begun = True
            if not _BEGINS_ITSELF.match(sql):
                self._held.append(("BEGIN IMMEDIATE", (), False))

    def _hand_over(self) -> None:
        """The held changes go to the connection's thread, all in one trip."""
        if not self._held:
            return
        held, self._held = self._held, []
        trip = self._queue(self._conn._execute(_run_held, self._conn, held))  # noqa: SLF001
        self._expected += [(trip, *check) for check in self._held_expected]
        self._held_expected = []

    def _queue(self, statement: Awaitable[Any]) -> asyncio.Future[Any]:
        # tasks take their first step in the order they were made, and that step hands
        # the statement to the connection's thread: statements arrive in queued order
        future = asyncio.ensure_future(statement)
        self._queued.append(future)
        return future

    async def _in_turn(self, statement: Awaitable[Any]) -> Any:
        """A statement whose result is needed, run after those queued before it; its error
        goes to the caller (only), as with any awaited call."""
        self._hand_over()
        if not self._queued:
            return await statement
        future = self._queue(statement)
        try:
            return await future
        finally:
            if future in self._queued:
                self._queued.remove(future)

    async def settle(self) -> None:
        """Wait for every queued statement; raise the first one's error."""
        self._hand_over()
        queued, self._queued = self._queued, []
        for result in await asyncio.gather(*queued, return_exceptions=True):
            if isinstance(result, BaseException):
                raise result
            if isinstance(result, list):  # changes handed over together
                for outcome in result:
                    if isinstance(outcome, BaseException):
                        raise outcome
        expected, self._expected = self._expected, []
        for trip, place, rows, error in expected:
            if trip.result()[place] < rows:
                raise error

    async def rollback(self) -> None:
        """Undo every change made so far; the transaction goes on afresh, the writer still
        held (what is recorded next cannot be overtaken by another writer of this process)."""
        await self.abandon()
        self._begun = False
        self.after_commit.clear()

    async def abandon(self) -> None:
        """Let queued statements finish (their errors no longer matter), then roll back."""
        self._held, self._held_expected = [], []  # never handed over: nothing to undo
        queued, self._queued = self._queued, []
        self._expected = []
        await asyncio.gather(*queued, return_exceptions=True)
        if self._conn.in_transaction:
            await self._conn.rollback()


class Database(_Queries):
    dialect = "sqlite"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._writer: aiosqlite.Connection | None = None
        self._checkpointer: aiosqlite.Connection | None = None
        self._checkpoint: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.org_changes = 0  # bumped after this process commits a change to the organisation

    def org_changed(self) -> None:
        self.org_changes += 1

    async def open(self) -> None:
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = await _connect(self.path, "IMMEDIATE")
        await self._writer.execute("PRAGMA wal_autocheckpoint=0")  # see CHECKPOINT_AFTER
        self._conn = await _connect(self.path)
        self._checkpointer = await _connect(self.path)

    async def close(self) -> None:
        if self._checkpoint is not None:
            self._checkpoint.cancel()
            await asyncio.gather(self._checkpoint, return_exceptions=True)
        for conn in (getattr(self, "_conn", None), self._checkpointer, self._writer):
            if conn is not None:
                await conn.close()  # the last one out copies what the log still holds
        self._writer = self._checkpointer = None

    def _checkpoint_soon(self) -> None:
        if self._checkpoint is None:
            self._checkpoint = asyncio.get_running_loop().create_task(self._checkpoint_later())

    async def _checkpoint_later(self) -> None:
        try:
            await asyncio.sleep(CHECKPOINT_AFTER)
            if self._checkpointer is not None:
                await self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error:  # tried again after the next commit
            log.exception("checkpoint of %s failed", self.path)
        finally:
            self._checkpoint = None

    @asynccontextmanager
    async def write(self, *, marks_update: bool = True) -> AsyncIterator[Tx]:
        """A write transaction: committed on success, rolled back on any error.

        Inside the handling of a Telegram update, the first transaction that changes
        something also records the update as handled, atomically with the change: if
        Telegram delivers it again after a crash, it is not acted on twice. Bookkeeping
        that is harmless to repeat (remembering a user's name) passes marks_update=False.
        """
        assert self._writer is not None, "database not open"
        current = handling_update.get() if marks_update else None
        if current is not None and current.handled:
            current = None
        async with self._lock:
            tx = Tx(self._writer)  # the transaction begins with its first change
            try:
                yield tx
                if current is not None:
                    await tx.execute(
                        "UPDATE updates SET status = 'done', payload = NULL, done_at = ?"
                        " WHERE update_id = ?", (to_db(datetime.now(UTC)), current.update_id),
                    )
                await tx.settle()
            except BaseException:
                await tx.abandon()
                raise
            else:
                if self._writer.in_transaction:
                    await self._writer.commit()
                    self._checkpoint_soon()
                if current is not None:
                    current.handled = True
                for callback in tx.after_commit:
                    callback()

    async def schema_version(self) -> int:
        return int(await self.fetchval("SELECT coalesce(max(version), 0) FROM schema_version"))

    async def upgrade(self, migrations: list[tuple[int, str, str]] | None = None) -> list[int]:
        """Apply every migration not recorded yet, in order; return their numbers."""
        assert self._writer is not None, "database not open"
        async with self._lock:
            await self._writer.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            await self._writer.commit()
            await self._writer.execute("BEGIN IMMEDIATE")
            try:
                async with self._writer.execute("SELECT version FROM schema_version") as cur:
                    done = {row[0] for row in await cur.fetchall()}
                applied = []
                for number, name, sql in migrations or available_migrations():
                    if number in done:  # by number: one merged late still runs
                        continue
                    for statement in _statements(sql):
                        await self._writer.execute(statement)
                    await self._writer.execute(
                        "INSERT INTO schema_version(version, name, applied_at) VALUES (?, ?, ?)",
                        (number, name, to_db(datetime.now(UTC))),
                    )
                    applied.append(number)
            except BaseException:
                await self._writer.rollback()
                raise
            await self._writer.commit()
        for number in applied:
            log.info("applied migration %04d", number)
        return applied


async def _connect(path: Path, begin: str | None = None) -> aiosqlite.Connection:
    """``begin``: how sqlite3 begins a transaction before a change (None: it never does)."""
    conn = await aiosqlite.connect(path, isolation_level=begin)
    conn.row_factory = sqlite3.Row
    for pragma in _PRAGMAS:
        await conn.execute(pragma)
    return conn


def available_migrations(folder: str = "migrations") -> list[tuple[int, str, str]]:
    """The numbered migrations of a folder of storage/ (``migrations_pg``: PostgreSQL's)."""
    found = []
    for entry in (resources.files("storage") / folder).iterdir():
        match = re.fullmatch(r"(\d{4})_(\w+)\.sql", entry.name)
        if match:
            found.append((int(match.group(1)), match.group(2), entry.read_text("utf-8")))
    return sorted(found)


def _statements(script: str) -> list[str]:
    """Split a migration into complete statements (triggers included)."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip() and not all(
        ln.strip().startswith("--") or not ln.strip() for ln in buffer.splitlines()
    ):
        raise ValueError(f"incomplete SQL statement in migration: {buffer[:80]!r}")
    return statements


def database_errors() -> tuple[type[BaseException], ...]:
    """What a failing database raises, on either engine (the database being down, or a
    statement refused)."""
    import psycopg

    return (sqlite3.Error, psycopg.Error, OSError)


def database_for(target: Path | str) -> Database:
    """The database a setting names: a PostgreSQL URL, or else an SQLite file."""
    from storage.pg import PgDatabase, is_postgres

    return PgDatabase(target) if is_postgres(target) else Database(target)  # type: ignore[return-value]


async def open_database(target: Path | str) -> Database:
    """Open the database and bring its schema up to date (every command does this)."""
    db = database_for(target)
    await db.open()
    try:
        await db.upgrade()
    except BaseException:
        await db.close()
        raise
    return db
