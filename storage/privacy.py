"""A resident's personal information (PIPL): consent, what Linli holds about a person
(/mydata), forgetting them (/forget) and retention. All of it touches many tables; the
SQL for it is kept here, in one place, so that a new table holding people is added here."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Database, Tx
from storage.timeutil import to_db

# what a forgotten resident's reports, votes and RSVPs carry instead of their id
FORGOTTEN_BASE = -(10**15)

# (table, column holding a user id): what /mydata exports and /forget pseudonymises.
# Each keeps its counts in the figures; the person's id is replaced by a pseudonym.
KEPT_AS_COUNTS = (
    ("event_rsvps", "user_id"), ("meeting_rsvps", "user_id"),
    ("topic_poll_votes", "user_id"), ("proposal_supports", "user_id"),
    ("family_votes", "voter_id"), ("family_nominations", "nominator_id"),
    ("proposals", "proposer_id"), ("help_requests", "requester_id"),
    ("help_offers", "volunteer_id"),
)
EXPORTED = (
    ("users", "user_id"), ("residents", "user_id"), ("consents", "user_id"),
    ("volunteers", "user_id"), ("volunteer_skills", "user_id"),
    ("care_entries", "user_id"), ("saved_replies", "user_id"), ("leader_away", "user_id"),
    *KEPT_AS_COUNTS,
)


def is_forgotten(user_id: int) -> bool:
    return user_id <= FORGOTTEN_BASE


@dataclass(frozen=True, slots=True)
class Consent:
    user_id: int
    purpose: str
    how: str
    recorded_by: int
    given_at: str


def _plain(row: sqlite3.Row) -> dict[str, Any]:
    """A row as the export shows it: instants as stored on SQLite, on either database."""
    return {key: to_db(v) if isinstance(v := row[key], datetime) else v for key in row.keys()}


class PrivacyRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- consent ------------------------------------------------------------------------

    async def give(self, tx: Tx, user_id: int, purpose: str, how: str, recorded_by: int,
                   now: datetime) -> None:
        await tx.execute(
            "INSERT INTO consents(user_id, purpose, how, recorded_by, given_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT(user_id, purpose) DO UPDATE SET"
            " how = excluded.how, recorded_by = excluded.recorded_by,"
            " given_at = excluded.given_at",
            (user_id, purpose, how, recorded_by, to_db(now)))

    async def drop_outbox_payload(self, tx: Tx, outbox_id: int) -> None:
        """A finished message whose content is not to be kept (a /mydata file)."""
        await tx.execute("UPDATE outbox SET payload = '{}', fallback = NULL WHERE id = ?"
                         " AND status != 'pending'", (outbox_id,))

    async def consent(self, user_id: int, purpose: str) -> Consent | None:
        row = await self.db.fetchone(
            "SELECT * FROM consents WHERE user_id = ? AND purpose = ?", (user_id, purpose))
        return Consent(**_plain(row)) if row else None

    # -- what Linli holds about a person --------------------------------------------------

    async def export(self, user_id: int) -> dict[str, list[dict[str, Any]]]:
        """Every row about ``user_id``: their own rows, their reports with their history,
        the care visits of their care entry. Other people's ids in them stay as numbers."""
        found: dict[str, list[dict[str, Any]]] = {}
        for table, column in EXPORTED:
            rows = await self.db.fetchall(
                f"SELECT * FROM {table} WHERE {column} = ? ORDER BY 1, 2", (user_id,))
            found[table] = [_plain(r) for r in rows]
        reports = await self.db.fetchall(
            "SELECT * FROM reports WHERE reporter_id = ? ORDER BY id", (user_id,))
        found["reports"] = [_plain(r) for r in reports]
        events = await self.db.fetchall(
            "SELECT e.* FROM report_events e JOIN reports r ON r.id = e.report_id"
            " WHERE r.reporter_id = ? ORDER BY e.id", (user_id,))
        found["report_events"] = [_plain(r) for r in events]
        visits = await self.db.fetchall(
            "SELECT v.* FROM care_visits v JOIN care_entries c ON c.id = v.entry_id"
            " WHERE c.user_id = ? ORDER BY v.id", (user_id,))
        found["care_visits"] = [_plain(r) for r in visits]
        return found

    async def report_ids(self, user_id: int) -> list[int]:
        rows = await self.db.fetchall(
            "SELECT id FROM reports WHERE reporter_id = ? ORDER BY id", (user_id,))
        return [r["id"] for r in rows]

    # -- forgetting -------------------------------------------------------------------------

    async def forget(self, tx: Tx, user_id: int, personal: list[str], keys: list[str],
                     now: datetime) -> int:
        """Delete what is only about the person, pseudonymise what the figures count
        (reports, votes, RSVPs, care visits), blank every text they wrote or that was
        written about them (``keys``: the notes that are words of the program, such as
        categories and ratings, stay), and scrub the outbox of messages carrying ``personal``
        (their name, unit, report texts). Returns the pseudonym."""
        pseudonym = FORGOTTEN_BASE - await tx.insert(
            "INSERT INTO forgotten(at) VALUES (?)", (to_db(now),))
        reports = [r["id"] for r in await tx.fetchall(
            "SELECT id FROM reports WHERE reporter_id = ?", (user_id,))]
        if reports:
            await self._blank_notes(tx, reports, keys)
        await tx.execute("UPDATE report_events SET actor_id = ? WHERE actor_id = ?",
                         (pseudonym, user_id))
        await tx.execute("UPDATE report_events SET on_behalf_of = ? WHERE on_behalf_of = ?",
                         (pseudonym, user_id))
        await tx.execute(
            "UPDATE reports SET version = version + 1, reporter_id = ?, text = '',"
            " photo_file_id = NULL, resolution_photo = NULL, voice_file_id = NULL,"
            " transcript = NULL,"
            " latitude = NULL, longitude = NULL, source_chat_id = NULL, resolution = NULL,"
            " text_removed_at = ?, media_removed_at = ? WHERE reporter_id = ?",
            (pseudonym, to_db(now), to_db(now), user_id))
        for table, column in KEPT_AS_COUNTS:
            await tx.execute(f"UPDATE {table} SET {column} = ? WHERE {column} = ?",
                             (pseudonym, user_id))
        await tx.execute("UPDATE help_requests SET text = '' WHERE requester_id = ?",
                         (pseudonym,))
        await tx.execute(
            "UPDATE care_visits SET note = NULL WHERE entry_id IN"
            " (SELECT id FROM care_entries WHERE user_id = ?)", (user_id,))
        await tx.execute(
            "UPDATE care_entries SET user_id = ?, note = NULL, active = 0, consent = NULL"
            " WHERE user_id = ?", (pseudonym, user_id))
        # a supporter (我也遇到) is forgotten too; the report keeps how many there were
        for table in ("volunteer_skills", "volunteers", "residents", "consents",
                      "pending_inputs", "saved_replies", "leader_away", "report_supporters",
                      "users"):
            await tx.execute(f"DELETE FROM {table} WHERE user_id = ?", (user_id,))
        await self._scrub_outbox(tx, user_id, [p for p in personal if p])
        return pseudonym

    async def _scrub_outbox(self, tx: Tx, user_id: int, personal: list[str]) -> None:
        """Messages to the person, or carrying their details, keep only where they went
        (so that a later edit still finds them); what they said is dropped. One that
        was still waiting to go is not sent any more."""
        rows = await tx.fetchall("SELECT id, chat_id, payload, fallback, status FROM outbox")
        for row in rows:
            texts = json.dumps([json.loads(row["payload"] or "null"),
                                json.loads(row["fallback"] or "null")], ensure_ascii=False)
            if row["chat_id"] != user_id and not any(p in texts for p in personal):
                continue
            if row["status"] in ("pending", "sending"):
                await tx.execute(
                    "UPDATE outbox SET payload = '{}', fallback = NULL, status = 'failed',"
                    " error = 'forgotten' WHERE id = ?", (row["id"],))
            else:
                await tx.execute("UPDATE outbox SET payload = '{}', fallback = NULL"
                                 " WHERE id = ?", (row["id"],))

    # -- retention --------------------------------------------------------------------------

    async def remove_media(self, tx: Tx, closed_before: datetime, now: datetime) -> list[int]:
        """Photos, voices and locations of reports closed before ``closed_before``; their
        numbers."""
        ids = [r["id"] for r in await tx.fetchall(
            "SELECT id FROM reports WHERE state = 'closed' AND closed_at < ?"
            " AND media_removed_at IS NULL"
            " AND (photo_file_id IS NOT NULL OR resolution_photo IS NOT NULL"
            " OR latitude IS NOT NULL OR voice_file_id IS NOT NULL) ORDER BY id",
            (to_db(closed_before),))]
        if ids:
            await tx.execute(
                "UPDATE reports SET photo_file_id = NULL, resolution_photo = NULL,"
                " latitude = NULL, longitude = NULL, voice_file_id = NULL,"
                f" media_removed_at = ? WHERE id IN ({_marks(ids)})", (to_db(now), *ids))
        return ids

    async def remove_texts(self, tx: Tx, closed_before: datetime, now: datetime,
                           keys: list[str]) -> list[int]:
        """Texts of reports closed before ``closed_before``, with every note written on
        them (``keys``: notes that are words of the program, such as categories, stay)
        and the leaders' prompts that quoted them; the report numbers."""
        ids = [r["id"] for r in await tx.fetchall(
            "SELECT id FROM reports WHERE state = 'closed' AND closed_at < ?"
            " AND text_removed_at IS NULL ORDER BY id", (to_db(closed_before),))]
        if ids:
            await tx.execute(
                "UPDATE reports SET version = version + 1, text = '', resolution = NULL,"
                " transcript = NULL, text_removed_at = ?"
                f" WHERE id IN ({_marks(ids)})", (to_db(now), *ids))
            await self._blank_notes(tx, ids, keys)
            refs = [f"report:{i}:prompt" for i in ids]
            await tx.execute(
                "UPDATE outbox SET payload = '{}', fallback = NULL WHERE status = 'sent'"
                f" AND ref IN ({_marks(refs)})", refs)
        return ids

    async def _blank_notes(self, tx: Tx, report_ids: list[int], keys: list[str]) -> None:
        await tx.execute(
            f"UPDATE report_events SET note = NULL WHERE report_id IN ({_marks(report_ids)})"
            f" AND note IS NOT NULL AND note NOT LIKE 'missed:%' AND note NOT IN"
            f" ({_marks(keys)})", (*report_ids, *keys))


def _marks(values: list[Any]) -> str:
    return ",".join("?" * len(values))
