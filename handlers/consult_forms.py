"""The guided forms of /forum and /decide (typed without arguments, in private)."""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, timedelta
from typing import Any

from telegram import Message, Update
from telegram.error import TelegramError

from bot.consult.followups import TEXT_MAX, Entry
from bot.consult.meetings import ITEM_MAX, PLACE_MAX, TITLE_MAX
from bot.context import LinliContext
from bot.core.errors import BadInput
from bot.core.i18n import Markup, number, t
from bot.core.inputs import tagged_number
from bot.core.notifier import Button
from bot.core.timeparse import parse_day_end
from handlers.common import reply, rows
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
    when,
)

log = logging.getLogger(__name__)
ITEMS = re.compile(r"[;；\n]")
LABEL_MAX = 18  # characters of a topic shown on its button
WINNERS = 5  # as many poll winners as /forum takes by itself


def _short(text: str, limit: int = LABEL_MAX) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def checked_text(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if not text:
        raise BadInput("form.empty")
    if len(text) > limit:
        raise BadInput("form.too_long", length=len(text), max=limit)
    return text


# -- /forum ------------------------------------------------------------------------------


async def _chats(context: LinliContext, user_id: int) -> list[tuple[int, str]]:
    """The bound chats of the leader's scope: (chat id, what the button says)."""
    linli = context.linli
    by_node = await linli.org_repo.chats_by_node()
    found = []
    for node in await linli.consultation.scope(user_id):
        for chat in by_node.get(node.id, []):
            if chat.active:
                found.append((chat.chat_id, chat.title or node.name))
    return found[:12]


async def _forum_begin(context: LinliContext, user_id: int) -> Payload:
    await context.linli.consultation.require_leader(user_id)
    if not await _chats(context, user_id):
        raise BadInput("form.forum.no_chat")
    return {}


async def _chat_needed(context: LinliContext, user_id: int, p: Payload) -> bool:
    chats = await _chats(context, user_id)
    if len(chats) == 1:
        p.update(chat=chats[0][0], chat_only=True)
        return False
    return True


async def _ask_chat(context: LinliContext, user_id: int, p: Payload) -> Question:
    buttons = [Button(title, data=FORUM.data("chat", f"c{chat_id}"))
               for chat_id, title in await _chats(context, user_id)]
    return Question(t(context.lang, "form.forum.ask_chat"), rows(buttons, per_row=1))


async def _chat_pressed(context: LinliContext, user_id: int, p: Payload, value: str) -> bool:
    ids = {chat_id for chat_id, _ in await _chats(context, user_id)}
    chat = tagged_number(value, "c", signed=True)
    if chat not in ids:
        raise BadInput("error.stale_button")
    p["chat"] = chat
    return True


async def _chat_name(context: LinliContext, chat_id: int) -> str:
    chat = await context.linli.org_repo.chat(chat_id)
    node = await context.linli.org_repo.node(chat.node_id) if chat and chat.node_id else None
    return (chat.title if chat else None) or (node.name if node else str(chat_id))


async def _suggested_title(context: LinliContext, p: Payload) -> str:
    chat = await context.linli.org_repo.chat(p["chat"])
    node = await context.linli.org_repo.node(chat.node_id) if chat and chat.node_id else None
    return t(context.lang, "form.forum.title_suggestion", node=node.name if node else "")


async def _ask_title(context: LinliContext, user_id: int, p: Payload) -> Question:
    suggestion = await _suggested_title(context, p)
    return Question(t(context.lang, "form.forum.ask_title"),
                    [[Button(suggestion, data=FORUM.data("title", "s"))]])


async def _title_typed(context: LinliContext, user_id: int, p: Payload, m: Message) -> bool:
    p["title"] = checked_text(m.text or "", TITLE_MAX)
    return True


async def _title_pressed(context: LinliContext, user_id: int, p: Payload, value: str) -> bool:
    if value != "s":
        raise BadInput("error.stale_button")
    p["title"] = await _suggested_title(context, p)
    return True


async def _ask_starts(context: LinliContext, user_id: int, p: Payload) -> Question:
    lang = context.lang
    if day := p.get("starts_day"):
        return Question(t(lang, "form.ask_hour", day=day_label(context, date.fromisoformat(day))),
                        _hours(context, FORUM, "starts"))
    if p.get("starts_more"):
        return Question(t(lang, "form.ask_day"), day_buttons(context, FORUM, "starts", p))
    return Question(t(lang, "form.forum.ask_starts"), day_buttons(context, FORUM, "starts", p))


def _hours(context: LinliContext, form: Form, step: str) -> list[list[Button]]:
    return hour_buttons(context, form, step, (9, 15, 19))


async def _starts_typed(context: LinliContext, user_id: int, p: Payload, m: Message) -> bool:
    p["starts"] = read_time(context, p, "starts", m.text or "").isoformat()
    return True


async def _starts_pressed(context: LinliContext, user_id: int, p: Payload, value: str) -> bool:
    if value.startswith("h"):
        p["starts"] = at_hour(context, p, "starts", value).isoformat()
        return True
    day_pressed(context, p, "starts", value)
    return False


async def _ask_place(context: LinliContext, user_id: int, p: Payload) -> Question:
    return Question(t(context.lang, "form.forum.ask_place",
                      at=when(context, datetime.fromisoformat(p["starts"]))))


async def _place_typed(context: LinliContext, user_id: int, p: Payload, m: Message) -> bool:
    p["place"] = checked_text(m.text or "", PLACE_MAX)
    return True


async def _polled(context: LinliContext, chat_id: int) -> list[tuple[int, str, int]]:
    """The topics of the chat's last closed poll: (topic, text, votes), best first."""
    linli = context.linli
    poll = await linli.consultation_repo.latest_closed_poll(chat_id)
    if poll is None:
        return []
    return [(r.proposal.id, r.proposal.text, r.votes)
            for r in await linli.consultation.ranking(poll.id)]


async def _agenda_needed(context: LinliContext, user_id: int, p: Payload) -> bool:
    if "agenda_ids" not in p:  # the poll's winners ticked, as /forum takes them by itself
        p["agenda_ids"] = [pid for pid, _, votes in await _polled(context, p["chat"])
                           if votes > 0][:WINNERS]
        p.setdefault("agenda_texts", [])
    return True


async def _ask_agenda(context: LinliContext, user_id: int, p: Payload) -> Question:
    lang = context.lang
    polled = await _polled(context, p["chat"])
    typed = "".join(t(lang, "form.forum.typed_item", text=x) for x in p.get("agenda_texts", []))
    if not polled:
        return Question(t(lang, "form.forum.ask_agenda_typed", typed=Markup(typed)),
                        [[Button(t(lang, "form.btn_done"), data=FORUM.data("agenda", "done"))]]
                        if typed else [])
    picked = set(p.get("agenda_ids", []))
    buttons = [[Button(t(lang, "form.forum.topic_on" if pid in picked else "form.forum.topic_off",
                         text=_short(text), votes=votes), data=FORUM.data("agenda", f"t{pid}"))]
               for pid, text, votes in polled[:10]]
    buttons.append([Button(t(lang, "form.btn_done"), data=FORUM.data("agenda", "done"))])
    return Question(t(lang, "form.forum.ask_agenda", typed=Markup(typed)), buttons)


async def _agenda_typed(context: LinliContext, user_id: int, p: Payload, m: Message) -> bool:
    items = [checked_text(x, ITEM_MAX) for x in ITEMS.split(m.text or "") if x.strip()]
    if not items:
        raise BadInput("form.empty")
    p["agenda_texts"] = [*p.get("agenda_texts", []), *items]
    return False  # shown with the topics; 选好了 ends it


async def _agenda_pressed(context: LinliContext, user_id: int, p: Payload, value: str) -> bool:
    if value == "done":
        if not p.get("agenda_ids") and not p.get("agenda_texts"):
            raise BadInput("form.forum.agenda_empty")
        p["agenda"] = True
        return True
    polled = {pid for pid, _, _ in await _polled(context, p["chat"])}
    pid, picked = tagged_number(value, "t"), list(p.get("agenda_ids", []))
    if pid not in polled:
        raise BadInput("error.stale_button")
    p["agenda_ids"] = [x for x in picked if x != pid] if pid in picked else [*picked, pid]
    return False


async def _agenda_lines(context: LinliContext, p: Payload) -> list[str]:
    polled = {pid: text for pid, text, _ in await _polled(context, p["chat"])}
    order = [pid for pid in polled if pid in set(p.get("agenda_ids", []))]
    texts = [polled[pid] for pid in order] + list(p.get("agenda_texts", []))
    return [t(context.lang, "consult.agenda_line", position=i, text=x)
            for i, x in enumerate(texts, start=1)]


async def _forum_summary(context: LinliContext, user_id: int, p: Payload) -> str:
    return t(context.lang, "form.forum.summary", chat=await _chat_name(context, p["chat"]),
             title=p["title"], at=when(context, datetime.fromisoformat(p["starts"])),
             place=p["place"], agenda=Markup("\n".join(await _agenda_lines(context, p))))


async def _forum_finish(update: Update, context: LinliContext, user_id: int, p: Payload) -> None:
    linli = context.linli
    chat = await linli.org_repo.chat(p["chat"])
    if chat is None:
        raise BadInput("org.chat_not_bound")
    polled = [pid for pid, _, _ in await _polled(context, chat.chat_id)]
    picked = [pid for pid in polled if pid in set(p.get("agenda_ids", []))]
    is_forum = chat.is_forum
    try:  # typed in the group, /forum sees whether it has topics; from here, Telegram says
        is_forum = bool((await context.bot.get_chat(chat.chat_id)).is_forum)
    except TelegramError:
        log.info("could not look up chat %s; taken as stored", chat.chat_id)
    meeting = await linli.meetings.schedule(
        user_id, chat.chat_id, is_forum, None, datetime.fromisoformat(p["starts"]),
        p["title"], p["place"], p.get("agenda_texts") or None, picked)
    await reply(update, context, "consult.meeting_scheduled", number=number(meeting.id),
                title=meeting.title, at=when(context, meeting.starts_at))


FORUM = Form("fo", "forum", [
    Step("chat", ("chat",), _ask_chat, pressed=_chat_pressed, needed=_chat_needed,
         clears=("agenda", "agenda_ids", "agenda_texts")),
    Step("title", ("title",), _ask_title, typed=_title_typed, pressed=_title_pressed),
    Step("starts", ("starts",), _ask_starts, typed=_starts_typed, pressed=_starts_pressed,
         extra=("starts_day", "starts_more")),
    Step("place", ("place",), _ask_place, typed=_place_typed),
    Step("agenda", ("agenda",), _ask_agenda, typed=_agenda_typed, pressed=_agenda_pressed,
         needed=_agenda_needed, extra=("agenda_ids", "agenda_texts")),
], leaders_only="consult.leaders_only", begin=_forum_begin, summary=_forum_summary,
    finish=_forum_finish)


# -- /decide -----------------------------------------------------------------------------


async def _meetings(context: LinliContext, user_id: int) -> list[Any]:
    linli = context.linli
    nodes = await linli.consultation.scope(user_id)
    return await linli.consultation_repo.meetings_in([n.id for n in nodes], linli.clock.now())


async def _decide_begin(context: LinliContext, user_id: int) -> Payload:
    await context.linli.consultation.require_leader(user_id)
    if not await _meetings(context, user_id):
        raise BadInput("form.decide.no_meeting")
    return {}


async def _meeting_needed(context: LinliContext, user_id: int, p: Payload) -> bool:
    found = await _meetings(context, user_id)
    if len(found) == 1:
        p.update(meeting=found[0].id, meeting_only=True)
        return False
    return True


async def _ask_meeting(context: LinliContext, user_id: int, p: Payload) -> Question:
    lang = context.lang
    buttons = [[Button(t(lang, "form.decide.meeting_button", number=number(m.id),
                         title=_short(m.title), at=when(context, m.starts_at)),
                       data=DECIDE.data("meeting", f"m{m.id}"))]
               for m in await _meetings(context, user_id)]
    return Question(t(lang, "form.decide.ask_meeting"), buttons)


async def _meeting_pressed(context: LinliContext, user_id: int, p: Payload, value: str) -> bool:
    ids = {m.id for m in await _meetings(context, user_id)}
    meeting = tagged_number(value, "m")
    if meeting not in ids:
        raise BadInput("error.stale_button")
    p["meeting"] = meeting
    return True


async def _ask_item(context: LinliContext, user_id: int, p: Payload) -> Question:
    agenda = await context.linli.consultation_repo.agenda(p["meeting"])
    buttons = [[Button(t(context.lang, "consult.agenda_line", position=a.position,
                         text=_short(a.text, 24)), data=DECIDE.data("item", f"i{a.position}"))]
               for a in agenda]
    return Question(t(context.lang, "form.decide.ask_item", number=number(p["meeting"])), buttons)


async def _item_pressed(context: LinliContext, user_id: int, p: Payload, value: str) -> bool:
    positions = {a.position for a in await context.linli.consultation_repo.agenda(p["meeting"])}
    item = tagged_number(value, "i")
    if item not in positions:
        raise BadInput("error.stale_button")
    p["item"] = item
    return True


async def _ask_text(context: LinliContext, user_id: int, p: Payload) -> Question:
    return Question(t(context.lang, "form.decide.ask_text"))


async def _text_typed(context: LinliContext, user_id: int, p: Payload, m: Message) -> bool:
    p["text"] = checked_text(m.text or "", TEXT_MAX)
    return True


async def _owners(context: LinliContext, p: Payload) -> list[tuple[str, str, str]]:
    """Who may own a decision of this meeting: the leaders of its node and above, and the
    partners there: (button value, name, what /decide's line would say)."""
    linli, lang = context.linli, context.lang
    meeting = await linli.consultation_repo.meeting(p["meeting"])
    assert meeting is not None
    found: list[tuple[str, str, str]] = []
    below = [n for n in await linli.org_repo.subtree(meeting.node_id) if n.id != meeting.node_id]
    for node in [*await linli.org_repo.ancestors(meeting.node_id), *below]:
        for leader in await linli.org_repo.leaders_of(node.id):
            label = leader.name or t(lang, "form.decide.owner_leader",
                                     name=await linli.consultation.name_of(leader.user_id),
                                     role=linli.org.role_title(node.level, lang))
            found.append((f"l{leader.user_id}", label, str(leader.user_id)))
        for partner in await linli.org_repo.partners_of(node.id):
            if partner.user_ids:
                found.append((f"p{partner.id}", partner.name, partner.name))
    unique = {value: (value, label, owner) for value, label, owner in found}
    return list(unique.values())[:12]


async def _ask_owner(context: LinliContext, user_id: int, p: Payload) -> Question:
    buttons = [Button(label, data=DECIDE.data("owner", value))
               for value, label, _ in await _owners(context, p)]
    return Question(t(context.lang, "form.decide.ask_owner"), rows(buttons, per_row=2))


async def _owner_pressed(context: LinliContext, user_id: int, p: Payload, value: str) -> bool:
    for v, label, owner in await _owners(context, p):
        if v == value:
            p.update(owner=owner, owner_name=label)
            return True
    raise BadInput("error.stale_button")


async def _owner_typed(context: LinliContext, user_id: int, p: Payload, m: Message) -> bool:
    name = " ".join((m.text or "").split())
    if not name:
        raise BadInput("form.empty")
    try:
        await context.linli.followups.owner_named(name)
    except BadInput:
        raise BadInput("form.decide.unknown_owner", owner=name) from None
    p.update(owner=name, owner_name=name)
    return True


async def _ask_due(context: LinliContext, user_id: int, p: Payload) -> Question:
    lang = context.lang
    if p.get("due_more"):
        return Question(t(lang, "form.ask_day"), day_buttons(context, DECIDE, "due", p))
    today = context.linli.clock.now().astimezone(context.linli.settings.tz).date()
    days = [(today + timedelta(days=n), f"form.decide.in_{n}") for n in (1, 3, 7, 30)]
    buttons = [[Button(t(lang, key), data=DECIDE.data("due", f"d{d.isoformat()}"))
                for d, key in days[:2]],
               [Button(t(lang, key), data=DECIDE.data("due", f"d{d.isoformat()}"))
                for d, key in days[2:]],
               [Button(t(lang, "form.btn_other_day"), data=DECIDE.data("due", "more"))]]
    return Question(t(lang, "form.decide.ask_due"), buttons)


def _due(context: LinliContext, text: str) -> datetime:
    linli = context.linli
    return parse_day_end(text, linli.clock.now(), linli.settings.tz)


async def _due_typed(context: LinliContext, user_id: int, p: Payload, m: Message) -> bool:
    text = " ".join((m.text or "").split())
    p.update(due=_due(context, text).isoformat(), due_text=text)
    return True


async def _due_pressed(context: LinliContext, user_id: int, p: Payload, value: str) -> bool:
    day = day_pressed(context, p, "due", value)
    if day is None:
        return False
    text = day.isoformat()  # read again by /decide's own line when recorded
    p.update(due=_due(context, text).isoformat(), due_text=text)
    return True


async def _decide_summary(context: LinliContext, user_id: int, p: Payload) -> str:
    linli = context.linli
    meeting = await linli.consultation_repo.meeting(p["meeting"])
    agenda = {a.position: a.text for a in await linli.consultation_repo.agenda(p["meeting"])}
    return t(context.lang, "form.decide.summary", number=number(p["meeting"]),
             title=meeting.title if meeting else "", item=p["item"],
             item_text=agenda.get(p["item"], ""), text=p["text"], owner=p["owner_name"],
             due=when(context, datetime.fromisoformat(p["due"])))


async def _decide_finish(update: Update, context: LinliContext, user_id: int,
                         p: Payload) -> None:
    entry = Entry(1, str(p["item"]), p["text"], p["owner"], p["due_text"])
    ids = await context.linli.followups.record(user_id, p["meeting"], [entry])
    await reply(update, context, "consult.decided", count=len(ids),
                numbers="、".join(number(i) for i in ids))


DECIDE = Form("de", "decide", [
    Step("meeting", ("meeting",), _ask_meeting, pressed=_meeting_pressed,
         needed=_meeting_needed, clears=("item",)),
    Step("item", ("item",), _ask_item, pressed=_item_pressed),
    Step("text", ("text",), _ask_text, typed=_text_typed),
    Step("owner", ("owner",), _ask_owner, typed=_owner_typed, pressed=_owner_pressed,
         extra=("owner_name",)),
    Step("due", ("due",), _ask_due, typed=_due_typed, pressed=_due_pressed,
         extra=("due_text", "due_more", "due_day")),
], leaders_only="consult.leaders_only", begin=_decide_begin, summary=_decide_summary,
    finish=_decide_finish)
