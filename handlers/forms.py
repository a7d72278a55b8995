"""Guided forms in private chat: one question a step, buttons first, then a summary with
确认 / 修改 / 取消.

A form's state is one pending input (storage/pending), so it survives a restart and
times out: a button pressed or a message typed after the timeout is told, once, that it
expired and how to start again. /cancel or the 取消 button clears it; nothing is created
before 确认. /event keeps its own steps but stands on the same state (:class:`FormState`).

The long commands (/forum, /decide, /broadcast, /care_add) describe their steps with
:class:`Step`: the payload fields a step fills, its question, what a typed answer or a
pressed button does. The engine asks the first step whose fields are missing, so 修改
(clear that step's fields) and the first run are one path. A refused answer repeats the
step's question under the refusal, buttons and all.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from telegram import Message, Update
from telegram.ext import Application, CallbackQueryHandler

from bot.context import LinliContext
from bot.core.errors import BadInput, LinliError, NotAllowed
from bot.core.i18n import Markup, t
from bot.core.inputs import button_date, tagged_number
from bot.core.notifier import Button, Outgoing
from bot.core.timeparse import describe, parse_moment
from bot.services import PendingInput
from handlers.common import edit, is_private, reply, rows
from handlers.inputs import on_answer

LIFETIME = timedelta(hours=1)
Payload = dict[str, Any]
DATA = re.compile(r"^fm:([a-z]{2}):(ok|ed|no|r:[a-z_]{1,16}|v:[a-z_]{1,16}:.{1,40})$")


class FormState:
    """Where a form is kept: one pending input of ``kind``, alive for ``lifetime``."""

    def __init__(self, kind: str, *, expired: str, stop_label: str, stop_data: str,
                 lifetime: timedelta = LIFETIME, **expired_params: object) -> None:
        self.kind, self.lifetime = kind, lifetime
        self.expired, self.expired_params = expired, expired_params
        self.stop_label, self.stop_data = stop_label, stop_data

    async def save(self, context: LinliContext, user_id: int, payload: Payload) -> None:
        now = context.linli.clock.now()
        await context.linli.pending.expect(user_id, user_id, self.kind, payload,
                                           now + self.lifetime, now)

    async def load(self, context: LinliContext, user_id: int) -> Payload:
        pending = await context.linli.pending.get(user_id, self.kind, context.linli.clock.now())
        if pending is None:
            raise BadInput(self.expired, **self.expired_params)
        return dict(pending.payload)

    async def clear(self, context: LinliContext, user_id: int) -> bool:
        return await context.linli.pending.clear(user_id, self.kind)

    def stop_button(self, lang: str) -> list[Button]:
        return [Button(t(lang, self.stop_label), data=self.stop_data)]

    async def ask(self, context: LinliContext, user_id: int, text: str,
                  buttons: list[list[Button]] | None = None) -> None:
        """A question with the form's stop button under its own buttons."""
        await context.linli.notifier.send(Outgoing(
            user_id, text, buttons=(buttons or []) + [self.stop_button(context.lang)]))

    def on_answer(self, answer: Callable[[Update, LinliContext, PendingInput],
                                         Awaitable[None]]) -> None:
        on_answer(self.kind, answer, expired=self.expired, **self.expired_params)


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    buttons: list[list[Button]] = field(default_factory=list)


