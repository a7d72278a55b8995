"""A report's buttons (受理 / 办结 / 上报 / 转派, rating) and /myreports, /queue, /status."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.context import LinliContext
from bot.core.errors import BadInput, NotAllowed, NotFound
from bot.core.i18n import Markup, esc, number, t
from bot.core.inputs import button_number, record_number
from bot.core.notifier import Button, Outgoing
from bot.core.timing import local_time
from bot.reports.reports import Report, StaleAction
from bot.services import PendingInput
from handlers.common import args, edit, is_private, redraw_pressed, reply, reply_private, rows
from handlers.inputs import on_answer

NOTE = "report_note"
COMPLAINT = "report_complaint"  # why the reporter was not satisfied
NOTE_LIFETIME = timedelta(minutes=30)
ACTION_DATA = re.compile(r"^r:(ack|res|esc|cat|rea|mrg):(\d{1,9}):(\d{1,6})$")
MERGE_DATA = re.compile(r"^r:into:(\d{1,9}):(\d{1,6}):(\d{1,9})$")
EXCERPT = 16  # characters of a report's text on a merge button
TARGET_DATA = re.compile(r"^r:(to|set):(\d{1,9}):(\d{1,6}):([a-z0-9_]{1,20})$")
RATE_DATA = re.compile(r"^r:rate:(\d{1,9}):([saun])$")
REPLY_DATA = re.compile(r"^r:rn:(\d{1,9}):(\d{1,6}):([cs]\d{1,9})$")
SAVE_DATA = re.compile(r"^r:save:(\d{1,9})$")


async def _refresh_card(update: Update, context: LinliContext, report: Report) -> None:
    """Redraw the pressed prompt as the report stands now."""
    user = update.effective_user
    assert user is not None
    linli = context.linli
    text = await linli.report_notices.describe(report, context.lang)
    mine = await linli.reports.may_handle(user.id, report)
    can_reassign = bool(await linli.reports.reassign_targets(user.id, report))
    buttons = linli.report_notices.buttons(report, context.lang, can_reassign) if mine else None
    await redraw_pressed(update, context, text, buttons=buttons or None)  # the card: personal


async def action_pressed(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    match = ACTION_DATA.match(query.data)
    if match is None:
        raise BadInput("error.stale_button")
    action = match.group(1)
    report_id, version = button_number(match.group(2)), button_number(match.group(3))
    linli, lang = context.linli, context.lang
    try:
        if action == "ack":
            report = await linli.reports.acknowledge(user.id, report_id, version)
            await query.answer(t(lang, "report.done_acknowledged", number=number(report.id)))
            return
        report = await linli.reports.actionable(user.id, report_id, version)
    except StaleAction as stale:
        await _answer_stale(update, context, stale.report)
        return
    if action == "esc" and not await linli.reports.can_escalate(report):
        raise BadInput("report.top_of_chain")  # say so before asking for a reason
    await query.answer()
    if action in ("res", "esc"):
        now = linli.clock.now()
        await linli.pending.expect(user.id, user.id, NOTE, {
            "report": report.id, "version": report.version, "action": action,
        }, now + NOTE_LIFETIME, now)
        if action == "esc":
            await reply(update, context, "report.ask_reason", number=number(report.id))
            return
        offered = await linli.reports.common_replies(user.id, report.category, lang)
        buttons = [Button(esc(text), data=f"r:rn:{report.id}:{report.version}:{code}")
                   for code, text in offered]
        await reply(update, context, "replies.ask" if buttons else "report.ask_resolution",
                    number=number(report.id), buttons=rows(buttons, per_row=1) or None)
    elif action == "cat":
        choices = [Button(t(lang, f"category.{c}"), data=f"r:set:{report.id}:{report.version}:{c}")
                   for c in linli.settings.reports.categories if c != report.category]
        await reply(update, context, "report.pick_category", number=number(report.id),
                    buttons=rows(choices, per_row=2))
    elif action == "mrg":
        await _offer_merge(update, context, report)
    else:
        targets = await linli.reports.reassign_targets(user.id, report)
        if not targets:
            raise NotAllowed("report.reassign_not_below")
        choices = [Button(esc(n.name), data=f"r:to:{report.id}:{report.version}:{n.id}")
                   for n in targets]
        await reply(update, context, "report.pick_target", number=number(report.id),
                    buttons=rows(choices, per_row=1))


async def _offer_merge(update: Update, context: LinliContext, report: Report) -> None:
    """Buttons of the open reports of the same building this one may be merged into."""
    user = update.effective_user
    assert user is not None
    linli, lang = context.linli, context.lang
    targets = await linli.same_problems.merge_targets(user.id, report)
    if not targets:
        raise BadInput("metoo.no_targets")
    choices = [Button(t(lang, "metoo.target_button", number=number(r.id),
                        category=t(lang, f"category.{r.category}"), excerpt=r.text[:EXCERPT]),
                      data=f"r:into:{report.id}:{report.version}:{r.id}") for r in targets]
    await reply(update, context, "metoo.pick_target", number=number(report.id),
                buttons=rows(choices, per_row=1))


async def merge_pressed(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    match = MERGE_DATA.match(query.data)
    if match is None:
        raise BadInput("error.stale_button")
    report_id, version, target_id = (int(g) for g in match.groups())
    try:
        duplicate, target = await context.linli.same_problems.merge(user.id, report_id, version,
                                                                    target_id)
    except StaleAction as stale:
        await _answer_stale(update, context, stale.report)
        return
    await query.answer()
    await edit(update, context, "metoo.done_merged", number=number(duplicate.id),
               target=number(target.id))


async def _answer_stale(update: Update, context: LinliContext, report: Report) -> None:
    query = update.callback_query
    assert query is not None
    linli, lang = context.linli, context.lang
    report = await linli.reports.get(report.id)  # as it stands now, after whatever moved it
    who = await linli.report_notices.handler_title(report, lang)
    if report.owner_id:
        who = await linli.report_notices.person(report.owner_id)
    await query.answer(t(lang, "report.already_handled", number=number(report.id),
                         state=t(lang, f"state.{report.state}"), who=who), show_alert=True)
    await _refresh_card(update, context, report)


async def target_pressed(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    match = TARGET_DATA.match(query.data)
    if match is None:
        raise BadInput("error.stale_button")
    kind, report_id, version, value = match.groups()
    linli = context.linli
    try:
        if kind == "to":
            report = await linli.reports.reassign(user.id, button_number(report_id),
                                                  button_number(version), button_number(value))
            done = "report.done_reassigned"
        else:
            report = await linli.reports.change_category(user.id, button_number(report_id),
                                                         button_number(version), value)
            done = "report.done_recategorised"
    except StaleAction as stale:
        await _answer_stale(update, context, stale.report)
        return
    await query.answer()
    await edit(update, context, done, number=number(report.id))


async def note_answered(update: Update, context: LinliContext, pending: PendingInput) -> None:
    user, message = update.effective_user, update.effective_message
    assert user is not None and message is not None
    linli = context.linli
    p = pending.payload
    photo = message.photo[-1].file_id if message.photo else None
    try:
        if p["action"] == "res":  # a photo with the note as its caption: proof
            report = await linli.reports.resolve(user.id, p["report"], p["version"],
                                                 (message.caption if photo else message.text)
                                                 or "", photo)
            await linli.pending.clear(user.id, NOTE)
            await reply(update, context, "replies.done_save",
                        done=await _resolved(context, report),
                        buttons=[[Button(t(context.lang, "replies.btn_save"),
                                         data=f"r:save:{report.id}")]])
            return
        report = await linli.reports.escalate(user.id, p["report"], p["version"],
                                              message.text or "")
        key = "report.done_escalated"
    except StaleAction as stale:
        await linli.pending.clear(user.id, NOTE)
        raise BadInput("report.already_moved", number=number(stale.report.id)) from stale
    await linli.pending.clear(user.id, NOTE)
    await reply(update, context, key, number=number(report.id))


async def _resolved_key(context: LinliContext, report: Report) -> str:
    """What resolving did for the rating, never claiming more than happened: the resident
    asked, the request waiting until they open the private chat, or a call-back asked of
    whoever filed it for them."""
    if report.filed_by is not None:
        return "report_for.done_resolved"
    if await context.linli.report_notices.reporter_reachable(report):
        return "report.done_resolved"
    return "report.reach.resolved_waiting"


async def _resolved(context: LinliContext, report: Report) -> Markup:
    key = await _resolved_key(context, report)
    return Markup(t(context.lang, key, number=number(report.id)))


async def common_reply_pressed(update: Update, context: LinliContext) -> None:
    """A common reply picked on 办结: resolved with that note."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    match = REPLY_DATA.match(query.data)
    if match is None:
        raise BadInput("error.stale_button")
    linli, lang = context.linli, context.lang
    report_id, version = button_number(match.group(1)), button_number(match.group(2))
    code = match.group(3)
    try:
        report = await linli.reports.actionable(user.id, report_id, version)
        note = await linli.reports.common_reply(user.id, report.category, code, lang)
        report = await linli.reports.resolve(user.id, report_id, version, note)
    except StaleAction as stale:
        await _answer_stale(update, context, stale.report)
        return
    await linli.pending.clear(user.id, NOTE)
    await query.answer()
    await edit(update, context, "replies.done", done=await _resolved(context, report),
               note=note)


