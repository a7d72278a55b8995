"""Which database the running test uses: every test that touches storage runs twice, on
SQLite and on PostgreSQL (tests/conftest.py parametrises them).

A test asks :func:`database_in` for the database of a folder (the bot's, or a second
deployment's): on SQLite a file in that folder, on PostgreSQL a fresh database of the
session's server, made on the first ask and dropped when the test ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

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
