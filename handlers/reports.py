"""/report (one line or guided), /cancel, and the reporter's side of a report."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.context import LinliContext
from bot.core import deeplink
from bot.core.errors import BadInput
from bot.core.i18n import number, t
from bot.core.notifier import Button, Outgoing
from bot.reports.reports import Draft, Report, Voice
from bot.services import PendingInput
from handlers.common import (
    CaptionCommand,
    edit,
    is_private,
    open_private,
    reply,
    rows,
    thread_of,
)
from handlers.inputs import on_answer

FLOW = "report_flow"
DRAFT = "report_draft"
FLOW_LIFETIME = timedelta(minutes=30)
DRAFT_LIFETIME = timedelta(days=2)
CATEGORY_DATA = re.compile(r"^rf:cat:([a-z_]{1,20})$")


def _command_text(update: Update) -> str:
    """The text after /report, kept whole (line breaks included)."""
    message = update.effective_message
    assert message is not None
    raw = message.text or message.caption or ""
    return raw.split(maxsplit=1)[1] if len(raw.split(maxsplit=1)) > 1 else ""


async def _home_node(context: LinliContext, user_id: int) -> int | None:
    resident = await context.linli.org_repo.resident(user_id)
    return resident.node_id if resident else None


async def report(update: Update, context: LinliContext) -> None:
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    linli = context.linli
    text = _command_text(update)
    message = update.effective_message
    assert message is not None
    photo = message.photo[-1].file_id if message.photo else None
    if text:
        cleaned = linli.reports.check_text(text)  # refuse before anything is kept
        draft = Draft(linli.reports.guess_category(cleaned), cleaned, photo)
        node_id = await _home_node(context, user.id)
        if node_id is None:
            await _keep_draft(update, context, draft)
            return
        await _file(update, context, node_id, draft)
        return
    await start_flow(update, context)


async def _file(update: Update, context: LinliContext, node_id: int, draft: Draft,
                source_chat_id: int | None = None) -> None:
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    linli, lang, thread = context.linli, context.lang, thread_of(update)
    source = source_chat_id if source_chat_id is not None else chat.id

    async def receipt(filed: Report) -> list[Outgoing]:
        no = number(filed.id)
        title = await linli.report_notices.handler_title(filed, lang)
        received = t(lang, "report.received", number=no, title=title)
        if is_private(update):
            return [Outgoing(chat.id, received, thread_id=thread)]
        # the group learns the number only; the details go to the reporter in private, and
        # a reporter who never opened a private chat hears how to follow the progress
        return [Outgoing(chat.id, t(lang, "report.received_group", number=no), thread_id=thread),
                Outgoing(user.id, received, fallback=Outgoing(
                    chat.id, t(lang, "report.start_private", number=no), thread_id=thread,
                    buttons=open_private(context, f"{deeplink.REPORT}{filed.id}")))]

    await linli.reports.file(user.id, node_id, draft, source, receipt)



async def _keep_draft(update: Update, context: LinliContext, draft: Draft) -> None:
    """Not registered yet: keep the text, ask them to /join, offer it again afterwards."""
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    linli = context.linli
    now = linli.clock.now()
    await linli.pending.expect(user.id, user.id, DRAFT, {
        "category": draft.category, "text": draft.text, "photo": draft.photo_file_id,
        "source": chat.id, "voice": voice_payload(draft.voice),
    }, now + DRAFT_LIFETIME, now)
    await reply(update, context, "report.join_first")


def voice_payload(voice: Voice | None) -> dict[str, Any] | None:
    """A draft's voice as a pending question keeps it (JSON)."""
    if voice is None:
        return None
    return {"file_id": voice.file_id, "duration": voice.duration, "kind": voice.kind,
            "transcript": voice.transcript}


def voice_of(kept: dict[str, Any] | None) -> Voice | None:
    if not kept:
        return None
    return Voice(kept["file_id"], int(kept["duration"]), kept["kind"], kept.get("transcript"))


async def offer_draft(update: Update, context: LinliContext) -> None:
    """After /join: a report written before registering is offered for confirmation."""
    user = update.effective_user
    assert user is not None
    linli = context.linli
    pending = await linli.pending.get(user.id, DRAFT, linli.clock.now())
    if pending is None:
        return
    lang = context.lang
    buttons = [[Button(t(lang, "report.btn_submit"), data="rf:draft"),
                Button(t(lang, "report.btn_cancel"), data="rf:no")]]
    offer = Outgoing(user.id, t(lang, "report.draft_offer", text=pending.payload["text"][:200]),
                     buttons=buttons)
    if not is_private(update):  # what they wrote is theirs: the group sees only the question
        chat = update.effective_chat
        assert chat is not None
        offer.fallback = Outgoing(chat.id, t(lang, "report_privacy.draft_offer_group"),
                                  buttons=buttons,
                                  thread_id=thread_of(update))
    await linli.notifier.send(offer)


