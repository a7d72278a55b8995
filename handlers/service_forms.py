"""The guided forms of /broadcast and /care_add (typed without arguments, in private)."""

from __future__ import annotations

from datetime import date, datetime

from telegram import Message, Update

from bot.context import LinliContext
from bot.core.errors import BadInput, LinliError
from bot.core.i18n import esc, t
from bot.core.inputs import button_number, tagged_number
from bot.core.notifier import Button
from bot.core.timeparse import leading_schedule, parse_moment, parse_rule
from bot.lead.broadcasts import Plan
from bot.org.audience import bound_chats
from bot.org.org import Node
from bot.service.care import KINDS
from handlers.care_consent import ask_for_consent
from handlers.common import rows
from handlers.forms import (
    Form,
    Payload,
    Question,
    Step,
    at_hour,
    day_buttons,
    day_label,
    day_pressed,
    hour_buttons,
    read_time,
)

NOW = "现在"  # what the form hands the one grammar for 「现在发送」
RULE_WORDS = ("每", "every", "daily", "weekly", "monthly", "fortnightly")
CADENCES = ("每周", "每两周", "每月")
RESIDENTS_SHOWN = 20


# -- /broadcast --------------------------------------------------------------------------


async def _scopes(context: LinliContext, user_id: int) -> list[tuple[Node, int]]:
    """Where a leader may speak: the nodes they lead (everything for admins) and the ones
    just below, each with how many bound chats it reaches; the widest first."""
    org = context.linli.org
    roles = await org.roles(user_id)
    tops = roles.led_nodes or (await org.org.children(None) if roles.admin else [])
    found: list[tuple[Node, int]] = []
    for top in tops:
        for node in [top, *await org.org.children(top.id)]:
            if node.id in {n.id for n, _ in found}:
                continue
            chats = len(await bound_chats(org.org, node.id))
            if chats:
                found.append((node, chats))
    return found[:10]


async def _broadcast_begin(context: LinliContext, user_id: int) -> Payload:
    if not (await context.linli.org.roles(user_id)).leader:
        raise BadInput("broadcast.leaders_only")
    if not await _scopes(context, user_id):
        raise BadInput("form.broadcast.no_chats")
    return {}


async def _scope_needed(context: LinliContext, user_id: int, p: Payload) -> bool:
    scopes = await _scopes(context, user_id)
    if len(scopes) == 1:
        p.update(scope=scopes[0][0].id, scope_only=True)
        return False
    return True


def _scope_label(context: LinliContext, node: Node, chats: int, first: bool) -> str:
    key = "form.broadcast.scope_all" if first else "form.broadcast.scope_one"
    return t(context.lang, key, node=node.name, chats=chats)


async def _ask_scope(context: LinliContext, user_id: int, p: Payload) -> Question:
    scopes = await _scopes(context, user_id)
    buttons = [Button(_scope_label(context, node, chats, i == 0),
                      data=BROADCAST.data("scope", f"n{node.id}"))
               for i, (node, chats) in enumerate(scopes)]
    return Question(t(context.lang, "form.broadcast.ask_scope"),
                    [buttons[:1], *rows(buttons[1:], per_row=2)])


async def _scope_pressed(context: LinliContext, user_id: int, p: Payload, value: str) -> bool:
    ids = {node.id for node, _ in await _scopes(context, user_id)}
    scope = tagged_number(value, "n")
    if scope not in ids:
        raise BadInput("error.stale_button")
    p["scope"] = scope
    return True


async def _ask_text(context: LinliContext, user_id: int, p: Payload) -> Question:
    return Question(t(context.lang, "form.broadcast.ask_text"))


async def _text_typed(context: LinliContext, user_id: int, p: Payload, m: Message) -> bool:
    photo = m.photo[-1].file_id if m.photo else None
    text = (m.text or m.caption or "").strip()
    p.update(text=context.linli.broadcasts.check_text(text, photo is not None), photo=photo)
    return True


async def _ask_when(context: LinliContext, user_id: int, p: Payload) -> Question:
    lang = context.lang
    if day := p.get("when_day"):
        return Question(t(lang, "form.ask_hour", day=day_label(context, date.fromisoformat(day))),
                        hour_buttons(context, BROADCAST, "when", (9, 12, 19)))
    if p.get("when_more"):
        return Question(t(lang, "form.ask_day"), day_buttons(context, BROADCAST, "when", p))
    return Question(t(lang, "form.broadcast.ask_when"),
                    [[Button(t(lang, "form.broadcast.btn_now"),
                             data=BROADCAST.data("when", "now"))],
                     *day_buttons(context, BROADCAST, "when", p)])


def _once(context: LinliContext, moment: datetime) -> str:
    """A one-off time as the grammar reads it back the same, however long the form waits."""
    return moment.astimezone(context.linli.settings.tz).strftime("%Y-%m-%d %H:%M")


