"""Which database the running test uses: every test that touches storage runs twice, on
SQLite and on PostgreSQL (tests/conftest.py parametrises them).

A test asks :func:`database_in` for the database of a folder (the bot's, or a second
deployment's): on SQLite a file in that folder, on PostgreSQL a fresh database of the
session's server, made on the first ask and dropped when the test ends.
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from storage.pg import pg_sql, plain, row_kind
from storage.timeutil import to_db
from tests.pgserver import PostgresServer


@dataclass
class Backend:
    kind: str  # "sqlite" or "postgresql"
    server: PostgresServer | None = None
    made: dict[Path, str] = field(default_factory=dict)

    def database_in(self, folder: Path) -> Path | str:
        if self.server is None:
            return folder / "linli.db"
        if folder not in self.made:
            self.made[folder] = self.server.new_database()
        return self.made[folder]

    def drop(self) -> None:
        if self.server is not None:
            for url in self.made.values():
                self.server.drop_database(url)
        self.made.clear()


current = Backend("sqlite")


def database_in(folder: Path) -> Path | str:
    return current.database_in(folder)


def on_postgres() -> bool:
    return current.kind == "postgresql"


def query(target: Path | str | psycopg.Connection[Any], sql: str,
          params: tuple[object, ...] = ()) -> list[Any]:
    """Rows of one query, read outside the bot (as an operator's tool would), on either
    database (a PostgreSQL URL, or a connection to keep for many queries); read by column
    name or position, instants as SQLite stores them."""
    if isinstance(target, Path):
        conn = sqlite3.connect(f"file:{target}?mode=ro", uri=True, timeout=10)
        try:
            cur = conn.execute(sql, params)
            kind = row_kind(tuple(c[0] for c in cur.description or ()))
            return [kind(row) for row in cur.fetchall()]
        finally:
            conn.close()
    kept = isinstance(target, psycopg.Connection)
    opened = contextlib.nullcontext(target) if kept else psycopg.connect(target, autocommit=True)
    with opened as conn:
        cur = conn.execute(pg_sql(sql), params)
        names = tuple(c.name for c in cur.description or ())
        rows = cur.fetchall()
    kind = row_kind(names)
    return [kind(to_db(v) if isinstance(v, datetime) else plain(v) for v in row) for row in rows]