async def draft_confirmed(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    linli = context.linli
    pending = await linli.pending.get(user.id, DRAFT, linli.clock.now())
    if pending is None:
        raise BadInput("error.stale_button")
    node_id = await _home_node(context, user.id)
    if node_id is None:
        raise BadInput("org.not_resident")
    await linli.pending.clear(user.id, DRAFT)
    await query.answer()
    p = pending.payload
    await _file(update, context, node_id, Draft(p["category"], p["text"], p.get("photo"),
                                                voice=voice_of(p.get("voice"))),
                p.get("source"))


# -- the guided flow ------------------------------------------------------------------


def _category_buttons(context: LinliContext, lang: str) -> list[list[Button]]:
    cats = [Button(t(lang, f"category.{c}"), data=f"rf:cat:{c}")
            for c in context.linli.settings.reports.categories]
    return rows(cats, per_row=2) + [[Button(t(lang, "report.btn_cancel"), data="rf:no")]]


async def start_flow(update: Update, context: LinliContext) -> None:
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    linli = context.linli
    if await _home_node(context, user.id) is None:
        raise BadInput("report.join_before_flow")
    await _save_flow(context, user.id, {"step": "category", "source": chat.id})
    lang = context.lang
    question = Outgoing(user.id, t(lang, "report.ask_category"),
                        buttons=_category_buttons(context, lang))
    if not is_private(update):
        question.fallback = Outgoing(chat.id, t(lang, "report.open_private"),
                                     buttons=open_private(context, deeplink.NEW_REPORT))
        await reply(update, context, "report.continue_private")
    await linli.notifier.send(question)


async def _flow(context: LinliContext, user_id: int) -> PendingInput:
    linli = context.linli
    pending = await linli.pending.get(user_id, FLOW, linli.clock.now())
    if pending is None:
        raise BadInput("report.flow_expired")
    return pending


async def _save_flow(context: LinliContext, user_id: int, payload: dict[str, Any]) -> None:
    linli = context.linli
    now = linli.clock.now()
    await linli.pending.expect(user_id, user_id, FLOW, payload, now + FLOW_LIFETIME, now)


async def flow_category(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    match = CATEGORY_DATA.match(query.data)
    if match is None or match.group(1) not in context.linli.settings.reports.categories:
        raise BadInput("error.stale_button")
    pending = await _flow(context, user.id)
    await _save_flow(context, user.id, {**pending.payload, "step": "text",
                                        "category": match.group(1)})
    await query.answer()
    await edit(update, context, "report.ask_text",
               category=t(context.lang, f"category.{match.group(1)}"))


async def flow_answer(update: Update, context: LinliContext, pending: PendingInput) -> None:
    """Text (with an optional photo), then optional photo or location, while in the flow."""
    user, message = update.effective_user, update.effective_message
    assert user is not None and message is not None
    linli = context.linli
    payload = dict(pending.payload)
    if payload.get("step") == "category":
        raise BadInput("report.pick_category_first")
    photo = message.photo[-1].file_id if message.photo else None
    if message.location is not None and payload.get("step") == "confirm":
        payload["lat"], payload["lon"] = message.location.latitude, message.location.longitude
    elif photo and payload.get("step") == "confirm" and not message.caption:
        payload["photo"] = photo
    else:
        payload["text"] = linli.reports.check_text(message.text or message.caption,
                                                   photo=bool(photo) or message.text is None)
        payload["photo"] = photo or payload.get("photo")
        payload["step"] = "confirm"
    await _save_flow(context, user.id, payload)
    lang = context.lang
    extras = []
    if payload.get("photo"):
        extras.append(t(lang, "report.has_photo"))
    if payload.get("lat") is not None:
        extras.append(t(lang, "report.has_location"))
    category = t(lang, f"category.{payload['category']}")
    await reply(update, context, "report.confirm", category=category, text=payload["text"],
                extras=" · ".join(extras) or t(lang, "report.no_extras"),
                buttons=[[Button(t(lang, "report.btn_submit"), data="rf:ok"),
                          Button(t(lang, "report.btn_cancel"), data="rf:no")]])


async def flow_submit(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    pending = await _flow(context, user.id)
    p = pending.payload
    if p.get("step") != "confirm":
        raise BadInput("report.flow_expired")
    node_id = await _home_node(context, user.id)
    if node_id is None:
        raise BadInput("org.not_resident")
    await context.linli.pending.clear(user.id, FLOW)
    await query.answer()
    await edit(update, context, "report.submitted")
    await _file(update, context, node_id,
                Draft(p["category"], p["text"], p.get("photo"), p.get("lat"), p.get("lon")),
                p.get("source"))


async def cancel(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    cleared = await context.linli.pending.clear(user.id)
    if update.callback_query is not None:
        await update.callback_query.answer()
        await edit(update, context, "report.cancelled" if cleared else "report.nothing_to_cancel")
    else:
        await reply(update, context, "report.cancelled" if cleared else "report.nothing_to_cancel")


# the one way a resident's report is filed and kept (/report TEXT, plain-text offers, drafts)
file_report, keep_draft = _file, _keep_draft


def register(app: Application) -> None:
    app.add_handler(CommandHandler("report", report))
    # a photo captioned "/report ..." (command handlers do not read captions)
    app.add_handler(MessageHandler(filters.PHOTO & CaptionCommand("report"), report))
    app.add_handler(CommandHandler("cancel", cancel))
    app.add_handler(CallbackQueryHandler(flow_category, pattern=r"^rf:cat:"))
    app.add_handler(CallbackQueryHandler(flow_submit, pattern=r"^rf:ok$"))
    app.add_handler(CallbackQueryHandler(draft_confirmed, pattern=r"^rf:draft$"))
    app.add_handler(CallbackQueryHandler(cancel, pattern=r"^rf:no$"))
    on_answer(FLOW, flow_answer)