async def _when_typed(context: LinliContext, user_id: int, p: Payload, m: Message) -> bool:
    linli = context.linli
    now, tz = linli.clock.now(), linli.settings.tz
    text = " ".join((m.text or "").split())
    read = leading_schedule(text, now, tz, day_alone=False) if text else None
    if read is not None and not read[1]:
        schedule, _ = read
        if schedule.first is None:
            p["when"] = NOW
        elif schedule.rule is None:
            p["when"] = _once(context, schedule.first)
        else:
            p["when"] = text
        return True
    if p.get("when_day"):  # an hour on the day picked: 18:30, 下午3点
        p["when"] = _once(context, read_time(context, p, "when", text))
        return True
    day_only = leading_schedule(text, now, tz) if text else None
    if day_only is not None and not day_only[1] and day_only[0].first is not None:
        p["when_day"] = day_only[0].first.astimezone(tz).date().isoformat()
        return False  # a day alone: which hour?
    if text.lower().startswith(RULE_WORDS):
        parse_rule(text, now, tz)  # the grammar's words for what it could not read
    else:
        parse_moment(text, now, tz)
    raise BadInput("broadcast.usage")


async def _when_pressed(context: LinliContext, user_id: int, p: Payload, value: str) -> bool:
    if value == "now":
        p["when"] = NOW
        return True
    if value.startswith("h"):
        p["when"] = _once(context, at_hour(context, p, "when", value))
        return True
    day_pressed(context, p, "when", value)
    return False


def _plan(context: LinliContext, p: Payload, node: Node) -> Plan:
    read = context.linli.broadcasts.parse(p["when"])
    return Plan(node.key, read.rule, read.first_at, p["text"])


async def _broadcast_summary(context: LinliContext, user_id: int, p: Payload) -> str:
    linli, lang = context.linli, context.lang
    node = await linli.org_repo.node(p["scope"])
    assert node is not None
    chats = len(await bound_chats(linli.org_repo, node.id))
    try:
        when = linli.broadcasts.describe_plan(_plan(context, p, node), lang)
    except LinliError:  # a time that has passed since: 确认 will say so
        when = p["when"]
    return t(lang, "form.broadcast.summary", node=node.name, chats=chats, when=when,
             text=p["text"] or "—",
             photo=t(lang, "form.broadcast.with_photo") if p.get("photo") else "")


async def _broadcast_finish(update: Update, context: LinliContext, user_id: int,
                            p: Payload) -> None:
    linli = context.linli
    node = await linli.org_repo.node(p["scope"])
    if node is None:
        raise BadInput("error.stale_button")
    await linli.broadcasts.create_plan(user_id, _plan(context, p, node), p.get("photo"),
                                       lang=context.lang, reply_to=user_id)


BROADCAST = Form("bc", "broadcast", [
    Step("scope", ("scope",), _ask_scope, pressed=_scope_pressed, needed=_scope_needed),
    Step("text", ("text",), _ask_text, typed=_text_typed, extra=("photo",)),
    Step("when", ("when",), _ask_when, typed=_when_typed, pressed=_when_pressed,
         extra=("when_day", "when_more")),
], leaders_only="broadcast.leaders_only", begin=_broadcast_begin, summary=_broadcast_summary,
    finish=_broadcast_finish)


# -- /care_add ---------------------------------------------------------------------------


async def _residents(context: LinliContext, user_id: int) -> list[tuple[int, str, str]]:
    """The residents of the leader's scope: (user id, name, name and unit for the button)."""
    linli = context.linli
    led = await linli.care.require_leader(user_id)
    tops = led or (await linli.org_repo.children(None) if linli.org.is_admin(user_id) else [])
    node_ids: list[int] = []
    for top in tops:
        node_ids += [n.id for n in await linli.org_repo.subtree(top.id) if n.id not in node_ids]
    residents = await linli.org_repo.residents_in(node_ids)
    names = await linli.users.names([r.user_id for r in residents])
    found = []
    for r in residents:  # the name the org file or a leader gave, else their Telegram one
        name = r.name or (names[r.user_id].display_name if r.user_id in names
                          else r.phone or str(r.user_id))
        found.append((r.user_id, name, t(context.lang, "form.care_add.resident", name=name,
                                         unit=r.unit) if r.unit else esc(name)))
    return found


async def _care_begin(context: LinliContext, user_id: int) -> Payload:
    await context.linli.care.require_leader(user_id)
    return {}


async def _ask_who(context: LinliContext, user_id: int, p: Payload) -> Question:
    residents = await _residents(context, user_id)
    buttons = [Button(label, data=CARE.data("who", f"u{uid}"))
               for uid, _, label in residents[:RESIDENTS_SHOWN]]
    key = "form.care_add.ask_who" if buttons else "form.care_add.ask_who_none"
    return Question(t(context.lang, key), rows(buttons, per_row=2))


