"""Consultation (恳谈会): proposals, topic polls, meetings, decisions. All their SQL."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Database, Tx
from storage.timeutil import from_db, to_db


@dataclass(frozen=True, slots=True)
class Proposal:
    id: int
    node_id: int
    proposer_id: int
    text: str
    state: str
    merged_into: int | None
    decline_reason: str | None
    supporters: int


@dataclass(frozen=True, slots=True)
class TopicPoll:
    id: int
    node_id: int
    chat_id: int
    thread_id: int | None
    created_by: int
    closes_at: datetime
    state: str
    tg_poll_id: str | None
    message_id: int | None


@dataclass(frozen=True, slots=True)
class Meeting:
    id: int
    node_id: int
    chat_id: int
    thread_id: int | None
    poll_id: int | None
    created_by: int
    title: str
    place: str
    starts_at: datetime
    state: str


@dataclass(frozen=True, slots=True)
class AgendaItem:
    position: int
    proposal_id: int | None
    text: str


@dataclass(frozen=True, slots=True)
class Decision:
    id: int
    meeting_id: int
    position: int
    text: str
    owner_id: int
    partner_id: int | None
    rung_node_id: int
    due_at: datetime
    state: str
    escalations: int
    overdue: bool
    done_note: str | None
    done_by: int | None


def _when(value: str) -> datetime:
    moment = from_db(value)
    assert moment is not None
    return moment


def _proposal(r: sqlite3.Row) -> Proposal:
    return Proposal(r["id"], r["node_id"], r["proposer_id"], r["text"], r["state"],
                    r["merged_into"], r["decline_reason"], r["supporters"])


def _poll(r: sqlite3.Row) -> TopicPoll:
    return TopicPoll(r["id"], r["node_id"], r["chat_id"], r["thread_id"], r["created_by"],
                     _when(r["closes_at"]), r["state"], r["tg_poll_id"], r["message_id"])


def _meeting(r: sqlite3.Row) -> Meeting:
    return Meeting(r["id"], r["node_id"], r["chat_id"], r["thread_id"], r["poll_id"],
                   r["created_by"], r["title"], r["place"], _when(r["starts_at"]), r["state"])


def _decision(r: sqlite3.Row) -> Decision:
    return Decision(r["id"], r["meeting_id"], r["position"], r["text"], r["owner_id"],
                    r["partner_id"], r["rung_node_id"], _when(r["due_at"]), r["state"],
                    r["escalations"], bool(r["overdue"]), r["done_note"], r["done_by"])


_PROPOSAL = ("SELECT p.*, (SELECT count(*) FROM proposal_supports s WHERE s.proposal_id = p.id)"
             " AS supporters FROM proposals p")


class ConsultationRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- proposals --------------------------------------------------------------------

    async def propose(self, tx: Tx, node_id: int, proposer_id: int, text: str,
                      source_chat_id: int | None, now: datetime) -> int:
        proposal_id = await tx.insert(
            "INSERT INTO proposals(node_id, proposer_id, text, source_chat_id, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            (node_id, proposer_id, text, source_chat_id, to_db(now), to_db(now)),
        )
        await self.support(tx, proposal_id, proposer_id, now)
        return proposal_id

    async def proposal(self, proposal_id: int, tx: Tx | None = None) -> Proposal | None:
        r = await (tx or self.db).fetchone(f"{_PROPOSAL} WHERE p.id = ?", (proposal_id,))
        return None if r is None else _proposal(r)

    async def open_proposals(self, node_ids: list[int]) -> list[Proposal]:
        if not node_ids:
            return []
        marks = ",".join("?" * len(node_ids))
        rows = await self.db.fetchall(
            f"{_PROPOSAL} WHERE p.state = 'open' AND p.node_id IN ({marks})"
            " ORDER BY supporters DESC, p.id", node_ids,
        )
        return [_proposal(r) for r in rows]

    async def support(self, tx: Tx, proposal_id: int, user_id: int, now: datetime) -> bool:
        """+1 once per user; False if they already supported it."""
        return await tx.update(
            "INSERT INTO proposal_supports(proposal_id, user_id, created_at)"
            " VALUES (?, ?, ?) ON CONFLICT DO NOTHING", (proposal_id, user_id, to_db(now)),
        ) > 0

    async def supporters(self, proposal_id: int, tx: Tx | None = None) -> list[int]:
        rows = await (tx or self.db).fetchall(
            "SELECT user_id FROM proposal_supports WHERE proposal_id = ? ORDER BY created_at",
            (proposal_id,),
        )
        return [r[0] for r in rows]

    async def set_proposal_state(self, tx: Tx, proposal_id: int, from_states: tuple[str, ...],
                                 state: str, now: datetime, **fields: Any) -> bool:
        sets = "".join(f", {name} = ?" for name in fields)
        marks = ",".join("?" * len(from_states))
        return await tx.update(
            f"UPDATE proposals SET state = ?, updated_at = ?{sets}"
            f" WHERE id = ? AND state IN ({marks})",
            (state, to_db(now), *fields.values(), proposal_id, *from_states),
        ) > 0

    async def proposers_of(self, proposal_id: int, tx: Tx | None = None) -> list[int]:
        """Who proposed it, and who proposed the duplicates merged into it."""
        rows = await (tx or self.db).fetchall(
            "SELECT proposer_id FROM proposals WHERE id = ? OR merged_into = ? ORDER BY id",
            (proposal_id, proposal_id),
        )
        return [r[0] for r in rows]

    async def move_supports(self, tx: Tx, from_id: int, to_id: int, now: datetime) -> None:
        await tx.execute(
            "INSERT INTO proposal_supports(proposal_id, user_id, created_at)"
            " SELECT ?, user_id, ? FROM proposal_supports WHERE proposal_id = ?"
            " ON CONFLICT DO NOTHING",
            (to_id, to_db(now), from_id),
        )

    # -- topic polls ------------------------------------------------------------------

    async def create_poll(self, tx: Tx, node_id: int, chat_id: int, thread_id: int | None,
                          created_by: int, closes_at: datetime, proposal_ids: list[int],
                          now: datetime) -> int:
        poll_id = await tx.insert(
            "INSERT INTO topic_polls(node_id, chat_id, thread_id, created_by, closes_at,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (node_id, chat_id, thread_id, created_by, to_db(closes_at), to_db(now)),
        )
        await tx.executemany(
            "INSERT INTO topic_poll_options(poll_id, position, proposal_id) VALUES (?, ?, ?)",
            [(poll_id, i, pid) for i, pid in enumerate(proposal_ids)],
        )
        return poll_id

    async def poll(self, poll_id: int, tx: Tx | None = None) -> TopicPoll | None:
        r = await (tx or self.db).fetchone("SELECT * FROM topic_polls WHERE id = ?", (poll_id,))
        return None if r is None else _poll(r)

    async def poll_by_tg(self, tg_poll_id: str) -> TopicPoll | None:
        r = await self.db.fetchone("SELECT * FROM topic_polls WHERE tg_poll_id = ?",
                                   (tg_poll_id,))
        return None if r is None else _poll(r)

    async def latest_closed_poll(self, chat_id: int) -> TopicPoll | None:
        r = await self.db.fetchone(
            "SELECT * FROM topic_polls WHERE chat_id = ? AND state = 'closed'"
            " ORDER BY id DESC LIMIT 1", (chat_id,),
        )
        return None if r is None else _poll(r)

    async def posted(self, tx: Tx, poll_id: int, tg_poll_id: str, message_id: int) -> None:
        await tx.execute(
            "UPDATE topic_polls SET tg_poll_id = ?, message_id = ? WHERE id = ?",
            (tg_poll_id, message_id, poll_id),
        )

    async def options(self, poll_id: int, tx: Tx | None = None) -> list[int]:
        """The proposal ids, in option order."""
        rows = await (tx or self.db).fetchall(
            "SELECT proposal_id FROM topic_poll_options WHERE poll_id = ? ORDER BY position",
            (poll_id,),
        )
        return [r[0] for r in rows]

    async def record_vote(self, tx: Tx, poll_id: int, user_id: int, option_ids: list[int],
                          counted: bool, now: datetime) -> None:
        await tx.execute(
            "INSERT INTO topic_poll_votes(poll_id, user_id, option_ids, counted, updated_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT(poll_id, user_id) DO UPDATE SET"
            " option_ids = excluded.option_ids, counted = excluded.counted,"
            " updated_at = excluded.updated_at",
            (poll_id, user_id, json.dumps(option_ids), int(counted), to_db(now)),
        )

    async def counted_votes(self, poll_id: int, tx: Tx | None = None) -> list[list[int]]:
        rows = await (tx or self.db).fetchall(
            "SELECT option_ids FROM topic_poll_votes WHERE poll_id = ? AND counted = 1",
            (poll_id,),
        )
        return [json.loads(r[0]) for r in rows]

    async def close_poll(self, tx: Tx, poll_id: int, now: datetime) -> bool:
        """open → closed, once."""
        return await tx.update(
            "UPDATE topic_polls SET state = 'closed', closed_at = ? WHERE id = ?"
            " AND state = 'open'", (to_db(now), poll_id),
        ) > 0

    # -- meetings ---------------------------------------------------------------------

    async def create_meeting(self, tx: Tx, *, node_id: int, chat_id: int, poll_id: int | None,
                             created_by: int, title: str, place: str, starts_at: datetime,
                             agenda: list[tuple[int | None, str]], now: datetime) -> int:
        meeting_id = await tx.insert(
            "INSERT INTO meetings(node_id, chat_id, poll_id, created_by, title, place, starts_at,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (node_id, chat_id, poll_id, created_by, title, place, to_db(starts_at), to_db(now)),
        )
        await tx.executemany(
            "INSERT INTO meeting_agenda(meeting_id, position, proposal_id, text)"
            " VALUES (?, ?, ?, ?)",
            [(meeting_id, i + 1, pid, text) for i, (pid, text) in enumerate(agenda)],
        )
        return meeting_id

    async def meeting(self, meeting_id: int, tx: Tx | None = None) -> Meeting | None:
        r = await (tx or self.db).fetchone("SELECT * FROM meetings WHERE id = ?", (meeting_id,))
        return None if r is None else _meeting(r)

    async def meetings_in(self, node_ids: list[int], started_before: datetime,
                          limit: int = 8) -> list[Meeting]:
        """The latest meetings of these nodes that have begun (for /decide's form)."""
        if not node_ids:
            return []
        marks = ",".join("?" * len(node_ids))
        rows = await self.db.fetchall(
            f"SELECT * FROM meetings WHERE node_id IN ({marks}) AND starts_at <= ?"
            f" AND state IN ('scheduled', 'decided') ORDER BY starts_at DESC, id DESC LIMIT ?",
            (*node_ids, to_db(started_before), limit),
        )
        return [_meeting(r) for r in rows]

    async def set_thread(self, tx: Tx, meeting_id: int, thread_id: int) -> None:
        await tx.execute("UPDATE meetings SET thread_id = ? WHERE id = ?", (thread_id, meeting_id))

    async def set_meeting_state(self, tx: Tx, meeting_id: int, state: str) -> bool:
        return await tx.update(
            "UPDATE meetings SET state = ? WHERE id = ? AND state != ?",
            (state, meeting_id, state),
        ) > 0

    async def agenda(self, meeting_id: int, tx: Tx | None = None) -> list[AgendaItem]:
        rows = await (tx or self.db).fetchall(
            "SELECT * FROM meeting_agenda WHERE meeting_id = ? ORDER BY position", (meeting_id,),
        )
        return [AgendaItem(r["position"], r["proposal_id"], r["text"]) for r in rows]

    async def rsvp(self, tx: Tx, meeting_id: int, user_id: int, answer: str,
                   now: datetime) -> None:
        await tx.execute(
            "INSERT INTO meeting_rsvps(meeting_id, user_id, answer, updated_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT(meeting_id, user_id) DO UPDATE SET"
            " answer = excluded.answer, updated_at = excluded.updated_at",
            (meeting_id, user_id, answer, to_db(now)),
        )

    async def rsvp_counts(self, meeting_id: int, tx: Tx | None = None) -> dict[str, int]:
        rows = await (tx or self.db).fetchall(
            "SELECT answer, count(*) FROM meeting_rsvps WHERE meeting_id = ? GROUP BY answer",
            (meeting_id,),
        )
        return {r[0]: r[1] for r in rows}

    async def attendees(self, meeting_id: int, tx: Tx | None = None) -> list[int]:
        rows = await (tx or self.db).fetchall(
            "SELECT user_id FROM meeting_rsvps WHERE meeting_id = ? AND answer = 'going'"
            " ORDER BY user_id", (meeting_id,),
        )
        return [r[0] for r in rows]

    # -- decisions --------------------------------------------------------------------

    async def add_decision(self, tx: Tx, *, meeting_id: int, position: int, text: str,
                           owner_id: int, partner_id: int | None, rung_node_id: int,
                           due_at: datetime, now: datetime) -> int:
        return await tx.insert(
            "INSERT INTO decisions(meeting_id, position, text, owner_id, partner_id,"
            " rung_node_id, due_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (meeting_id, position, text, owner_id, partner_id, rung_node_id, to_db(due_at),
             to_db(now)),
        )

    async def decision(self, decision_id: int, tx: Tx | None = None) -> Decision | None:
        r = await (tx or self.db).fetchone("SELECT * FROM decisions WHERE id = ?",
                                           (decision_id,))
        return None if r is None else _decision(r)

    async def decisions(self, meeting_id: int, tx: Tx | None = None) -> list[Decision]:
        rows = await (tx or self.db).fetchall(
            "SELECT * FROM decisions WHERE meeting_id = ? ORDER BY position, id", (meeting_id,),
        )
        return [_decision(r) for r in rows]

    async def escalate_decision(self, tx: Tx, decision: Decision, rung_node_id: int) -> bool:
        return await tx.update(
            "UPDATE decisions SET rung_node_id = ?, escalations = escalations + 1"
            " WHERE id = ? AND state = 'open' AND escalations = ?",
            (rung_node_id, decision.id, decision.escalations),
        ) > 0

    async def flag_overdue(self, tx: Tx, decision_id: int) -> bool:
        return await tx.update(
            "UPDATE decisions SET overdue = 1 WHERE id = ? AND state = 'open' AND overdue = 0",
            (decision_id,),
        ) > 0

    async def mark_done(self, tx: Tx, decision_id: int, user_id: int, note: str,
                        now: datetime) -> bool:
        return await tx.update(
            "UPDATE decisions SET state = 'done', done_note = ?, done_by = ?, done_at = ?"
            " WHERE id = ? AND state = 'open'", (note, user_id, to_db(now), decision_id),
        ) > 0
