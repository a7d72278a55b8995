"""/volunteer (register, pause, resume, leave) and /help_request with its buttons."""

from __future__ import annotations

import re
from datetime import timedelta

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.context import LinliContext
from bot.core.errors import BadInput
from bot.core.i18n import number, t
from bot.core.inputs import button_number
from bot.core.notifier import Button
from bot.service.volunteers import SKILLS, Volunteer, parse_skill
from bot.services import PendingInput
from handlers.common import args, edit, is_private, open_private, reply, rows
from handlers.inputs import on_answer

HELP_TEXT = "help_text"
TEXT_LIFETIME = timedelta(minutes=30)
HELP_DATA = re.compile(r"^hr:(acc|ok|no|done):(\d{1,9})$")
SKILL_DATA = re.compile(r"^hr:sk:([a-z]{1,20})$")
VOLUNTEER_DATA = re.compile(r"^vo:(pause|resume|leave)$")
# /volunteer 暂停 / 恢复 / 退出, beside the English words
WORDS = {"暂停": "pause", "暂停接单": "pause", "恢复": "resume", "恢复接单": "resume",
         "退出": "leave", "退出志愿者": "leave"}


def _skills(lang: str, skills: tuple[str, ...] | list[str]) -> str:
    return "、".join(t(lang, f"helpreq.skill.{s}") for s in skills) if lang == "zh" else ", ".join(
        t(lang, f"helpreq.skill.{s}") for s in skills)


def _status_buttons(lang: str, volunteer: Volunteer) -> list[list[Button]]:
    toggle = ("vo:resume", "volunteer.btn_resume") if volunteer.state == "paused" else (
        "vo:pause", "volunteer.btn_pause")
    return [[Button(t(lang, toggle[1]), data=toggle[0]),
             Button(t(lang, "volunteer.btn_leave"), data="vo:leave")]]


async def _status(update: Update, context: LinliContext, volunteer: Volunteer,
                  key: str = "volunteer.status") -> None:
    lang = context.lang
    await reply(update, context, key, skills=_skills(lang, volunteer.skills),
                hours=volunteer.hours or "—", state=t(lang, f"volunteer.state.{volunteer.state}"),
                buttons=_status_buttons(lang, volunteer) if volunteer.state != "left" else None)


async def volunteer(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    if not is_private(update):
        await reply(update, context, "volunteer.private_only", buttons=open_private(context))
        return
    linli, given = context.linli, args(context)
    if not given:
        current = await linli.volunteers.repo.get(user.id)
        if current is None or current.state == "left":
            await reply(update, context, "volunteer.usage", skills=_skills(context.lang, SKILLS))
        else:
            await _status(update, context, current)
        return
    states = {"pause": "paused", "resume": "active", "leave": "left"}
    word = WORDS.get(given[0], given[0].lower())
    if word in states and len(given) == 1:
        changed = await linli.volunteers.set_state(user.id, states[word])
        await _status(update, context, changed, f"volunteer.done_{word}")
        return
    registered = await linli.volunteers.register(user.id, given[0], " ".join(given[1:]) or None)
    await _status(update, context, registered, "volunteer.registered")


async def volunteer_button(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    match = VOLUNTEER_DATA.match(query.data)
    if match is None:
        raise BadInput("error.stale_button")
    action = match.group(1)
    state = {"pause": "paused", "resume": "active", "leave": "left"}[action]
    changed = await context.linli.volunteers.set_state(user.id, state)
    await query.answer()
    lang = context.lang
    await edit(update, context, f"volunteer.done_{action}", skills=_skills(lang, changed.skills),
               hours=changed.hours or "—", state=t(lang, f"volunteer.state.{changed.state}"),
               buttons=_status_buttons(lang, changed) if changed.state != "left" else None)


async def help_request(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    if not is_private(update):
        await reply(update, context, "helpreq.private_only", buttons=open_private(context))
        return
    linli, given = context.linli, args(context)
    if len(given) >= 2:
        await _file(update, context, given[0], " ".join(given[1:]))
        return
    if given:
        raise BadInput("helpreq.usage")
    await linli.volunteers.home(user.id)  # unregistered: told to /join before choosing
    lang = context.lang
    await reply(update, context, "helpreq.pick_skill", buttons=rows(
        [Button(t(lang, f"helpreq.skill.{s}"), data=f"hr:sk:{s}") for s in SKILLS]))


async def _file(update: Update, context: LinliContext, skill: str, text: str) -> None:
    user = update.effective_user
    assert user is not None
    request, offered = await context.linli.volunteers.file(user.id, skill, text)
    key = "helpreq.filed" if offered else "helpreq.filed_no_volunteer"
    await reply(update, context, key, number=number(request.id), count=offered)


async def skill_picked(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    match = SKILL_DATA.match(query.data)
    if match is None:
        raise BadInput("error.stale_button")
    skill = parse_skill(match.group(1))
    linli = context.linli
    await query.answer()
    now = linli.clock.now()
    await linli.pending.expect(user.id, user.id, HELP_TEXT, {"skill": skill},
                               now + TEXT_LIFETIME, now)
    await edit(update, context, "helpreq.ask_text", skill=t(context.lang, f"helpreq.skill.{skill}"))


async def text_answered(update: Update, context: LinliContext, pending: PendingInput) -> None:
    user, message = update.effective_user, update.effective_message
    assert user is not None and message is not None
    context.linli.volunteers.check_text(message.text)  # a bad text keeps the question open
    await context.linli.pending.clear(user.id, HELP_TEXT)
    await _file(update, context, pending.payload["skill"], message.text or "")


async def help_button(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    match = HELP_DATA.match(query.data)
    if match is None:
        raise BadInput("error.stale_button")
    action, request_id = match.group(1), button_number(match.group(2))
    service, lang = context.linli.volunteers, context.lang
    if action == "acc":
        request = await service.accept(user.id, request_id)
        await query.answer(t(lang, "helpreq.you_accepted", number=number(request.id)))
    elif action in ("ok", "no"):
        request = await service.consent(user.id, request_id, action == "ok")
        await query.answer()
        await edit(update, context, "helpreq.consent_given" if action == "ok"
                   else "helpreq.consent_refused", number=number(request.id))
    else:
        request, both = await service.done(user.id, request_id)
        await query.answer(t(lang, "helpreq.done_both" if both else "helpreq.done_waiting",
                             number=number(request.id)))


def register(app: Application) -> None:
    app.add_handler(CommandHandler("volunteer", volunteer))
    app.add_handler(CommandHandler("help_request", help_request))
    app.add_handler(CallbackQueryHandler(skill_picked, pattern=r"^hr:sk:"))
    app.add_handler(CallbackQueryHandler(help_button, pattern=r"^hr:"))
    app.add_handler(CallbackQueryHandler(volunteer_button, pattern=r"^vo:"))
    on_answer(HELP_TEXT, text_answered)
