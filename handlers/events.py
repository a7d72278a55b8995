"""/event (leader, guided), RSVP buttons, /events with .ics files, edits and cancellation,
holiday drafts."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.context import LinliContext
from bot.core.errors import BadInput, NotAllowed
from bot.core.i18n import Markup, esc, number, t
from bot.core.inputs import button_date, button_number, visible, whole_number
from bot.core.notifier import Button, Outgoing
from bot.culture.calendar_file import ics
from bot.culture.events import Draft
from bot.culture.holidays import HOLIDAYS
from bot.org.org import Node
from bot.services import PendingInput
from handlers.common import edit, is_private, open_private, reply, rows, thread_of
from handlers.forms import FormState
from handlers.inputs import on_answer

FLOW = "event_flow"
EDIT = "event_edit"
LIFETIME = timedelta(hours=1)
RSVP = re.compile(r"^ev:r:(\d{1,9}):([gmn])$")
SCOPE = re.compile(r"^ev:s:(\d{1,9})$")
REPEAT = re.compile(r"^ev:rc:(none|weekly|monthly)$")
ICS = re.compile(r"^ev:ics:(\d{1,9})$")
CANCEL = re.compile(r"^ev:c:(\d{1,9})$")
MANAGE = re.compile(r"^ev:m:(\d{1,9})$")
CHANGE = re.compile(r"^ev:e:(\d{1,9}):(time|place)$")
HOLIDAY = re.compile(r"^ev:h:([a-z_]{1,16}):(\d{4}-\d{2}-\d{2})$")
NO_VALUE = {"-", "无", "不限", "none", "no", "0"}


def _data(update: Update, pattern: re.Pattern[str]) -> re.Match[str]:
    query = update.callback_query
    assert query is not None
    match = pattern.match(query.data or "")
    if match is None:
        raise BadInput("error.stale_button")
    return match


# -- the guided flow ------------------------------------------------------------------


# the form's state and its stop button: the machinery every guided form shares
STATE = FormState(FLOW, expired="event.flow_expired", stop_label="event.btn_stop",
                  stop_data="ev:no", lifetime=LIFETIME)


async def _save(context: LinliContext, user_id: int, payload: dict[str, Any]) -> None:
    await STATE.save(context, user_id, payload)


async def _flow(context: LinliContext, user_id: int) -> dict[str, Any]:
    return await STATE.load(context, user_id)


async def _ask(context: LinliContext, user_id: int, key: str, /, *,
               buttons: list[list[Button]] | None = None, **params: object) -> None:
    await STATE.ask(context, user_id, t(context.lang, key, **params), buttons)


async def start(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    if not (await context.linli.org.roles(user.id)).leader:
        raise NotAllowed("event.leaders_only")
    if not is_private(update):
        await reply(update, context, "event.in_private", buttons=open_private(context))
        return
    await _save(context, user.id, {"step": "title"})
    await _ask(context, user.id, "event.ask_title")


async def _scopes(context: LinliContext, user_id: int) -> list[Node]:
    org = context.linli.org
    roles = await org.roles(user_id)
    tops = roles.led_nodes or (await org.org.children(None) if roles.admin else [])
    found: list[Node] = []
    for node in tops:
        for candidate in [node, *await org.org.children(node.id)]:
            if candidate not in found:
                found.append(candidate)
    return found[:12]


async def flow_answer(update: Update, context: LinliContext, pending: PendingInput) -> None:
    user, message = update.effective_user, update.effective_message
    assert user is not None and message is not None
    events, p = context.linli.events, dict(pending.payload)
    text = visible(message.text)
    step = p.get("step")
    if step == "title":
        p.update(title=events.check_text(text, 60), step="description")
        await _save(context, user.id, p)
        await _ask(context, user.id, "event.ask_description")
    elif step == "description":
        p.update(description=None if text in NO_VALUE else events.check_text(text, 1000),
                 step="start")
        await _save(context, user.id, p)
        await _ask(context, user.id, "event.ask_start")
    elif step == "start":
        starts = events.parse_time(text)
        if starts <= context.linli.clock.now():
            raise BadInput("event.in_the_past")
        p.update(starts=starts.isoformat(), step="end")
        await _save(context, user.id, p)
        await _ask(context, user.id, "event.ask_end")
    elif step == "end":
        starts = datetime.fromisoformat(p["starts"])
        ends = events.parse_time(text, day_of=starts)
        if ends <= starts:
            raise BadInput("event.end_before_start")
        p.update(ends=ends.isoformat(), step="place")
        await _save(context, user.id, p)
        await _ask(context, user.id, "event.ask_place")
    elif step == "place":
        p.update(place=events.check_text(text, 100), step="scope")
        await _save(context, user.id, p)
        await _ask_scope(context, user.id)
    elif step == "scope":  # a node further down, by its key
        node = await context.linli.org.node(text)
        if not await context.linli.org.may_manage(user.id, node):
            raise NotAllowed("scope.not_yours", key=node.key)
        p.update(node_id=node.id, step="capacity")
        await _save(context, user.id, p)
        await _ask(context, user.id, "event.ask_capacity")
    elif step == "capacity":
        if text in NO_VALUE:
            capacity = None
        elif (capacity := whole_number(text, 1, 10_000)) is None:
            raise BadInput("event.capacity_invalid")
        p.update(capacity=capacity, step="recurrence")
        await _save(context, user.id, p)
        lang = context.lang
        await _ask(context, user.id, "event.ask_recurrence", buttons=[[
            Button(t(lang, f"event.repeat_{r}_btn"), data=f"ev:rc:{r}")
            for r in ("none", "weekly", "monthly")]])
    else:
        raise BadInput("event.use_buttons")


async def _ask_scope(context: LinliContext, user_id: int) -> None:
    scopes = await _scopes(context, user_id)
    buttons = rows([Button(esc(n.name), data=f"ev:s:{n.id}") for n in scopes], per_row=2)
    await _ask(context, user_id, "event.ask_scope", buttons=buttons)


async def scope_pressed(update: Update, context: LinliContext) -> None:
    user, query = update.effective_user, update.callback_query
    assert user is not None and query is not None
    node_id = button_number(_data(update, SCOPE).group(1))
    p = await _flow(context, user.id)
    if p.get("step") != "scope" or node_id not in {n.id for n in await _scopes(context, user.id)}:
        raise BadInput("error.stale_button")
    p.update(node_id=node_id, step="capacity")
    await _save(context, user.id, p)
    await query.answer()
    await _ask(context, user.id, "event.ask_capacity")


def _draft(p: dict[str, Any]) -> Draft:
    return Draft(p["node_id"], p["title"], p.get("description"), p["place"],
                 datetime.fromisoformat(p["starts"]), datetime.fromisoformat(p["ends"]),
                 p.get("capacity"), p.get("recurrence", "none"))


async def repeat_pressed(update: Update, context: LinliContext) -> None:
    user, query = update.effective_user, update.callback_query
    assert user is not None and query is not None
    recurrence = _data(update, REPEAT).group(1)
    p = await _flow(context, user.id)
    if p.get("step") != "recurrence":
        raise BadInput("error.stale_button")
    p.update(recurrence=recurrence, step="confirm")
    await _save(context, user.id, p)
    await query.answer()
    await _confirm(context, user.id, p)


async def _confirm(context: LinliContext, user_id: int, p: dict[str, Any]) -> None:
    linli, lang = context.linli, context.lang
    draft = _draft(p)
    node = await linli.org_repo.node(draft.node_id)
    tz = linli.settings.tz
    await _ask(context, user_id, "event.confirm", title=draft.title,
               description=draft.description or "—", place=draft.place,
               start=draft.starts_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
               end=draft.ends_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
               node=node.name if node else "?",
               capacity=draft.capacity or t(lang, "event.no_limit"),
               repeat=t(lang, f"event.repeat_{draft.recurrence}_btn"),
               buttons=[[Button(t(lang, "event.btn_publish"), data="ev:ok")]])


async def publish_pressed(update: Update, context: LinliContext) -> None:
    user, query = update.effective_user, update.callback_query
    assert user is not None and query is not None
    p = await _flow(context, user.id)
    if p.get("step") != "confirm":
        raise BadInput("error.stale_button")
    await context.linli.events.publish(user.id, _draft(p), context.lang)
    await context.linli.pending.clear(user.id, FLOW)
    await query.answer()
    await edit(update, context, "event.publishing", title=p["title"])


async def stop_pressed(update: Update, context: LinliContext) -> None:
    user, query = update.effective_user, update.callback_query
    assert user is not None and query is not None
    await context.linli.pending.clear(user.id, FLOW, EDIT)
    await query.answer()
    await edit(update, context, "event.flow_stopped")


async def holiday_pressed(update: Update, context: LinliContext) -> None:
    """A holiday draft: title, description and time filled in; the leader adds the rest."""
    user, query = update.effective_user, update.callback_query
    assert user is not None and query is not None
    if not (await context.linli.org.roles(user.id)).leader:  # rights before the payload
        raise NotAllowed("event.leaders_only")
    match = _data(update, HOLIDAY)
    key, day = match.group(1), button_date(match.group(2))
    if key not in HOLIDAYS:
        raise BadInput("error.stale_button")
    starts, ends = context.linli.holidays.draft_times(day)
    lang = context.lang
    await _save(context, user.id, {
        "step": "place", "title": t(lang, f"holiday.title.{key}"),
        "description": t(lang, f"holiday.description.{key}"),
        "starts": starts.isoformat(), "ends": ends.isoformat()})
    await query.answer()
    await _ask(context, user.id, "event.ask_place_draft",
               start=starts.strftime("%Y-%m-%d %H:%M"), end=ends.strftime("%H:%M"))


# -- residents: answers, the list, calendar files ---------------------------------------


async def rsvp_pressed(update: Update, context: LinliContext) -> None:
    user, query = update.effective_user, update.callback_query
    assert user is not None and query is not None
    match = _data(update, RSVP)
    event_id = button_number(match.group(1))
    answered = await context.linli.events.answer(user.id, event_id, match.group(2))
    await query.answer(t(context.lang, f"event.{answered.key}", place=answered.place,
                         number=number(event_id)),
                       show_alert=answered.key == "now_waiting")


async def list_events(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    linli, lang = context.linli, context.lang
    upcoming = await linli.events.upcoming(user.id)
    if not upcoming:
        await reply(update, context, "event.none_upcoming")
        return
    lines, buttons = [], []
    for event in upcoming:
        line = t(lang, "event.list_line", number=number(event.id), title=event.title,
                 when=linli.events.when(event, lang), place=event.place)
        row = [Button(t(lang, "event.btn_ics_n", number=number(event.id)),
                      data=f"ev:ics:{event.id}")]
        if is_private(update) and await linli.events.may_manage(user.id, event):
            counts = await linli.events.repo.counts(event.id)
            line += "\n" + linli.events.counts_line(event, counts, lang)
            row.append(Button(t(lang, "event.btn_manage_n", number=number(event.id)),
                              data=f"ev:m:{event.id}"))
        lines.append(line)
        buttons.append(row)
    await reply(update, context, "event.list", lines=Markup("\n\n".join(lines)),
                buttons=buttons)


async def ics_pressed(update: Update, context: LinliContext) -> None:
    user, query, chat = update.effective_user, update.callback_query, update.effective_chat
    assert user is not None and query is not None and chat is not None
    linli, lang = context.linli, context.lang
    event = await linli.events.repo.get(button_number(_data(update, ICS).group(1)))
    if event is None:
        raise BadInput("error.stale_button")
    await query.answer()
    await linli.notifier.send(Outgoing(
        user.id, t(lang, "event.ics_caption", number=number(event.id), title=event.title),
        method="send_document", document=ics(event, linli.settings.tz, linli.clock.now()),
        filename=f"event-{event.id}.ics",
        fallback=Outgoing(chat.id, t(lang, "event.start_private"), thread_id=thread_of(update),
                          buttons=open_private(context))
        if chat.id != user.id else None))


# -- leaders: cancel and edit -------------------------------------------------------------


async def manage_pressed(update: Update, context: LinliContext) -> None:
    """The leader's card again (from /events): change the time or place, or cancel."""
    user, query = update.effective_user, update.callback_query
    assert user is not None and query is not None
    events, lang = context.linli.events, context.lang
    event = await events.managed(user.id, button_number(_data(update, MANAGE).group(1)))
    await query.answer()
    await context.linli.notifier.send(Outgoing(
        user.id, t(lang, "event.card", number=number(event.id), title=event.title,
                   when=events.when(event, lang), place=event.place,
                   counts=events.counts_line(event, await events.repo.counts(event.id), lang)),
        buttons=events.leader_buttons(event, lang)))


