"""The notification outbox: every message is recorded here before it is sent."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Database, Tx
from storage.timeutil import to_db


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    chat_id: int
    method: str
    payload: dict[str, Any]
    fallback: dict[str, Any] | None
    ref: str | None
    status: str
    attempts: int
    message_ids: list[int]


def _row(r: sqlite3.Row) -> OutboxRow:
    return OutboxRow(
        id=r["id"], chat_id=r["chat_id"], method=r["method"], payload=json.loads(r["payload"]),
        fallback=json.loads(r["fallback"]) if r["fallback"] else None, ref=r["ref"],
        status=r["status"], attempts=r["attempts"],
        message_ids=json.loads(r["message_ids"]) if r["message_ids"] else [],
    )


class OutboxRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self, tx: Tx, *, chat_id: int, method: str, payload: dict[str, Any],
        fallback: dict[str, Any] | None, ref: str | None, dedup_key: str | None,
        not_before: datetime, now: datetime, bulk: bool = False, want_id: bool = False,
        edit_of: int | None = None,
    ) -> int | None:
        """Queue a message, never twice for one ``dedup_key``. With ``want_id``, wait for
        its id (None when the key was queued before); else the insert does not wait.
        ``edit_of`` names the message an edit changes (edits go after new messages)."""
        sql = ("INSERT INTO outbox(dedup_key, chat_id, method, payload, fallback, ref,"
               " not_before, created_at, bulk, edit_of) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
               " ON CONFLICT DO NOTHING")
        params = (dedup_key, chat_id, method, json.dumps(payload, ensure_ascii=False),
                  json.dumps(fallback, ensure_ascii=False) if fallback else None, ref,
                  to_db(not_before), to_db(now), int(bulk), edit_of)
        if want_id:
            return await tx.insert_new(sql, params)
        await tx.execute(sql, params)
        return None

    async def coalesce_edit(self, tx: Tx, *, chat_id: int, edit_of: int, method: str,
                            payload: dict[str, Any], ref: str | None) -> int | None:
        """Fold an edit into the edit of the same message still queued, so that only the
        latest state is sent; the id of that queued edit, or None when none waits.
        New buttons on a queued new text keep that text."""
        r = await tx.fetchone(
            "SELECT id, method, payload FROM outbox WHERE chat_id = ? AND edit_of = ?"
            " AND status = 'pending' AND ref IS NOT DISTINCT FROM ? ORDER BY id DESC LIMIT 1",
            (chat_id, edit_of, ref),
        )
        if r is None:
            return None
        if method == "edit_buttons" and r["method"] == "edit_text":
            method, payload = "edit_text", {**json.loads(r["payload"]),
                                            "buttons": payload.get("buttons")}
        await tx.execute("UPDATE outbox SET method = ?, payload = ? WHERE id = ?",
                         (method, json.dumps(payload, ensure_ascii=False), r["id"]))
        return int(r["id"])

    async def get(self, outbox_id: int) -> OutboxRow | None:
        r = await self.db.fetchone("SELECT * FROM outbox WHERE id = ?", (outbox_id,))
        return None if r is None else _row(r)

    async def due(self, now: datetime, limit: int, skip: list[int] | None = None,
                  skip_edits: list[int] | None = None) -> list[tuple[int, int]]:
        """(id, chat id) of messages due now, in the order to send them: new messages
        before edits, bulk ones after the rest, then oldest first. None for the chats in
        `skip` (groups that reached Telegram's limit), no edits for those in `skip_edits`
        (groups whose last free places are kept for new messages), and none queued in a
        chat after a message of it that waits out a retry: a chat's messages keep their
        order."""
        skip, skip_edits = skip or [], skip_edits or []
        skipping = f" AND o.chat_id NOT IN ({','.join('?' * len(skip))})" if skip else ""
        if skip_edits:
            skipping += (" AND (o.edit_of IS NULL OR o.chat_id NOT IN"
                         f" ({','.join('?' * len(skip_edits))}))")
        at = to_db(now)
        rows = await self.db.fetchall(
            "WITH held AS (SELECT chat_id, min(id) AS first FROM outbox"
            "  WHERE status = 'pending' AND error IS NOT NULL AND not_before > ?"
            "  GROUP BY chat_id)"
            " SELECT o.id, o.chat_id FROM outbox o LEFT JOIN held h ON h.chat_id = o.chat_id"
            " WHERE o.status = 'pending' AND o.not_before <= ?"
            " AND (h.first IS NULL OR o.id < h.first)"
            f"{skipping} ORDER BY o.bulk, o.edit_of IS NOT NULL, o.id LIMIT ?",
            (at, at, *skip, *skip_edits, limit),
        )
        return [(r[0], r[1]) for r in rows]

    async def claim_many(self, outbox_ids: list[int]) -> list[OutboxRow]:
        """Take pending rows for sending in one go; returns those this caller got."""
        if not outbox_ids:
            return []
        marks = ",".join("?" * len(outbox_ids))
        async with self.db.write() as tx:
            rows = await tx.fetchall(
                f"UPDATE outbox SET status = 'sending', attempts = attempts + 1"
                f" WHERE id IN ({marks}) AND status = 'pending' RETURNING *",
                outbox_ids,
            )
        return sorted((_row(r) for r in rows), key=lambda row: row.id)

    async def next_due_at(self) -> str | None:
        return await self.db.fetchval(
            "SELECT min(not_before) FROM outbox WHERE status = 'pending'"
        )

    async def release_inflight(self) -> int:
        """After a crash, rows caught mid-send are sent again (at least once)."""
        async with self.db.write() as tx:
            return await tx.update("UPDATE outbox SET status = 'pending' WHERE status = 'sending'")

    async def record_part(self, outbox_id: int, message_ids: list[int]) -> None:
        """Remember the parts of a long message already sent, so a retry skips them."""
        async with self.db.write() as tx:
            await tx.execute(
                "UPDATE outbox SET message_ids = ? WHERE id = ?",
                (json.dumps(message_ids), outbox_id),
            )

    async def finish(
        self, tx: Tx, outbox_id: int, status: str, now: datetime,
        message_ids: list[int] | None = None, error: str | None = None,
    ) -> None:
        await tx.execute(
            "UPDATE outbox SET status = ?, sent_at = ?, error = ?,"
            " message_ids = coalesce(?, message_ids) WHERE id = ?",
            (status, to_db(now), error,
             json.dumps(message_ids) if message_ids is not None else None, outbox_id),
        )

    async def retry_later(
        self, outbox_id: int, not_before: datetime, error: str, count_attempt: bool = True
    ) -> None:
        async with self.db.write() as tx:
            await tx.execute(
                "UPDATE outbox SET status = 'pending', not_before = ?, error = ?,"
                " attempts = attempts - ? WHERE id = ?",
                (to_db(not_before), error, 0 if count_attempt else 1, outbox_id),
            )

    async def requeue(self, tx: Tx, outbox_id: int, payload: dict[str, Any] | None = None) -> None:
        """Send again at once, not counting the attempt (migration, a deleted topic)."""
        await tx.execute(
            "UPDATE outbox SET status = 'pending', attempts = attempts - 1,"
            " payload = coalesce(?, payload) WHERE id = ?",
            (json.dumps(payload, ensure_ascii=False) if payload is not None else None, outbox_id),
        )

    async def retarget(self, tx: Tx, old_chat_id: int, new_chat_id: int) -> None:
        """A group migrated: everything still queued for it goes to the supergroup."""
        await tx.execute(
            "UPDATE outbox SET chat_id = ? WHERE chat_id = ? AND status IN ('pending', 'sending')",
            (new_chat_id, old_chat_id),
        )

    async def sent_messages(self, ref: str, tx: Tx | None = None) -> list[tuple[int, list[int]]]:
        """(chat id, message ids) of every sent message carrying ``ref``."""
        rows = await (tx or self.db).fetchall(
            "SELECT chat_id, message_ids FROM outbox WHERE ref = ? AND status = 'sent'"
            " ORDER BY id",
            (ref,),
        )
        return [(r["chat_id"], json.loads(r["message_ids"] or "[]")) for r in rows]

    async def sent_messages_of(self, refs: list[str],
                               tx: Tx) -> dict[str, list[tuple[int, list[int]]]]:
        """``sent_messages`` for several refs in one statement (each ref asked is a key)."""
        found: dict[str, list[tuple[int, list[int]]]] = {ref: [] for ref in refs}
        if not refs:
            return found
        rows = await tx.fetchall(
            "SELECT ref, chat_id, message_ids FROM outbox"
            f" WHERE ref IN ({','.join('?' * len(refs))}) AND status = 'sent' ORDER BY id",
            refs,
        )
        for r in rows:
            found[r["ref"]].append((r["chat_id"], json.loads(r["message_ids"] or "[]")))
        return found

    async def replace_pending(self, tx: Tx, ref: str, chat_id: int,
                              payload: dict[str, Any]) -> bool:
        """Update a queued, not yet sent message in place (coalescing live edits)."""
        return await tx.update(
            "UPDATE outbox SET payload = ? WHERE ref = ? AND chat_id = ? AND status = 'pending'",
            (json.dumps(payload, ensure_ascii=False), ref, chat_id),
        ) > 0

    async def counts(self) -> dict[str, int]:
        rows = await self.db.fetchall("SELECT status, count(*) FROM outbox GROUP BY status")
        return {r[0]: r[1] for r in rows}

    async def delivered_or_due(self, ref: str, chat_id: int, tx: Tx | None = None) -> bool:
        """Whether a message carrying ``ref`` reached this chat or is still on its way
        (not given up as unreachable or failed)."""
        row = await (tx or self.db).fetchone(
            "SELECT 1 FROM outbox WHERE ref = ? AND chat_id = ?"
            " AND status IN ('sent', 'pending', 'sending') LIMIT 1",
            (ref, chat_id),
        )
        return row is not None

    async def depth(self) -> int:
        """Messages waiting to be sent (through the partial index of what is due)."""
        return int(await self.db.fetchval(
            "SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')"))