async def save_pressed(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    match = SAVE_DATA.match(query.data)
    if match is None:
        raise BadInput("error.stale_button")
    report, saved = await context.linli.reports.save_reply(user.id, button_number(match.group(1)))
    lang = context.lang
    await query.answer(t(lang, "replies.saved" if saved else "replies.already_saved",
                         category=t(lang, f"category.{report.category}")))
    await edit(update, context, await _resolved_key(context, report), number=number(report.id))


async def rate_pressed(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    match = RATE_DATA.match(query.data)
    if match is None:
        raise BadInput("error.stale_button")
    linli = context.linli
    report = await linli.reports.rate(user.id, button_number(match.group(1)), match.group(2))
    await query.answer()
    # the one answer to the rating: the rating message itself, saying what happens next
    if report.state == "closed":
        key = "report_for.recorded" if report.filed_by is not None else "report.thanks_rating"
        await edit(update, context, key, number=number(report.id))
        return
    rung = await linli.org_repo.node(report.rung_node_id)
    key = "report.rated.reopened" if report.state == "reopened" else "report.rated.escalated"
    answer = t(context.lang, key, number=number(report.id), node=rung.name if rung else "",
               title=await linli.report_notices.handler_title(report, context.lang))
    now = linli.clock.now()  # unsatisfied: ask why, for whoever handles it now
    await linli.pending.expect(user.id, user.id, COMPLAINT, {"report": report.id},
                               now + NOTE_LIFETIME, now)
    await edit(update, context, "report.rated_ask_why", answer=Markup(answer))


async def complaint_answered(update: Update, context: LinliContext,
                             pending: PendingInput) -> None:
    user, message = update.effective_user, update.effective_message
    assert user is not None and message is not None
    report = await context.linli.reports.complain(user.id, pending.payload["report"],
                                                  message.text or "")
    await context.linli.pending.clear(user.id, COMPLAINT)
    await reply(update, context, "report.complaint_passed_on", number=number(report.id))


# -- lists ----------------------------------------------------------------------------


async def my_reports(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    linli, lang = context.linli, context.lang
    mine = await linli.report_repo.by_reporter(user.id)
    supported = await linli.report_repo.supported_by(user.id)
    if not mine and not supported:
        await reply_private(update, context, "report.none_yet")
        return
    lines = []
    for r in mine:
        due = await linli.scheduler.deadlines.armed_for("report", r.id)
        lines.append(t(lang, "report.list_line", number=number(r.id),
                       category=t(lang, f"category.{r.category}"),
                       state=t(lang, f"state.{r.state}"),
                       handler=await linli.report_notices.handler_title(r, lang),
                       due=local_time(linli.settings, lang, due[0].due_at) if due and r.active
                       else "—"))
    lines += [t(lang, "metoo.list_line", number=number(r.id),
                category=t(lang, f"category.{r.category}"), state=t(lang, f"state.{r.state}"))
              for r in supported]
    await reply_private(update, context, "report.my_list", lines=Markup("\n".join(lines)))
    if is_private(update):  # here now: the ratings that never reached them
        await linli.reports.ask_missed_ratings(user.id)


async def queue(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    linli, lang = context.linli, context.lang
    waiting = await linli.report_repo.waiting_for(user.id)
    if not waiting and not (await linli.org.roles(user.id)).leader:
        raise NotAllowed("report.queue_leaders_only")
    now = linli.clock.now()
    entries: list[tuple[datetime | None, Report]] = []
    for r in waiting:
        armed = [d.due_at for d in await linli.scheduler.deadlines.armed_for("report", r.id)
                 if d.kind in ("acknowledge", "resolve")]
        entries.append((min(armed) if armed else None, r))
    entries.sort(key=lambda e: e[0] or now)
    if not entries:
        await reply_private(update, context, "report.queue_empty")
        return
    # 超期 only next to a deadline that has passed, or with none left (flagged at the top)
    lines = [t(lang, "report.queue_line", number=number(r.id),
               category=t(lang, f"category.{r.category}"), state=t(lang, f"state.{r.state}"),
               due=local_time(linli.settings, lang, due) if due is not None else "—",
               overdue=t(lang, "report.overdue_mark")
               if (due is not None and due <= now) or (due is None and r.overdue) else "",
               text=r.text[:40]) for due, r in entries]
    await reply_private(update, context, "report.queue", lines=Markup("\n".join(lines)))


async def status(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    words = args(context)
    wanted = record_number(words[0]) if len(words) == 1 else None
    if wanted is None:
        raise BadInput("report.status_usage")
    await show_status(update, context, wanted)


async def show_status(update: Update, context: LinliContext, report_id: int,
                      intro: str | None = None) -> None:
    """A report's card and history, to whoever may see it (``intro``: a line above)."""
    user = update.effective_user
    assert user is not None
    linli, lang = context.linli, context.lang
    try:
        report = await linli.reports.visible(user.id, report_id)
    except NotFound:
        report = await linli.report_repo.get(report_id)
        if report is None or not await linli.report_repo.is_supporter(report_id, user.id):
            raise
        await _status_for_supporter(update, context, report)
        return
    chain = user.id != report.reporter_id
    card = await linli.report_notices.describe(report, lang)
    if chain and report.voice_file_id:  # the voice itself, to whoever handles or oversees it
        await linli.notifier.send(Outgoing(
            user.id, method="send_video_note" if report.voice_kind == "video_note"
            else "send_voice", voice=report.voice_file_id,
            text=None if report.voice_kind == "video_note" else t(
                lang, "voice.caption", number=number(report.id))))
    history, where = [], None
    for event in await linli.report_repo.events(report.id):
        who = await linli.report_notices.person(event.actor_id) if event.actor_id else t(
            lang, "report.by_system")
        if not chain and event.action in RESIDENTS_ACTIONS and event.actor_id != user.id:
            who = t(lang, "metoo.a_resident")  # the other residents stay unnamed
        params = {"at": local_time(linli.settings, lang, event.at),
                  "action": t(lang, f"action.{event.action}"), "who": who,
                  "note": linli.report_notices.event_note(lang, event.note)}
        node = await linli.org_repo.node(event.node_id) if event.node_id else None
        if node is not None and event.node_id != where:  # a step that moved it: say where
            history.append(t(lang, "report.history_line_moved", node=node.name, **params))
        else:
            history.append(t(lang, "report.history_line", **params))
        where = event.node_id or where
    if intro is not None:
        card = t(lang, intro, number=number(report.id)) + "\n" + card
    await reply_private(update, context, "report.status", card=Markup(card),
                history=Markup("\n".join(history)))


RESIDENTS_ACTIONS = ("supported", "rated_supporter")


async def _status_for_supporter(update: Update, context: LinliContext, report: Report) -> None:
    """A supporter sees the state and the steps, never who reported it or where."""
    linli, lang = context.linli, context.lang
    notices = linli.report_notices
    rung = await linli.org_repo.node(report.rung_node_id)
    assert rung is not None
    lines = [t(lang, "report.card_head", number=number(report.id),
               category=t(lang, f"category.{report.category}")),
             t(lang, "report.card_state", state=t(lang, f"state.{report.state}"),
               handler=await notices.handler_title(report, lang), node=rung.name),
             *notices.supporter_lines(report, lang)]
    if report.resolution:
        lines.append(t(lang, "report.card_resolution", resolution_note=report.resolution))
    history = []
    for event in await linli.report_repo.events(report.id):
        if event.actor_id is None:
            who = t(lang, "report.by_system")
        elif await linli.org_repo.leaders_named(event.actor_id):
            who = await notices.person(event.actor_id)
        else:
            who = t(lang, "metoo.a_resident")  # the reporter and the other supporters
        history.append(t(lang, "report.history_line",
                         at=local_time(linli.settings, lang, event.at),
                         action=t(lang, f"action.{event.action}"), who=who,
                         note=notices.event_note(lang, event.note)))
    await reply_private(update, context, "metoo.status", card=Markup("\n".join(lines)),
                        history=Markup("\n".join(history)))


def register(app: Application) -> None:
    app.add_handler(CommandHandler("myreports", my_reports))
    app.add_handler(CommandHandler("queue", queue))
    app.add_handler(CommandHandler("status", status))
    app.add_handler(CallbackQueryHandler(action_pressed,
                                         pattern=r"^r:(ack|res|esc|cat|rea|mrg):"))
    app.add_handler(CallbackQueryHandler(merge_pressed, pattern=r"^r:into:"))
    app.add_handler(CallbackQueryHandler(target_pressed, pattern=r"^r:(to|set):"))
    app.add_handler(CallbackQueryHandler(rate_pressed, pattern=r"^r:rate:"))
    app.add_handler(CallbackQueryHandler(common_reply_pressed, pattern=r"^r:rn:"))
    app.add_handler(CallbackQueryHandler(save_pressed, pattern=r"^r:save:"))
    on_answer(NOTE, note_answered)
    on_answer(COMPLAINT, complaint_answered)
