"""The PostgreSQL database: the same interface as storage/db.py's SQLite one.

Every repository writes its queries once, in the SQL both databases share (``?``
placeholders, ``ON CONFLICT``, ``RETURNING``, ``IS NOT DISTINCT FROM``). Here a query
gets psycopg's placeholders, and the schema (storage/migrations_pg) defines the few
SQLite functions the queries use. Rows read like sqlite3's: by column name or position.

One writer connection, held under an asyncio lock for each write transaction, keeps
this process's transactions one after the other as on SQLite; reads go through a small
pool in autocommit. Other instances on the same database are kept apart by the database
itself (row locks, advisory locks), not by this lock. Prepared statements are off, so
that the bot runs behind PgBouncer's transaction pooling.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.adapt import Dumper, Transformer
from psycopg.rows import RowMaker
from psycopg_pool import AsyncConnectionPool

from storage.db import (
    HandlingUpdate,
    Params,
    available_migrations,
    handling_update,
    row_chunks,
)
from storage.timeutil import to_db

log = logging.getLogger(__name__)

READERS = 4  # pooled connections for reads
LOCKERS = 16  # connections holding chat locks: one per update handled at once


class Row(tuple):
    """A row read by column name (``row["id"]``) or position (``row[0]``), as sqlite3.Row."""

    __slots__ = ()
    _names: dict[str, int]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def plain(value: Any) -> Any:
    # sums and averages come back as numeric: the int or float SQLite would give
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


@lru_cache(maxsize=1024)
def row_kind(names: tuple[str, ...]) -> type[Row]:
    return type("Row", (Row,), {"__slots__": (), "_names": {n: i for i, n in enumerate(names)}})


NUMERIC = psycopg.adapters.types["numeric"].oid


def _rows(cursor: psycopg.AsyncCursor[Any]) -> RowMaker[Row]:
    kind = row_kind(tuple(column.name for column in cursor.description or ()))
    if not any(column.type_code == NUMERIC for column in cursor.description or ()):
        return kind  # nothing to make plain (most rows: a read of a batch is thousands)

    def make(values: Sequence[Any]) -> Row:
        return kind(plain(v) for v in values)

    return make


class _BoolAsInteger(Dumper):
    """Flags are integer columns on both databases: True is stored as 1, as SQLite does."""

    oid = psycopg.adapters.types["int4"].oid

    def dump(self, obj: bool) -> bytes:
        return b"1" if obj else b"0"


@lru_cache(maxsize=4096)
def pg_sql(sql: str) -> str:
    """A shared query with psycopg's placeholders: ``?`` outside quotes becomes ``%s``,
    and a literal ``%`` is doubled."""
    out, quoted = [], False
    for char in sql:
        if char == "'":
            quoted = not quoted
        if char == "%":
            out.append("%%")
        elif char == "?" and not quoted:
            out.append("%s")
        else:
            out.append(char)
    return "".join(out)


def _params(params: Params) -> Params:
    return params if isinstance(params, dict) else tuple(params)


class _Queries:
    async def _run(self, sql: str, params: Params) -> list[Row]:
        raise NotImplementedError

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        return next(iter(await self._run(sql, params)), None)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return await self._run(sql, params)

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]


class PgTx(_Queries):
    """An open write transaction (the interface of storage.db.Tx).

    As on SQLite, a change whose result nobody needs (``execute``, ``executemany``) is held
    and sent when a statement whose result is needed comes, or when the transaction ends:
    all of them in one trip to the server, as one script of statements with their values
    written in by psycopg (``ClientCursor.mogrify``, its quoting). Sent one by one, even in
    psycopg's pipeline mode, each cost the client four times as much (its parameters'
    protocol machinery), which was most of a burst of deadlines. An error of a held change
    is raised then, and the transaction fails.
    """

    def __init__(self, conn: psycopg.AsyncConnection[Row]) -> None:
        self._conn = conn
        # statements written out, and (place among them, rows it must change, the error)
        self._held: list[str] = []
        self._checks: list[tuple[int, int, BaseException]] = []
        self._quoting: psycopg.AsyncClientCursor[Row] | None = None  # writes values in
        self._literals: Transformer | None = None  # the same, for the rows of execute_rows
        self.after_commit: list[Callable[[], None]] = []

    def _written(self, sql: str, params: Params) -> str:
        if self._quoting is None:
            self._quoting = psycopg.AsyncClientCursor(self._conn)
        return self._quoting.mogrify(pg_sql(sql), _params(params))

    async def _send(self, then: tuple[str, Params] | None = None,
                    ) -> psycopg.AsyncCursor[Row] | None:
        """The held changes, in one trip; then ``then`` (a statement whose result is
        needed), whose cursor is returned."""
        held, checks, self._held, self._checks = self._held, self._checks, [], []
        if held:
            cur = await self._conn.execute(";\n".join(held))  # no parameters: one script
            counts = [cur.rowcount]
            while cur.nextset():
                counts.append(cur.rowcount)
            for place, rows, error in checks:
                if counts[place] < rows:
                    raise error
        if then is None:
            return None
        return await self._conn.execute(pg_sql(then[0]), _params(then[1]), prepare=False)

    async def _cursor(self, sql: str, params: Params) -> psycopg.AsyncCursor[Row]:
        cur = await self._send((sql, params))
        assert cur is not None
        return cur

    async def _run(self, sql: str, params: Params) -> list[Row]:
        cur = await self._cursor(sql, params)
        return await cur.fetchall() if cur.description else []

    async def execute(self, sql: str, params: Params = (), *,
                      must_change: BaseException | None = None, rows: int = 1) -> None:
        if must_change is not None:
            self._checks.append((len(self._held), rows, must_change))
        self._held.append(self._written(sql, params))

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        self._held += [self._written(sql, row) for row in rows]

    async def execute_rows(self, head: str, rows: Sequence[Sequence[Any]], *,
                           params: Params = (), tail: str = "",
                           must_change: BaseException | None = None) -> None:
        """One change for many rows (storage.db.Tx.execute_rows), each row's values written
        in by psycopg's quoting one by one: a query too long for psycopg to keep is split
        at its placeholders afresh each time, which for a thousand of them cost more than
        the statement itself."""
        if self._literals is None:
            self._literals = Transformer(self._conn)
        literal, encoding = self._literals.as_literal, self._conn.info.encoding
        for _, chunk in row_chunks(rows):
            if must_change is not None:
                self._checks.append((len(self._held), len(chunk), must_change))
            written = ", ".join([f"({b', '.join([literal(v) for v in values]).decode(encoding)})"
                                 for values in chunk])
            self._held.append(f"{self._written(head, params)} {written}"
                              f"{self._written(tail, ())}")

    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run an INSERT and return the new row's id."""
        return int((await self._run(f"{sql} RETURNING id", params))[0][0])

    async def insert_new(self, sql: str, params: Params = ()) -> int | None:
        """Run an INSERT ... ON CONFLICT DO NOTHING: the new row's id, or None."""
        found = await self._run(f"{sql} RETURNING id", params)
        return int(found[0][0]) if found else None

    async def returning(self, sql: str, params: Params = ()) -> Row | None:
        return next(iter(await self._run(sql, params)), None)

    async def returning_all(self, sql: str, params: Params = ()) -> list[Row]:
        return await self._run(sql, params)

    async def update(self, sql: str, params: Params = ()) -> int:
        return (await self._cursor(sql, params)).rowcount

    async def settle(self) -> None:
        """Send what is held and wait for it; raise the first error."""
        await self._send()

    async def rollback(self) -> None:
        """Undo every change so far; the transaction goes on afresh."""
        self._held, self._checks = [], []
        await self._conn.rollback()
        self.after_commit.clear()