async def _chosen(context: LinliContext, user_id: int, p: Payload, resident_id: int) -> bool:
    linli = context.linli
    resident = await linli.org_repo.resident(resident_id)
    if resident is None:
        raise BadInput("care.no_such_resident", who=resident_id)
    await linli.care.require_chain(user_id, resident.node_id)  # refuses one not theirs
    person = await linli.users.get(resident_id)
    p.update(who=str(resident_id),
             who_name=resident.name or (person.display_name if person
                                        else resident.phone or str(resident_id)))
    return True


async def _who_pressed(context: LinliContext, user_id: int, p: Payload, value: str) -> bool:
    ids = {uid for uid, _, _ in await _residents(context, user_id)}
    # a resident without Telegram has a negative id
    chosen = tagged_number(value, "u", signed=True)
    if chosen not in ids:
        raise BadInput("error.stale_button")
    return await _chosen(context, user_id, p, chosen)


async def _who_typed(context: LinliContext, user_id: int, p: Payload, m: Message) -> bool:
    """A name from the list, an @username or a Telegram id, as the one line takes."""
    text = " ".join((m.text or "").split())
    for uid, name, _ in await _residents(context, user_id):
        if text and name == text:
            return await _chosen(context, user_id, p, uid)
    return await _chosen(context, user_id, p,
                         await context.linli.care.resolve_person(text, user_id))


async def _ask_kind(context: LinliContext, user_id: int, p: Payload) -> Question:
    lang = context.lang
    return Question(t(lang, "form.care_add.ask_kind", name=p["who_name"]),
                    [[Button(t(lang, f"care.kind.{k}"), data=CARE.data("kind", k))
                      for k in KINDS]])


async def _kind_pressed(context: LinliContext, user_id: int, p: Payload, value: str) -> bool:
    p["kind"] = context.linli.care.parse_kind(value)
    return True


async def _ask_cadence(context: LinliContext, user_id: int, p: Payload) -> Question:
    return Question(t(context.lang, "form.care_add.ask_cadence"),
                    [[Button(c, data=CARE.data("cadence", str(i)))
                      for i, c in enumerate(CADENCES)]])


async def _cadence_typed(context: LinliContext, user_id: int, p: Payload, m: Message) -> bool:
    text = " ".join((m.text or "").split())
    context.linli.care.parse_cadence(text)  # refused here, in the grammar's words
    p["cadence"] = text
    return True


async def _cadence_pressed(context: LinliContext, user_id: int, p: Payload, value: str) -> bool:
    index = button_number(value)
    if index >= len(CADENCES):
        raise BadInput("error.stale_button")
    p["cadence"] = CADENCES[index]
    return True


async def _ask_note(context: LinliContext, user_id: int, p: Payload) -> Question:
    return Question(t(context.lang, "form.care_add.ask_note"),
                    [[Button(t(context.lang, "form.care_add.btn_no_note"),
                             data=CARE.data("note", "none"))]])


async def _note_typed(context: LinliContext, user_id: int, p: Payload, m: Message) -> bool:
    p["note"] = " ".join((m.text or "").split())
    return True


async def _note_pressed(context: LinliContext, user_id: int, p: Payload, value: str) -> bool:
    if value != "none":
        raise BadInput("error.stale_button")
    p["note"] = ""
    return True


async def _care_summary(context: LinliContext, user_id: int, p: Payload) -> str:
    lang = context.lang
    days = context.linli.care.parse_cadence(p["cadence"]).total_seconds() / 86400
    return t(lang, "form.care_add.summary", name=p["who_name"],
             kind=t(lang, f"care.kind.{p['kind']}"), cadence=p["cadence"], days=f"{days:g}",
             note=p["note"] or "—")


async def _care_finish(update: Update, context: LinliContext, user_id: int, p: Payload) -> None:
    entry, _ = await context.linli.care.add(user_id, p["who"], p["kind"], p["cadence"],
                                            p["note"] or None)
    await ask_for_consent(update, context, [entry])


CARE = Form("ca", "care_add", [
    Step("who", ("who",), _ask_who, typed=_who_typed, pressed=_who_pressed,
         extra=("who_name",)),
    Step("kind", ("kind",), _ask_kind, pressed=_kind_pressed),
    Step("cadence", ("cadence",), _ask_cadence, typed=_cadence_typed, pressed=_cadence_pressed),
    Step("note", ("note",), _ask_note, typed=_note_typed, pressed=_note_pressed),
], leaders_only="care.leaders_only", begin=_care_begin, summary=_care_summary,
    finish=_care_finish)
