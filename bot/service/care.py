"""The care list (关爱名单) and care visits (走访).

Leaders keep a list of residents who need regular visits (elderly living alone,
disabled, low-income) with a cadence. When a visit falls due, the leaders of the
first rung of the resident's chain (the grid leader, else the nearest above) are
reminded with a check-in button; the check-in takes a short note and schedules the
next visit. A visit not checked in within ``services.care_overdue`` climbs one rung,
like a report; at the top it is repeated daily to the community's leaders.
Care data is shown only to the leaders of the resident's chain (and admins).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.core.calendars import Calendars
from bot.core.clock import Clock
from bot.core.errors import BadInput, NotAllowed, NotFound
from bot.core.i18n import number, pick_language, t
from bot.core.inputs import person_id, visible
from bot.core.notifier import Button, Notifier, Outgoing
from bot.core.scheduler import Scheduler
from bot.core.timeparse import parse_duration
from bot.core.timing import local_time, quiet_hours_end
from bot.org.org import UNIT_MAX, OrgService
from config.settings import Settings
from storage.care import CareEntry, CareRepo, CareVisit
from storage.db import Database, Tx
from storage.deadlines import Deadline
from storage.org import Node, OrgRepo
from storage.outbox import OutboxRow
from storage.privacy import PrivacyRepo
from storage.users import UserRepo

ENTRY = "care_entry"  # kind "due": the entry's next visit falls due
VISIT = "care_visit"  # kind "overdue": a visit not checked in in time
KINDS = ("elderly_alone", "disabled", "low_income")
ALIASES = {"独居老人": "elderly_alone", "残疾人": "disabled", "低收入": "low_income",
           "elderly": "elderly_alone"}
NOTE_MAX = 500
NAME_MAX = 40  # a resident's name, as a leader writes it
MIN_CADENCE = timedelta(days=1)
TOP_REPEAT = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class CareDraft:
    user_id: int | None  # None: a resident without Telegram, registered with the entry
    node: Node
    kind: str
    cadence: timedelta
    note: str | None
    offline: tuple[str, str] | None = None  # (name, unit) of a resident without Telegram


def prompt_ref(visit_id: int) -> str:
    return f"care:{visit_id}:prompt"


ASK_REF = "careask:"  # the question to a resident whether they agree to be on the list


def ask_ref(entry_id: int) -> str:
    return f"{ASK_REF}{entry_id}"


class CareService:
    def __init__(self, settings: Settings, db: Database, clock: Clock, org_repo: OrgRepo,
                 org: OrgService, repo: CareRepo, users: UserRepo, notifier: Notifier,
                 scheduler: Scheduler, calendars: Calendars, privacy: PrivacyRepo) -> None:
        self.settings, self.db, self.clock = settings, db, clock
        self.calendars, self.privacy = calendars, privacy
        self.org_repo, self.org, self.repo, self.users = org_repo, org, repo, users
        self.notifier, self.scheduler = notifier, scheduler
        scheduler.on(ENTRY, self.on_entry_due)
        scheduler.on(VISIT, self.on_visit_overdue)
        notifier.on_finished(ASK_REF, self._ask_finished)

    # -- who may see what ---------------------------------------------------------------

    async def require_leader(self, user_id: int) -> list[Node]:
        roles = await self.org.roles(user_id)
        if not roles.leader:
            raise NotAllowed("care.leaders_only")
        return roles.led_nodes

    async def require_chain(self, user_id: int, node_id: int) -> Node:
        """The resident's node, if this user leads at or above it; else a refusal."""
        node = await self.org_repo.node(node_id)
        if node is None or not await self.org.may_manage(user_id, node):
            raise NotAllowed("care.not_yours")
        return node

    async def chain(self, node_id: int) -> list[Node]:
        """The rungs, bottom up: the node and its ancestors that have leaders."""
        return [n for n in await self.org_repo.ancestors(node_id)
                if await self.org_repo.leaders_of(n.id)]

    # -- the list -----------------------------------------------------------------------

    def parse_kind(self, text: str) -> str:
        kind = ALIASES.get(text.strip(), text.strip().lower())
        if kind not in KINDS:
            raise BadInput("care.usage_add")
        return kind

    def parse_cadence(self, text: str) -> timedelta:
        """每周, 每两周, 每月 (30 days), 7天, P7D, ... through the one time grammar."""
        cadence = parse_duration(text, self.clock.now(), self.settings.tz)
        if cadence < MIN_CADENCE:
            raise BadInput("care.cadence_too_short")
        return cadence

    def is_kind(self, text: str) -> bool:
        return ALIASES.get(text.strip(), text.strip().lower()) in KINDS

    async def scope_ids(self, by: int) -> list[int]:
        """The nodes whose residents this leader may name (everything for admins)."""
        led = await self.require_leader(by)
        tops = led or await self.org_repo.children(None)
        ids: set[int] = set()
        for node in tops:
            ids.update(n.id for n in await self.org_repo.subtree(node.id))
        return sorted(ids)

    async def resolve_person(self, ref: str, by: int | None = None) -> int:
        """A resident by Telegram id, @username, or the name they are registered under
        (the org file's, a leader's, or their Telegram name) within the leader's area."""
        ref = visible(ref)
        if (typed := person_id(ref)) is not None:
            return typed
        if ref.startswith("@") or by is None:
            found = await self.repo.user_by_username(ref.lstrip("@"))
            if found is None:
                raise NotFound("care.no_such_resident", who=ref)
            return found
        named = await self.org_repo.residents_named(await self.scope_ids(by), ref)
        if len(named) > 1:
            units = "、".join(r.unit or "—" for r in named)
            raise BadInput("care.name_ambiguous", who=ref, units=units)
        if not named:
            raise NotFound("care.no_such_name", who=ref)
        return named[0].user_id

    async def prepare(self, by: int, who: str, kind_text: str, cadence_text: str,
                      note: str | None, unit: str | None = None) -> CareDraft:
        """Check one entry without storing it: the leader may add this resident. With
        ``unit``, ``who`` is the name of a resident without Telegram."""
        await self.require_leader(by)
        kind, cadence = self.parse_kind(kind_text), self.parse_cadence(cadence_text)
        if unit is not None:
            return await self._prepare_offline(by, who, unit, kind, cadence, note)
        user_id = await self.resolve_person(who, by)
        resident = await self.org_repo.resident(user_id)
        if resident is None:
            if not self.org.is_admin(by):
                raise NotAllowed("care.not_yours")  # nothing learnt about who is registered
            raise NotFound("care.no_such_resident", who=who)
        node = await self.require_chain(by, resident.node_id)
        return CareDraft(user_id, node, kind, cadence, visible(note)[:NOTE_MAX] or None)

    async def _prepare_offline(self, by: int, name: str, unit: str, kind: str,
                               cadence: timedelta, note: str | None) -> CareDraft:
        """A resident without Telegram lives at the node the leader leads (the lowest)."""
        name, unit = " ".join(name.split()), " ".join(unit.split())
        if not name or len(name) > NAME_MAX or not unit or len(unit) > UNIT_MAX:
            raise BadInput("care.offline_invalid", max=NAME_MAX, unit_max=UNIT_MAX)
        led = await self.require_leader(by)
        if not led:
            raise BadInput("care.offline_needs_node")
        order = self.settings.level_keys
        node = max(led, key=lambda n: order.index(n.level))
        known = [r for r in await self.org_repo.residents_named([node.id], name)
                 if r.unit == unit]
        clean_note = (note or "").strip()[:NOTE_MAX] or None
        if known:
            return CareDraft(known[0].user_id, node, kind, cadence, clean_note)
        return CareDraft(None, node, kind, cadence, clean_note, offline=(name, unit))

    async def add(self, by: int, who: str, kind_text: str, cadence_text: str,
                  note: str | None) -> tuple[CareEntry, Node]:
        draft = await self.prepare(by, who, kind_text, cadence_text, note)
        return (await self.add_all(by, [draft]))[0]

    async def add_all(self, by: int, drafts: list[CareDraft]) -> list[tuple[CareEntry, Node]]:
        """Store checked entries in one transaction (a list pasted at once: all or nothing).
        A new entry waits for the resident's consent (:meth:`consent_in_person`,
        :meth:`ask_consent`) before its first visit is armed; an entry changed again keeps
        the consent it has."""
        now = self.clock.now()
        added = []
        async with self.db.write() as tx:
            for d in drafts:
                user_id = d.user_id
                if user_id is None:
                    assert d.offline is not None
                    user_id = await self.org_repo.add_offline_resident(
                        tx, d.node.id, d.offline[0], d.offline[1], now)
                entry_id = await self.repo.add(tx, user_id=user_id, node_id=d.node.id,
                                               kind=d.kind, cadence=d.cadence, note=d.note,
                                               first_due=now + d.cadence, by=by, now=now)
                await self.scheduler.deadlines.cancel(tx, ENTRY, entry_id, "due")
                entry = await self.repo.entry(entry_id, tx)
                assert entry is not None
                if entry.consent is not None:
                    await self.scheduler.arm(tx, ENTRY, entry_id, "due", now + d.cadence)
                added.append((entry, d.node))
        return added

    # -- the resident's consent (sensitive information: asked separately) ----------------

    async def awaiting(self, by: int, entry_id: int) -> CareEntry:
        """An entry of this leader's chain that still waits for consent."""
        await self.require_leader(by)
        entry = await self.repo.entry(entry_id)
        if entry is None or not entry.active:
            raise NotFound("care.no_entry", number=number(entry_id))
        await self.require_chain(by, entry.node_id)
        if entry.consent is not None:
            raise BadInput("care.consent_already", number=number(entry.id))
        return entry

    async def awaiting_between(self, by: int, first: int, last: int) -> list[CareEntry]:
        """The entries of one pasted list still waiting, those of this leader's chain."""
        await self.require_leader(by)
        found = []
        for entry in await self.repo.awaiting_between(first, last):
            node = await self.org_repo.node(entry.node_id)
            if node is not None and await self.org.may_manage(by, node):
                found.append(entry)
        return found

    async def consent_in_person(self, by: int, entry_ids: list[int]) -> list[CareEntry]:
        """A leader records that the residents agreed in person; their visits start."""
        entries = [await self.awaiting(by, i) for i in entry_ids]
        return await self._consented(entries, "in_person", by)

    async def resident_answer(self, user_id: int, entry_id: int,
                              agree: bool) -> CareEntry:
        """The resident's own 同意 or 不同意, pressed in private."""
        entry = await self.repo.entry(entry_id)
        if entry is None or entry.user_id != user_id:
            raise NotAllowed("care.consent_not_yours")
        if not entry.active or entry.consent is not None:
            raise BadInput("care.consent_answered")
        if agree:
            return (await self._consented([entry], "pressed", user_id))[0]
        now = self.clock.now()
        async with self.db.write() as tx:
            if not await self.repo.deactivate(tx, entry.id, now):
                raise BadInput("care.consent_answered")
            await self._tell_asker(tx, entry, "care.consent_declined_leader")
        self.notifier.kick()
        return entry

    async def _consented(self, entries: list[CareEntry], how: str,
                         recorded_by: int) -> list[CareEntry]:
        now = self.clock.now()
        done = []
        async with self.db.write() as tx:
            for entry in entries:
                if not await self.repo.set_consent(tx, entry.id, how, now):
                    raise BadInput("care.consent_already", number=number(entry.id))
                await self.privacy.give(tx, entry.user_id, "care", how, recorded_by, now)
                first = now + entry.cadence
                await self.repo.set_next_due(tx, entry.id, first, now)
                await self.scheduler.deadlines.cancel(tx, ENTRY, entry.id, "due")
                await self.scheduler.arm(tx, ENTRY, entry.id, "due", first)
                changed = await self.repo.entry(entry.id, tx)
                assert changed is not None
                if how == "pressed":
                    await self._tell_asker(tx, changed, "care.consent_given_leader")
                done.append(changed)
        self.notifier.kick()
        return done

    async def ask_consent(self, by: int, entry_ids: list[int]) -> tuple[list[CareEntry],
                                                                         list[CareEntry]]:
        """Ask each resident in private to press 同意; those without Telegram (to be asked
        in person) come back second."""
        entries = [await self.awaiting(by, i) for i in entry_ids]
        asked, offline = [], []
        async with self.db.write() as tx:
            for entry in entries:
                if entry.user_id < 0:
                    offline.append(entry)
                    continue
                lang = await self._lang(entry.user_id)
                await self.notifier.enqueue(tx, Outgoing(
                    entry.user_id, t(lang, "care.consent_ask",
                                     leader=await self._asker(by, entry, lang),
                                     **await self.describe(entry, lang)),
                    buttons=[[Button(t(lang, "care.btn_consent_yes"),
                                     data=f"cc:ok:{entry.id}"),
                              Button(t(lang, "care.btn_consent_no"),
                                     data=f"cc:no:{entry.id}")]],
                    ref=ask_ref(entry.id),
                    dedup_key=f"care:{entry.id}:ask:{self.clock.now().timestamp() // 60:.0f}"))
                asked.append(entry)
        self.notifier.kick()
        return asked, offline

    async def _asker(self, by: int, entry: CareEntry, lang: str) -> str:
        """Who asks, as a resident knows them: 「1单元的邻长王」, by the role nearest them."""
        person = await self.users.get(by)
        name = person.display_name if person else ""
        for node in await self.org_repo.ancestors(entry.node_id):
            if any(lead.user_id == by for lead in await self.org_repo.leaders_of(node.id)):
                return t(lang, "care.consent_asker", node=node.name,
                         title=self.org.role_title(node.level, lang), name=name)
        return name

    async def _ask_finished(self, tx: Tx, row: OutboxRow, delivery: Any,
                            _extra: dict[str, Any]) -> None:
        """A resident the bot cannot write to: the leader is told to ask in person."""
        if delivery.status == "sent" or row.ref is None:
            return
        entry = await self.repo.entry(int(row.ref.removeprefix(ASK_REF)), tx)
        if entry is not None and entry.active and entry.consent is None:
            await self._tell_asker(tx, entry, "care.consent_unreachable")

    async def _tell_asker(self, tx: Tx, entry: CareEntry, key: str) -> None:
        lang = await self._lang(entry.created_by)
        d = await self.describe(entry, lang)
        due = local_time(self.settings, lang, entry.next_due_at)
        await self.notifier.enqueue(tx, Outgoing(
            entry.created_by, t(lang, key, number=number(entry.id), due=due, **d),
            buttons=([[Button(t(lang, "care.btn_in_person"), data=f"cc:in:{entry.id}")]]
                     if key == "care.consent_unreachable" else None),
            dedup_key=f"care:{entry.id}:{key}:{self.clock.now().timestamp():.0f}"))

    async def remove(self, by: int, entry_id: int) -> CareEntry:
        await self.require_leader(by)
        entry = await self.repo.entry(entry_id)
        if entry is None or not entry.active:
            raise NotFound("care.no_entry", number=number(entry_id))
        await self.require_chain(by, entry.node_id)
        now = self.clock.now()
        async with self.db.write() as tx:
            await self.repo.deactivate(tx, entry.id, now)
            await self.scheduler.deadlines.cancel(tx, ENTRY, entry.id, "due")
            for visit in await self.repo.open_visits_of(entry.id, tx):
                await self.repo.cancel_visit(tx, visit.id)
                await self.scheduler.deadlines.cancel(tx, VISIT, visit.id, "overdue")
        return entry

    async def visible_entries(self, user_id: int) -> list[CareEntry]:
        """The entries under the nodes this leader leads (everything for admins)."""
        led = await self.require_leader(user_id)
        tops = led or await self.org_repo.children(None)
        ids: set[int] = set()
        for node in tops:
            ids.update(n.id for n in await self.org_repo.subtree(node.id))
        return await self.repo.entries_in(sorted(ids))

    # -- visits -------------------------------------------------------------------------

    async def on_entry_due(self, tx: Tx, deadline: Deadline) -> None:
        entry = await self.repo.entry(deadline.subject_id, tx)
        if entry is None or not entry.active:
            return
        chain = await self.chain(entry.node_id)
        rung = chain[0] if chain else (await self.org_repo.ancestors(entry.node_id))[-1]
        visit_id = await self.repo.open_visit(tx, entry, rung.id)
        if visit_id is None:
            return
        visit = await self.repo.visit(visit_id, tx)
        assert visit is not None
        await self._remind(tx, visit, entry, rung, "care.due")
        due = await self.calendars.due(entry.next_due_at, self.settings.services.care_overdue)
        await self.scheduler.arm(tx, VISIT, visit.id, "overdue", due.at, due.deferred_by)

    async def on_visit_overdue(self, tx: Tx, deadline: Deadline) -> None:
        visit = await self.repo.visit(deadline.subject_id, tx)
        if visit is None or visit.state != "due":
            return
        entry = await self.repo.entry(visit.entry_id, tx)
        assert entry is not None
        now = self.clock.now()
        chain = await self.chain(visit.node_id)
        ids = [n.id for n in chain]
        old = await self.org_repo.node(visit.rung_node_id)
        assert old is not None
        if visit.rung_node_id in ids and ids.index(visit.rung_node_id) + 1 < len(chain):
            rung = chain[ids.index(visit.rung_node_id) + 1]
            await self.repo.move(tx, visit.id, rung.id)
            moved = await self.repo.visit(visit.id, tx)
            assert moved is not None
            for leader in await self.org_repo.leaders_of(old.id):
                lang = await self._lang(leader.user_id)
                await self.notifier.enqueue(tx, Outgoing(
                    leader.user_id, t(lang, "care.told_old_missed", number=number(visit.id),
                                      node=rung.name),
                    dedup_key=f"care:{visit.id}:e{moved.escalations}:old:{leader.user_id}"))
            await self._remind(tx, moved, entry, rung, "care.due_escalated")
        else:  # the top of the chain: remind its leaders daily until someone checks in
            await self.repo.move(tx, visit.id, visit.rung_node_id)
            moved = await self.repo.visit(visit.id, tx)
            assert moved is not None
            await self._remind(tx, moved, entry, old, "care.due_overdue_top")
        due = await self.calendars.due(now, self.settings.services.care_overdue
                                       if moved.rung_node_id != visit.rung_node_id
                                       else TOP_REPEAT)
        await self.scheduler.arm(tx, VISIT, visit.id, "overdue", due.at, due.deferred_by)

    async def _lang(self, user_id: int) -> str:
        user = await self.users.get(user_id)
        return pick_language(user.language if user else None,
                             user.language_code if user else None, self.settings.language)

    async def describe(self, entry: CareEntry, lang: str) -> dict[str, str]:
        person = await self.users.get(entry.user_id)
        resident = await self.org_repo.resident(entry.user_id)
        node = await self.org_repo.node(entry.node_id)
        name = (resident.name if resident and resident.name else
                person.display_name if person else str(entry.user_id))
        return {
            "name": name,
            "unit": (resident.unit if resident and resident.unit else "—"),
            "node": node.name if node else "—",
            "kind": t(lang, f"care.kind.{entry.kind}"),
            "days": f"{entry.cadence.total_seconds() / 86400:g}",
            "note": entry.note or "—",
        }

    async def _remind(self, tx: Tx, visit: CareVisit, entry: CareEntry, rung: Node,
                      key: str) -> None:
        now = self.clock.now()
        for leader in await self.org_repo.leaders_of(rung.id):
            lang = await self._lang(leader.user_id)
            text = t(lang, key, number=number(visit.id), due=local_time(self.settings, lang,
                                                                          visit.due_at),
                     **await self.describe(entry, lang))
            await self.notifier.enqueue(tx, Outgoing(
                leader.user_id, text,
                buttons=[[Button(t(lang, "care.btn_check_in"), data=f"cv:in:{visit.id}")]],
                ref=prompt_ref(visit.id), not_before=quiet_hours_end(self.settings, now),
                dedup_key=f"care:{visit.id}:e{visit.escalations}:remind:{leader.user_id}"))

    async def checkable(self, user_id: int, visit_id: int) -> CareVisit:
        visit = await self.repo.visit(visit_id)
        if visit is None:
            raise NotAllowed("care.not_yours")
        await self.require_chain(user_id, visit.node_id)
        if visit.state != "due":
            raise BadInput("care.already_done", number=number(visit.id))
        return visit

    async def check_in(self, user_id: int, visit_id: int, note: str) -> tuple[CareVisit,
                                                                              datetime]:
        note = visible(note)
        if not note or len(note) > NOTE_MAX:
            raise BadInput("care.note_invalid", max=NOTE_MAX)
        visit = await self.checkable(user_id, visit_id)
        entry = await self.repo.entry(visit.entry_id)
        assert entry is not None
        now = self.clock.now()
        following = now + entry.cadence
        async with self.db.write() as tx:
            if not await self.repo.check_in(tx, visit.id, user_id, note, now):
                raise BadInput("care.already_done", number=number(visit.id))
            await self.scheduler.deadlines.cancel(tx, VISIT, visit.id, "overdue")
            if entry.active:
                await self.repo.set_next_due(tx, entry.id, following, now)
                await self.scheduler.arm(tx, ENTRY, entry.id, "due", following)
            await self._close_prompts(tx, visit, user_id)
        self.notifier.kick()
        done = await self.repo.visit(visit.id)
        assert done is not None
        return done, following

    async def _close_prompts(self, tx: Tx, visit: CareVisit, by: int) -> None:
        """The reminders already sent lose their button and say who visited."""
        person = await self.users.get(by)
        name = person.display_name if person else str(by)
        for chat_id, message_ids in await self.notifier.outbox.sent_messages(
                prompt_ref(visit.id), tx):
            if not message_ids:
                continue
            lang = await self._lang(chat_id)
            await self.notifier.enqueue(tx, Outgoing(
                chat_id, t(lang, "care.prompt_done", number=number(visit.id), name=name),
                method="edit_text", message_id=message_ids[-1],
                dedup_key=f"care:{visit.id}:done:{chat_id}:{message_ids[-1]}"))
