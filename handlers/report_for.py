"""/report_for: a leader files a report for a resident without Telegram (a guided form:
the resident by name and unit or a phone number, the text with an optional photo, confirm).
It runs the chain like any report; the rating is asked of the leader, as a call-back."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.context import LinliContext
from bot.core.errors import BadInput, NotAllowed
from bot.core.i18n import esc, number, t
from bot.core.inputs import button_number
from bot.core.notifier import Button, Outgoing
from bot.reports.reports import Draft, Report
from bot.services import PendingInput
from handlers.common import edit, is_private, reply, rows
from handlers.inputs import on_answer

FLOW = "report_for"
FLOW_LIFETIME = timedelta(minutes=30)
PHONE = re.compile(r"^\+?\d[\d\- ]{5,18}\d$")
NAME_MAX, UNIT_MAX = 20, 32
WHO_DATA = re.compile(r"^rq:who:(-\d{1,12})$")
SHOWN = 8


async def _home(context: LinliContext, user_id: int) -> int:
    """Where residents filed for by this leader live: the lowest node they lead."""
    led = await context.linli.org_repo.led_nodes(user_id)
    if not led:
        raise NotAllowed("report_for.leaders_only")
    order = context.linli.settings.level_keys
    return max(led, key=lambda n: order.index(n.level)).id


async def _save(context: LinliContext, user_id: int, payload: dict[str, Any]) -> None:
    now = context.linli.clock.now()
    await context.linli.pending.expect(user_id, user_id, FLOW, payload, now + FLOW_LIFETIME, now)


async def report_for(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    if not is_private(update):
        await reply(update, context, "report_for.private_only")
        return
    linli = context.linli
    node_id = await _home(context, user.id)
    await _save(context, user.id, {"step": "who", "node": node_id})
    known = [r for r in await linli.org_repo.residents_in([node_id]) if r.offline][:SHOWN]
    buttons = [Button(esc(f"{r.name or r.phone}" + (f"（{r.unit}）" if r.unit else "")),
                      data=f"rq:who:{r.user_id}") for r in known]
    await reply(update, context, "report_for.ask_who", buttons=rows(buttons, 2) or None)


def _read_who(text: str) -> dict[str, Any]:
    """「刘奶奶 1-302」 or 「13800001111」."""
    cleaned = " ".join(text.split())
    if PHONE.match(cleaned):
        return {"phone": re.sub(r"[\s-]", "", cleaned)}
    name, _, unit = cleaned.partition(" ")
    if not name or not unit or len(name) > NAME_MAX or len(unit) > UNIT_MAX:
        raise BadInput("report_for.who_invalid", max=NAME_MAX, unit_max=UNIT_MAX)
    return {"name": name, "unit": unit}


async def who_pressed(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    match = WHO_DATA.match(query.data)
    pending = await context.linli.pending.get(user.id, FLOW, context.linli.clock.now())
    if match is None or pending is None:
        raise BadInput("report_for.expired")
    resident = await context.linli.org_repo.resident(button_number(match.group(1)))
    if resident is None or not resident.offline or resident.node_id != pending.payload["node"]:
        raise BadInput("error.stale_button")
    await _save(context, user.id, {**pending.payload, "step": "text",
                                   "resident": resident.user_id})
    await query.answer()
    await edit(update, context, "report_for.ask_text", name=resident.name or resident.phone)


async def answered(update: Update, context: LinliContext, pending: PendingInput) -> None:
    user, message = update.effective_user, update.effective_message
    assert user is not None and message is not None
    linli, lang = context.linli, context.lang
    payload = dict(pending.payload)
    if payload["step"] == "who":
        payload.update(_read_who(message.text or ""), step="text")
        await _save(context, user.id, payload)
        await reply(update, context, "report_for.ask_text",
                    name=payload.get("name") or payload.get("phone"))
        return
    photo = message.photo[-1].file_id if message.photo else None
    text = linli.reports.check_text(message.caption if photo else message.text, photo=bool(photo))
    payload.update(step="confirm", text=text, photo=photo,
                   category=linli.reports.guess_category(text))
    await _save(context, user.id, payload)
    name = payload.get("name") or payload.get("phone")
    if "resident" in payload:
        name = await linli.report_notices.person(payload["resident"])
    await reply(update, context, "report_for.confirm", name=name, text=text,
                category=t(lang, f"category.{payload['category']}"),
                extras=t(lang, "report.has_photo") if photo else t(lang, "report.no_extras"),
                buttons=[[Button(t(lang, "report.btn_submit"), data="rq:ok"),
                          Button(t(lang, "report.btn_cancel"), data="rf:no")]])


async def submit(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    linli, lang = context.linli, context.lang
    pending = await linli.pending.get(user.id, FLOW, linli.clock.now())
    if pending is None or pending.payload.get("step") != "confirm":
        raise BadInput("report_for.expired")
    p = pending.payload
    node_id = await _home(context, user.id)
    if node_id != p["node"]:
        raise BadInput("report_for.expired")
    resident_id = p.get("resident")
    if resident_id is None:
        now = linli.clock.now()
        async with linli.db.write() as tx:
            resident_id = await linli.org_repo.add_offline_resident(
                tx, node_id, p.get("name"), p.get("unit"), now, phone=p.get("phone"))
    await linli.pending.clear(user.id, FLOW)
    await query.answer()
    name = await linli.report_notices.person(resident_id)

    async def receipt(filed: Report) -> list[Outgoing]:
        title = await linli.report_notices.handler_title(filed, lang)
        return [Outgoing(user.id, t(lang, "report_for.received", number=number(filed.id),
                                    name=name, title=title))]

    await edit(update, context, "report.submitted")
    await linli.reports.file(resident_id, node_id, Draft(p["category"], p["text"], p.get("photo")),
                             None, receipt, filed_by=user.id)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("report_for", report_for))
    app.add_handler(CallbackQueryHandler(who_pressed, pattern=r"^rq:who:"))
    app.add_handler(CallbackQueryHandler(submit, pattern=r"^rq:ok$"))
    on_answer(FLOW, answered)