Ask = Callable[[LinliContext, int, Payload], Awaitable[Question]]
Typed = Callable[[LinliContext, int, Payload, Message], Awaitable[bool]]
Pressed = Callable[[LinliContext, int, Payload, str], Awaitable[bool]]
Needed = Callable[[LinliContext, int, Payload], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class Step:
    """``typed``/``pressed`` update the payload and say whether the step is done (False:
    it asks again, e.g. the hour after a day was picked). ``needed`` False skips the step
    (it may fill the fields itself: the only choice). ``clears``: fields that depend on
    this step's answer, asked again when it changes."""

    name: str
    fields: tuple[str, ...]
    ask: Ask
    typed: Typed | None = None
    pressed: Pressed | None = None
    needed: Needed | None = None
    clears: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()  # helper fields of the step, dropped when it is redone


Begin = Callable[[LinliContext, int], Awaitable[Payload]]
Summary = Callable[[LinliContext, int, Payload], Awaitable[str]]
Finish = Callable[[Update, LinliContext, int, Payload], Awaitable[None]]

_FORMS: dict[str, Form] = {}


class Form:
    """A command's form: ``begin`` checks who may and returns the first payload, the
    ``steps`` fill it, ``summary`` shows it, ``finish`` does what the one line does."""

    def __init__(self, code: str, command: str, steps: list[Step], *, leaders_only: str,
                 begin: Begin, summary: Summary, finish: Finish) -> None:
        self.code, self.command, self.steps = code, command, {s.name: s for s in steps}
        self.leaders_only = leaders_only
        self.begin, self.summary, self.finish = begin, summary, finish
        self.state = FormState(f"form_{command}", expired="form.expired",
                               stop_label="form.btn_stop", stop_data=f"fm:{code}:no",
                               command=command)
        _FORMS[code] = self

    def data(self, step: str, value: str) -> str:
        return f"fm:{self.code}:v:{step}:{value}"

    # -- starting, asking, moving on ----------------------------------------------------

    async def start(self, update: Update, context: LinliContext) -> None:
        """The command typed without arguments: the form, in private only."""
        user = update.effective_user
        assert user is not None
        if not is_private(update):  # a pointer; what they may do is told in private
            if not (await context.linli.org.roles(user.id)).leader:
                raise NotAllowed(self.leaders_only)
            await reply(update, context, "form.in_private", command=self.command)
            return
        payload = await self.begin(context, user.id)  # refuses who may not, or cannot yet
        await self._advance(context, user.id, payload)

    async def _advance(self, context: LinliContext, user_id: int, p: Payload,
                       problem: LinliError | None = None) -> None:
        for step in self.steps.values():
            if all(f in p for f in step.fields):
                continue
            if step.needed is not None and not await step.needed(context, user_id, p):
                continue
            p["step"] = step.name
            await self.state.save(context, user_id, p)
            await self._ask(context, user_id, step, p, problem)
            return
        p["step"] = "confirm"
        await self.state.save(context, user_id, p)
        await self._summary(context, user_id, p, problem)

    async def _ask(self, context: LinliContext, user_id: int, step: Step, p: Payload,
                   problem: LinliError | None = None, in_place: int | None = None) -> None:
        question = await step.ask(context, user_id, p)
        text = _under(context, problem, question.text)
        if in_place is None:
            await self.state.ask(context, user_id, text, question.buttons)
            return
        # the same question after a button (a topic ticked, a day picked): redrawn in place
        await context.linli.notifier.send(Outgoing(
            user_id, text, buttons=question.buttons + [self.state.stop_button(context.lang)],
            method="edit_text", message_id=in_place))

    async def _summary(self, context: LinliContext, user_id: int, p: Payload,
                       problem: LinliError | None = None) -> None:
        lang = context.lang
        text = await self.summary(context, user_id, p)
        await context.linli.notifier.send(Outgoing(
            user_id, _under(context, problem, text),
            buttons=[[Button(t(lang, "form.btn_confirm"), data=f"fm:{self.code}:ok"),
                      Button(t(lang, "form.btn_edit"), data=f"fm:{self.code}:ed")],
                     self.state.stop_button(lang)]))

    # -- answers ------------------------------------------------------------------------

    async def typed(self, update: Update, context: LinliContext, pending: PendingInput) -> None:
        user, message = update.effective_user, update.effective_message
        assert user is not None and message is not None
        p = dict(pending.payload)
        step = self.steps.get(p.get("step", ""))
        if step is None:  # at the summary: its buttons are the answer
            await self._summary(context, user.id, p, BadInput("form.use_buttons"))
            return
        typed = step.typed
        if typed is None:
            await self._ask(context, user.id, step, p, BadInput("form.use_buttons"))
            return
        await self._answered(context, user.id, step, p,
                             lambda: typed(context, user.id, p, message))

    async def _answered(self, context: LinliContext, user_id: int, step: Step, p: Payload,
                        answer: Callable[[], Awaitable[bool]],
                        in_place: int | None = None) -> None:
        before = dict(p)
        try:
            done = await answer()
        except LinliError as problem:  # the step again, under the refusal
            await self._ask(context, user_id, step, before, problem)
            return
        if done:
            for name in step.clears:
                p.pop(name, None)
            await self._advance(context, user_id, p)
        else:
            await self.state.save(context, user_id, p)
            await self._ask(context, user_id, step, p, in_place=in_place)

    async def pressed(self, update: Update, context: LinliContext) -> None:
        user, query = update.effective_user, update.callback_query
        assert user is not None and query is not None
        match = DATA.match(query.data or "")
        assert match is not None
        action = match.group(2)
        if action == "no":
            await self.state.clear(context, user.id)
            await query.answer()
            await edit(update, context, "form.stopped", command=self.command)
            return
        p = await self.state.load(context, user.id)
        if action == "ok":
            await self._confirmed(update, context, user.id, p)
        elif action == "ed":
            if p.get("step") != "confirm":
                raise BadInput("error.stale_button")
            await query.answer()
            await edit(update, context, "form.which_step", buttons=self._redo_buttons(
                context, p))
        elif action.startswith("r:"):
            step = self.steps.get(action[2:])
            if step is None or p.get("step") != "confirm":
                raise BadInput("error.stale_button")
            for name in (*step.fields, *step.extra, *step.clears):
                p.pop(name, None)
            await query.answer()
            await self._advance(context, user.id, p)
        else:
            step_name, _, value = action[2:].partition(":")
            step = self.steps.get(step_name)
            pressed = step.pressed if step else None
            if step is None or pressed is None or p.get("step") != step_name:
                raise BadInput("error.stale_button")
            await query.answer()
            message = update.effective_message
            await self._answered(context, user.id, step, p,
                                 lambda: pressed(context, user.id, p, value),
                                 in_place=message.message_id if message else None)

    def _redo_buttons(self, context: LinliContext, p: Payload) -> list[list[Button]]:
        lang = context.lang
        names = [s for s in self.steps.values() if not p.get(f"{s.name}_only")]
        return rows([Button(t(lang, f"form.{self.command}.step_{s.name}"),
                            data=f"fm:{self.code}:r:{s.name}") for s in names], per_row=2) \
            + [self.state.stop_button(lang)]

    async def _confirmed(self, update: Update, context: LinliContext, user_id: int,
                         p: Payload) -> None:
        query = update.callback_query
        assert query is not None
        if p.get("step") != "confirm" or not await self.state.clear(context, user_id):
            raise BadInput("error.stale_button")  # pressed twice: done once
        summary = await self.summary(context, user_id, p)
        try:
            await self.finish(update, context, user_id, p)
        except LinliError as problem:  # e.g. the time passed while they looked: 修改 it
            await self.state.save(context, user_id, p)
            await query.answer()
            await self._summary(context, user_id, p, problem)
            return
        await query.answer()
        await edit(update, context, "form.done", summary=Markup(summary))


def _under(context: LinliContext, problem: LinliError | None, text: str) -> str:
    if problem is None:
        return text
    return t(context.lang, problem.key, **problem.params) + "\n\n" + text


async def form_pressed(update: Update, context: LinliContext) -> None:
    query = update.callback_query
    assert query is not None
    match = DATA.match(query.data or "")
    form = _FORMS.get(match.group(1)) if match else None
    if form is None:
        raise BadInput("error.stale_button")
    await form.pressed(update, context)


def register(app: Application) -> None:
    app.add_handler(CallbackQueryHandler(form_pressed, pattern=r"^fm:"))
    for form in _FORMS.values():
        form.state.on_answer(form.typed)


# -- times: 今天 / 明天 / 后天 / 其他日期, then the hour; or typed in any form ------------------

DAY_BUTTONS = 3  # 今天, 明天, 后天
MORE_DAYS = 14


def _today(context: LinliContext) -> date:
    return context.linli.clock.now().astimezone(context.linli.settings.tz).date()


def day_label(context: LinliContext, day: date) -> str:
    lang = context.lang
    offset = (day - _today(context)).days
    weekday = t(lang, f"form.weekday.{day.weekday()}")
    if 0 <= offset < DAY_BUTTONS:
        return t(lang, f"form.day_{offset}", weekday=weekday)
    return t(lang, "form.day_other", month=day.month, day=day.day, weekday=weekday)


def day_buttons(context: LinliContext, form: Form, step: str, p: Payload) -> list[list[Button]]:
    """Three days, and a fortnight when 其他日期 was pressed."""
    today = _today(context)
    if p.get(f"{step}_more"):
        days = [today + timedelta(days=n) for n in range(DAY_BUTTONS, DAY_BUTTONS + MORE_DAYS)]
        return rows([Button(day_label(context, d), data=form.data(step, f"d{d.isoformat()}"))
                     for d in days], per_row=3)
    days = [today + timedelta(days=n) for n in range(DAY_BUTTONS)]
    return [[Button(day_label(context, d), data=form.data(step, f"d{d.isoformat()}"))
             for d in days],
            [Button(t(context.lang, "form.btn_other_day"), data=form.data(step, "more"))]]


def hour_buttons(context: LinliContext, form: Form, step: str,
                 hours: tuple[int, ...]) -> list[list[Button]]:
    return [[Button(t(context.lang, f"form.hour_{h}"), data=form.data(step, f"h{h:02d}"))
             for h in hours]]


def day_pressed(context: LinliContext, p: Payload, step: str, value: str) -> date | None:
    """A day button (remembered as ``{step}_day``); 其他日期 opens the fortnight."""
    if value == "more":
        p[f"{step}_more"] = True
        return None
    if not value.startswith("d"):
        raise BadInput("error.stale_button")
    day = button_date(value[1:])
    if day < _today(context):
        raise BadInput("error.stale_button")
    p[f"{step}_day"] = day.isoformat()
    p.pop(f"{step}_more", None)
    return day


def at_hour(context: LinliContext, p: Payload, step: str, value: str) -> datetime:
    """An hour button on the day picked: read by the grammar, so a time already past is
    refused in its words."""
    hour = tagged_number(value, "h")
    if hour > 23 or f"{step}_day" not in p:
        raise BadInput("error.stale_button")
    return read_time(context, p, step, time(hour).strftime("%H:%M"))


def read_time(context: LinliContext, p: Payload, step: str, text: str) -> datetime:
    """A typed time (明天下午3点, 19:30 on the day picked, 12月5日 14:00) after now."""
    linli = context.linli
    day = p.get(f"{step}_day")
    day_of = (datetime.combine(date.fromisoformat(day), time(12), tzinfo=linli.settings.tz)
              if day else None)
    return parse_moment(text, linli.clock.now(), linli.settings.tz, day_of=day_of)


def when(context: LinliContext, moment: datetime) -> str:
    linli = context.linli
    return describe(moment, linli.clock.now(), linli.settings.tz, context.lang)
