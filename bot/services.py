"""Everything a handler needs, created once at start-up and closed at shutdown."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.i18n import pick_language
from bot.notifier import Notifier
from bot.org import OrgService
from config.settings import Settings
from storage.db import Database, open_database
from storage.org import OrgRepo
from storage.outbox import OutboxRepo
from storage.pending import PendingRepo
from storage.users import UserRepo


@dataclass
class Linli:
    settings: Settings
    clock: Clock
    db: Database
    users: UserRepo
    org_repo: OrgRepo
    outbox: OutboxRepo
    pending: PendingRepo
    notifier: Notifier
    org: OrgService
    bot_username: str = ""

    @classmethod
    async def open(cls, settings: Settings, clock: Clock) -> Linli:
        db = await open_database(settings.database)
        users, org_repo, outbox = UserRepo(db), OrgRepo(db), OutboxRepo(db)
        return cls(
            settings=settings, clock=clock, db=db, users=users, org_repo=org_repo, outbox=outbox,
            pending=PendingRepo(db), notifier=Notifier(db, outbox, users, org_repo, clock),
            org=OrgService(settings, db, org_repo, clock),
        )

    async def close(self) -> None:
        await self.notifier.stop()
        await self.db.close()

    async def language_of(self, user_id: int) -> str:
        """The language to write to a user in when no update is at hand."""
        user = await self.users.get(user_id)
        if user is None:
            return self.settings.language
        return pick_language(user.language, user.language_code, self.settings.language)
