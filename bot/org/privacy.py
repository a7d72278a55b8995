"""Residents' personal information as China's PIPL expects: a notice and consent before
anyone is registered, a resident's right to see (/mydata) and delete (/forget) what Linli
holds about them, and retention limits applied by a daily job (the one deadline
mechanism). The SQL is storage/privacy.py; this module decides what is personal."""

from __future__ import annotations

import json
import logging
from datetime import datetime, time
from pathlib import Path
from typing import Any

from bot.core.clock import Clock
from bot.core.errors import NotAllowed
from bot.core.i18n import t
from bot.core.notifier import Notifier
from bot.core.scheduler import Scheduler
from bot.core.timing import next_local
from config.settings import Settings
from storage.db import Database, Tx
from storage.deadlines import Deadline
from storage.org import OrgRepo
from storage.outbox import OutboxRow
from storage.privacy import PrivacyRepo
from storage.users import UserRepo

log = logging.getLogger(__name__)

RETENTION = "retention"
RETENTION_AT = time(3, 0)  # local: a quiet hour
EXPORT_REF = "mydata:"  # the outbox ref of a /mydata file
RATING_KEYS = ("satisfied", "acceptable", "unsatisfied", "unrated")


class PrivacyService:
    def __init__(self, settings: Settings, db: Database, clock: Clock, org: OrgRepo,
                 users: UserRepo, repo: PrivacyRepo, scheduler: Scheduler,
                 notifier: Notifier) -> None:
        self.settings, self.db, self.clock, self.org = settings, db, clock, org
        self.users, self.repo, self.scheduler = users, repo, scheduler
        scheduler.on(RETENTION, self.on_retention)
        # the /mydata file is a copy of everything: not kept once Telegram has it
        notifier.on_finished(EXPORT_REF, self._export_finished)

    # -- notice and consent ---------------------------------------------------------------

    def notice(self, lang: str) -> str:
        """What /join shows before registering: configured, else the catalog's."""
        configured = (self.settings.privacy.notice_zh if lang == "zh"
                      else self.settings.privacy.notice_en)
        return configured or t(lang, "privacy.notice")

    async def consented(self, user_id: int) -> bool:
        return await self.repo.consent(user_id, "join") is not None

    async def agree(self, user_id: int) -> None:
        async with self.db.write() as tx:
            await self.repo.give(tx, user_id, "join", "pressed", user_id, self.clock.now())

    async def record_care_consent(self, tx: Tx, user_id: int, how: str,
                                  recorded_by: int) -> None:
        await self.repo.give(tx, user_id, "care", how, recorded_by, self.clock.now())

    # -- a resident's rights --------------------------------------------------------------

    async def export(self, user_id: int) -> bytes:
        """Everything held about ``user_id``, as UTF-8 JSON, table by table."""
        data: dict[str, Any] = {
            "user_id": user_id,
            "exported_at": self.clock.now().isoformat(),
            "tables": await self.repo.export(user_id),
        }
        return json.dumps(data, ensure_ascii=False, indent=2, default=str).encode("utf-8")

    async def _export_finished(self, tx: Tx, row: OutboxRow, _delivery: Any,
                               _extra: dict[str, Any]) -> None:
        await self.repo.drop_outbox_payload(tx, row.id)

    async def forget(self, user_id: int) -> list[int]:
        """Delete or anonymise everything about a resident; the numbers of their reports
        (whose prompts are to be brought up to date). Leaders are the organisation's
        record and leave through an admin first."""
        if await self.org.led_nodes(user_id):
            raise NotAllowed("privacy.forget_leader")
        personal = await self._personal(user_id)
        reports = await self.repo.report_ids(user_id)
        async with self.db.write() as tx:
            await self.repo.forget(tx, user_id, personal, self._keys(), self.clock.now())
        self.users.drop_cached(user_id)  # the row is gone
        log.info("a resident was forgotten (%d report(s) anonymised)", len(reports))
        return reports

    async def _personal(self, user_id: int) -> list[str]:
        """The strings that name the person: to be scrubbed wherever they were written."""
        found: list[str] = []
        user = await self.users.get(user_id)
        if user is not None:
            found += [user.first_name or "", user.last_name or "", user.username or "",
                      user.display_name if user.first_name or user.last_name else ""]
        resident = await self.org.resident(user_id)
        if resident is not None and resident.unit:
            found.append(resident.unit)
        exported = await self.repo.export(user_id)
        found += [r["text"] for r in exported["reports"] if r["text"]]
        return [p for p in dict.fromkeys(found) if len(p) >= 2]  # one letter names everything

    def _keys(self) -> list[str]:
        return [*self.settings.reports.categories, *RATING_KEYS]

    # -- retention ----------------------------------------------------------------------

    async def ensure_armed(self) -> None:
        await self.scheduler.keep_armed(RETENTION, "daily",
                                        next_local(self.settings, self.clock.now(),
                                                   RETENTION_AT))

    async def on_retention(self, tx: Tx, _deadline: Deadline | None = None) -> None:
        now = self.clock.now()
        p = self.settings.privacy
        media = await self.repo.remove_media(tx, now - p.media_after, now)
        texts = await self.repo.remove_texts(tx, now - p.text_after, now, self._keys())
        pruned = prune_log(p.log_file, now - p.logs_after) if p.log_file else 0
        log.info("retention: %d photo(s), %d text(s), %d log line(s) removed", len(media),
                 len(texts), pruned)
        await self.scheduler.arm(tx, RETENTION, 0, "daily",
                                 next_local(self.settings, now, RETENTION_AT))


def retention_policy(settings: Settings) -> list[str]:
    """The policy in force, as `linli check` prints it."""
    p = settings.privacy
    return [f"photos and locations of closed reports: removed {p.media_after.days} days after"
            " closing",
            f"texts of closed reports (and notes on them): removed {p.text_after.days} days"
            " after closing",
            f"log file lines: kept {p.logs_after.days} days"
            + (f" ({p.log_file})" if p.log_file else " (no privacy.log_file set)"),
            "daily at 03:00 local time; /forget removes a resident's at once"]


def prune_log(path: Path, before: datetime) -> int:
    """Drop the lines of the log file written before ``before`` (lines start with their
    local time, "2026-11-25 10:00:00,123"; a line without one goes with the one above)."""
    if not path.exists():
        return 0
    cutoff = before.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    kept, dropped, old = [], 0, False
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if len(line) >= 19 and line[4] == "-" and line[10] == " ":
                old = line[:19] < cutoff
            if old:
                dropped += 1
            else:
                kept.append(line)
    if dropped:
        path.write_text("".join(kept), encoding="utf-8")
    return dropped