async def cancel_pressed(update: Update, context: LinliContext) -> None:
    user, query = update.effective_user, update.callback_query
    assert user is not None and query is not None
    event = await context.linli.events.cancel(user.id,
                                              button_number(_data(update, CANCEL).group(1)))
    await query.answer()
    await edit(update, context, "event.cancelled", number=number(event.id), title=event.title)


async def change_pressed(update: Update, context: LinliContext) -> None:
    user, query = update.effective_user, update.callback_query
    assert user is not None and query is not None
    match = _data(update, CHANGE)
    event = await context.linli.events.managed(user.id, button_number(match.group(1)))
    now = context.linli.clock.now()
    await context.linli.pending.expect(user.id, user.id, EDIT, {
        "event": event.id, "field": match.group(2)}, now + LIFETIME, now)
    await query.answer()
    await _ask(context, user.id, f"event.ask_new_{match.group(2)}", number=number(event.id))


async def change_answer(update: Update, context: LinliContext, pending: PendingInput) -> None:
    user, message = update.effective_user, update.effective_message
    assert user is not None and message is not None
    p = pending.payload
    event = await context.linli.events.change(user.id, p["event"], p["field"],
                                              message.text or "")
    await context.linli.pending.clear(user.id, EDIT)
    await reply(update, context, "event.changed", number=number(event.id),
                when=context.linli.events.when(event, context.lang), place=event.place,
                buttons=context.linli.events.leader_buttons(event, context.lang))


def register(app: Application) -> None:
    app.add_handler(CommandHandler("event", start))
    app.add_handler(CommandHandler("events", list_events))
    app.add_handler(CallbackQueryHandler(rsvp_pressed, pattern=r"^ev:r:"))
    app.add_handler(CallbackQueryHandler(scope_pressed, pattern=r"^ev:s:"))
    app.add_handler(CallbackQueryHandler(repeat_pressed, pattern=r"^ev:rc:"))
    app.add_handler(CallbackQueryHandler(publish_pressed, pattern=r"^ev:ok$"))
    app.add_handler(CallbackQueryHandler(stop_pressed, pattern=r"^ev:no$"))
    app.add_handler(CallbackQueryHandler(ics_pressed, pattern=r"^ev:ics:"))
    app.add_handler(CallbackQueryHandler(cancel_pressed, pattern=r"^ev:c:"))
    app.add_handler(CallbackQueryHandler(manage_pressed, pattern=r"^ev:m:"))
    app.add_handler(CallbackQueryHandler(change_pressed, pattern=r"^ev:e:"))
    app.add_handler(CallbackQueryHandler(holiday_pressed, pattern=r"^ev:h:"))
    STATE.on_answer(flow_answer)
    on_answer(EDIT, change_answer)