class PgDatabase(_Queries):
    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        self.url = url
        self._writer: psycopg.AsyncConnection[Row] | None = None
        self._readers: AsyncConnectionPool | None = None
        self._lockers: AsyncConnectionPool | None = None  # connections holding chat locks
        self._lock = asyncio.Lock()
        self.org_changes = 0

    def org_changed(self) -> None:
        self.org_changes += 1

    async def _connect(self, conn: psycopg.AsyncConnection[Any]) -> None:
        conn.adapters.register_dumper(bool, _BoolAsInteger)
        conn.prepare_threshold = None
        conn.row_factory = _rows  # type: ignore[assignment]

    async def open(self) -> None:
        self._writer = await psycopg.AsyncConnection.connect(self.url, options="-c TimeZone=UTC")
        await self._connect(self._writer)
        self._readers = AsyncConnectionPool(
            self.url, min_size=1, max_size=READERS, open=False, configure=self._connect,
            kwargs={"autocommit": True, "options": "-c TimeZone=UTC"},
        )
        await self._readers.open(wait=True)

    @asynccontextmanager
    async def chat_lock(self, key: int) -> AsyncIterator[None]:
        """Hold a chat's advisory lock (across every instance on this database) while the
        block runs. It is held by a connection of its own: if this instance dies, the
        server lets it go with the connection."""
        if self._lockers is None:
            self._lockers = AsyncConnectionPool(
                self.url, min_size=0, max_size=LOCKERS, open=False,
                kwargs={"autocommit": True, "prepare_threshold": None})
            await self._lockers.open()
        async with self._lockers.connection() as conn:
            await conn.execute("SELECT pg_advisory_lock(%s)", (key,))
            try:
                yield
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (key,))

    async def close(self) -> None:
        if self._lockers is not None:
            await self._lockers.close()
            self._lockers = None
        if self._readers is not None:
            await self._readers.close()
            self._readers = None
        if self._writer is not None:
            await self._writer.close()
            self._writer = None

    async def _run(self, sql: str, params: Params) -> list[Row]:
        assert self._readers is not None, "database not open"
        async with self._readers.connection() as conn:
            cur = await conn.execute(pg_sql(sql), _params(params), prepare=False)
            return await cur.fetchall() if cur.description else []

    @asynccontextmanager
    async def write(self, *, marks_update: bool = True) -> AsyncIterator[PgTx]:
        """A write transaction: committed on success, rolled back on any error; inside
        the handling of an update, it also records the update as handled (storage.db)."""
        assert self._writer is not None, "database not open"
        current: HandlingUpdate | None = handling_update.get() if marks_update else None
        if current is not None and current.handled:
            current = None
        async with self._lock:
            tx = PgTx(self._writer)
            try:
                yield tx
                if current is not None:
                    await tx.execute(
                        "UPDATE updates SET status = 'done', payload = NULL, done_at = ?"
                        " WHERE update_id = ?", (to_db(datetime.now(UTC)), current.update_id),
                    )
                await tx.settle()
                await self._writer.commit()
            except BaseException:
                await self._writer.rollback()
                raise
            if current is not None:
                current.handled = True
            for callback in tx.after_commit:
                callback()

    async def schema_version(self) -> int:
        return int(await self.fetchval("SELECT coalesce(max(version), 0) FROM schema_version"))

    async def upgrade(self, migrations: list[tuple[int, str, str]] | None = None) -> list[int]:
        """Apply every migration not recorded yet, in order, under an advisory lock (two
        instances starting together do not both apply one); return their numbers."""
        assert self._writer is not None, "database not open"
        async with self._lock:
            conn = self._writer
            try:
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY,"
                    " name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)")
                done = {r[0] for r in await (await conn.execute(
                    "SELECT version FROM schema_version")).fetchall()}
                applied = []
                for number, name, sql in migrations or available_migrations("migrations_pg"):
                    if number in done:
                        continue
                    await conn.execute(sql.encode())  # a script: no placeholders in it
                    await conn.execute(
                        "INSERT INTO schema_version(version, name, applied_at) VALUES (%s, %s, %s)",
                        (number, name, to_db(datetime.now(UTC))))
                    applied.append(number)
                await conn.commit()
            except BaseException:
                await conn.rollback()
                raise
        for number in applied:
            log.info("applied migration %04d (PostgreSQL)", number)
        return applied


MIGRATION_LOCK = 0x4C494E4C49  # "LINLI": the advisory lock migrations run under


def is_postgres(target: object) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))
