"""A throwaway PostgreSQL server for the tests.

``LINLI_TEST_POSTGRES_URL`` names a server to use (its user may create databases);
otherwise the session starts its own cluster in a temporary folder with the machine's
``initdb`` and ``pg_ctl`` (run as the ``postgres`` user when the tests run as root, since
PostgreSQL refuses root), on a free loopback port, and stops it at the end. Each test
gets a database of its own, cloned from a template that already has the schema.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg

TEMPLATE = "linli_template"
_numbers = itertools.count(1)


class PostgresUnavailable(RuntimeError):
    """No server named and none could be started."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / name).exists():
            return str(folder / name)
    return None


class PostgresServer:
    def __init__(self) -> None:
        self.url = os.environ.get("LINLI_TEST_POSTGRES_URL")
        self._folder: Path | None = None
        self._user: str | None = None
        self._pg_ctl: str | None = None

    @property
    def own(self) -> bool:
        return self._folder is not None

    def start(self) -> None:
        if self.url:
            return
        initdb, pg_ctl = _tool("initdb"), _tool("pg_ctl")
        if not (initdb and pg_ctl):
            raise PostgresUnavailable("no LINLI_TEST_POSTGRES_URL, and no initdb/pg_ctl here")
        self._pg_ctl = pg_ctl
        self._folder = Path(tempfile.mkdtemp(prefix="linli-pg-"))
        if os.geteuid() == 0:
            self._user = "postgres" if _has_user("postgres") else "nobody"
            shutil.chown(self._folder, self._user)
        port = _free_port()
        data = self._folder / "data"
        self._run([initdb, "-D", str(data), "-A", "trust", "-U", "linli", "-E", "UTF8",
                   "--locale=C.UTF-8", "--no-sync"])
        options = (f"-k {self._folder} -c listen_addresses=127.0.0.1 -p {port}"
                   " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                   " -c max_connections=300 -c shared_buffers=64MB")
        self._run([pg_ctl, "-D", str(data), "-o", options, "-l", str(self._folder / "log"),
                   "-w", "-t", "60", "start"])
        self.url = f"postgresql://linli@127.0.0.1:{port}/postgres"

    def _run(self, command: list[str]) -> None:
        done = subprocess.run(command, capture_output=True, text=True, user=self._user,
                              cwd=self._folder)
        if done.returncode != 0:
            raise PostgresUnavailable(f"{command[0]} failed: {done.stderr.strip()[-400:]}")

    def stop(self) -> None:
        if self._folder is None:
            return
        subprocess.run([self._pg_ctl or "pg_ctl", "-D", str(self._folder / "data"), "-m",
                        "immediate", "stop"], capture_output=True, user=self._user)
        shutil.rmtree(self._folder, ignore_errors=True)
        self._folder = None

    def url_of(self, name: str) -> str:
        assert self.url is not None
        return self.url.rsplit("/", 1)[0] + "/" + name

    def prepare_template(self) -> None:
        """The template every test's database is cloned from: the schema, brought up to
        date once (a clone takes milliseconds, the migrations far longer)."""
        from storage.db import open_database

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
            conn.execute(f"CREATE DATABASE {TEMPLATE}")

        async def upgrade() -> None:
            db = await open_database(self.url_of(TEMPLATE))
            await db.close()

        asyncio.run(upgrade())

    def new_database(self) -> str:
        """A fresh database with the schema; its URL."""
        name = f"linli_{os.getpid()}_{next(_numbers)}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        return self.url_of(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
