"""Plain words and voice in private chat become report offers; "me too" before filing.

A registered resident's text that answers no question, or a voice message / video note,
is offered as a report (提交 / 改类别 / 不用了); a greeting gets a friendly answer and the
menu instead. 提交 first looks for the same open problem in the building (我也遇到), then
files exactly as /report TEXT does. The draft waits in the database (a pending input),
so a restart loses nothing; its buttons carry the draft's token, so an older offer's
buttons never file a newer draft.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any

from telegram import Message, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.context import LinliContext
from bot.core.errors import BadInput
from bot.core.i18n import Markup, number, t
from bot.core.notifier import Button, Outgoing
from bot.core.speech import transcribe
from bot.reports.plaintext import VOICE_TEXT, greeting, words_of
from bot.reports.reports import Draft, Voice
from bot.services import PendingInput
from handlers.common import edit, is_private, reply, rows
from handlers.inputs import on_answer, on_unanswered
from handlers.menu import keyboard_for
from handlers.reports import file_report, keep_draft, voice_of, voice_payload
from handlers.start import help_sections

OFFER = "report_offer"
OFFER_LIFETIME = timedelta(days=1)
SHOWN_MAX = 300  # characters of the text quoted back in the offer
EXCERPT = 40  # characters of another report shown when it may be the same problem
OFFER_DATA = re.compile(r"^ro:(ok|cat|no|me|new):([0-9a-f]{8})$")
SET_DATA = re.compile(r"^ro:set:([0-9a-f]{8}):([a-z_]{1,20})$")


class _RepliesToVoice(filters.MessageFilter):
    def filter(self, message: Message) -> bool:
        replied = message.reply_to_message
        return bool(replied and (replied.voice or replied.video_note))


# -- what comes in --------------------------------------------------------------------


async def plain_text(update: Update, context: LinliContext) -> None:
    """A private message that answers no question."""
    user, message = update.effective_user, update.effective_message
    assert user is not None and message is not None
    linli = context.linli
    words = message.text or message.caption
    if not words:
        await reply(update, context, "offer.not_understood")
        return
    small_talk = greeting(words)
    if small_talk is not None:
        menu = t(context.lang, "help.short.text", sections=await help_sections(context, user.id))
        await reply(update, context, f"greeting.{small_talk}", menu=Markup(menu),
                    keyboard=await keyboard_for(update, context))
        return
    text = linli.reports.check_text(words)
    photo = message.photo[-1].file_id if message.photo else None
    draft = Draft(linli.reports.guess_category(text), text, photo)
    if await linli.org_repo.resident(user.id) is None:
        if (await linli.org.roles(user.id)).leader:
            # a leader living elsewhere: stray words are a missed answer, not a report
            await reply(update, context, "start.not_understood")
            return
        await keep_draft(update, context, draft)  # offered again after /join
        return
    await _offer(context, user.id, {"text": text, "category": draft.category, "photo": photo,
                                    "voice": None, "source": user.id})


async def voice_message(update: Update, context: LinliContext) -> None:
    """A voice or video note in private, or a group's `/report` in reply to one's own voice."""
    user, chat, message = update.effective_user, update.effective_chat, update.effective_message
    assert user is not None and chat is not None and message is not None
    linli = context.linli
    spoken = message if is_private(update) else message.reply_to_message
    assert spoken is not None
    if not is_private(update) and (spoken.from_user is None or spoken.from_user.id != user.id):
        raise BadInput("voice.reply_to_own")
    media = spoken.voice or spoken.video_note
    assert media is not None
    kind = "voice" if spoken.voice else "video_note"
    length = media.duration  # a timedelta in PTB 22 (seconds in older releases)
    duration = round(length.total_seconds() if isinstance(length, timedelta) else length or 0)

    async def audio() -> bytes:
        file = await context.bot.get_file(media.file_id)
        return bytes(await file.download_as_bytearray())

    transcript = await transcribe(linli.speech, audio, kind=kind, duration=duration,
                                  timeout=linli.settings.speech.timeout.total_seconds())
    voice = Voice(media.file_id, duration, kind, transcript)
    category = linli.reports.guess_category(transcript or "")
    if await linli.org_repo.resident(user.id) is None:
        await keep_draft(update, context, Draft(category, VOICE_TEXT, voice=voice))
        return
    fallback = None if is_private(update) else Outgoing(chat.id, t(context.lang,
                                                                   "voice.open_private"))
    await _offer(context, user.id, {"text": VOICE_TEXT, "category": category, "photo": None,
                                    "voice": voice_payload(voice), "source": chat.id},
                 fallback=fallback)


async def offer_answered(update: Update, context: LinliContext, pending: PendingInput) -> bool:
    """Words typed while a voice offer waits are added to it; anything else is new."""
    message = update.effective_message
    assert message is not None
    p = pending.payload
    if not p.get("voice") or p["text"] != VOICE_TEXT or not message.text:
        return False
    if greeting(message.text) is not None:
        return False
    linli = context.linli
    text = linli.reports.check_text(message.text)
    voice = voice_of(p["voice"])
    assert voice is not None
    category = linli.reports.guess_category(" ".join(filter(None, [text, voice.transcript])))
    await _offer(context, pending.user_id, {**p, "text": text, "category": category})
    return True


# -- the offer ------------------------------------------------------------------------


def _offer_text(lang: str, p: dict[str, Any]) -> str:
    category = t(lang, f"category.{p['category']}")
    voice = voice_of(p.get("voice"))
    if voice is None:
        shown = p["text"] if len(p["text"]) <= SHOWN_MAX else p["text"][:SHOWN_MAX] + "…"
        return t(lang, "offer.ask", text=shown, category=category)
    heard = Markup(t(lang, "offer.transcript", transcript=voice.transcript)
                   if voice.transcript else "")
    words = "" if p["text"] == VOICE_TEXT else p["text"]
    if words:
        return t(lang, "offer.ask_voice_words", seconds=voice.duration, text=words[:SHOWN_MAX],
                 category=category, transcript=heard)
    return t(lang, f"offer.ask_{voice.kind}", seconds=voice.duration, category=category,
             transcript=heard)


def _offer_buttons(lang: str, token: str) -> list[list[Button]]:
    return [[Button(t(lang, "offer.btn_submit"), data=f"ro:ok:{token}"),
             Button(t(lang, "offer.btn_category"), data=f"ro:cat:{token}"),
             Button(t(lang, "offer.btn_no"), data=f"ro:no:{token}")]]


async def _save(context: LinliContext, user_id: int, payload: dict[str, Any]) -> None:
    linli = context.linli
    now = linli.clock.now()
    await linli.pending.expect(user_id, user_id, OFFER, payload, now + OFFER_LIFETIME, now)


async def _offer(context: LinliContext, user_id: int, payload: dict[str, Any], *,
                 fallback: Outgoing | None = None) -> None:
    """Keep the draft (a newer one replaces it) and ask whether to file it."""
    token = secrets.token_hex(4)
    payload = {**payload, "token": token}
    await _save(context, user_id, payload)
    lang = context.lang
    await context.linli.notifier.send(Outgoing(
        user_id, _offer_text(lang, payload), buttons=_offer_buttons(lang, token),
        fallback=fallback))


async def _pending_offer(context: LinliContext, user_id: int, token: str) -> dict[str, Any]:
    linli = context.linli
    pending = await linli.pending.get(user_id, OFFER, linli.clock.now())
    if pending is None or pending.payload.get("token") != token:
        raise BadInput("offer.gone")
    return pending.payload


async def offer_pressed(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    match = OFFER_DATA.match(query.data)
    if match is None:
        raise BadInput("error.stale_button")
    action, token = match.groups()
    linli, lang = context.linli, context.lang
    p = await _pending_offer(context, user.id, token)
    if action == "no":
        await linli.pending.clear(user.id, OFFER)
        await query.answer()
        await edit(update, context, "offer.dropped")
        return
    if action == "cat":
        choices = [Button(t(lang, f"category.{c}"), data=f"ro:set:{token}:{c}")
                   for c in linli.settings.reports.categories]
        await query.answer()
        await edit(update, context, "offer.pick_category", buttons=rows(choices, per_row=2))
        return
    resident = await linli.org_repo.resident(user.id)
    if resident is None:
        raise BadInput("org.not_resident")
    if action == "me":
        report = await linli.same_problems.support(user.id, resident.node_id, int(p["match"]))
        await linli.pending.clear(user.id, OFFER)
        await query.answer()
        await edit(update, context, "metoo.joined", number=number(report.id))
        return
    if action == "ok":
        words = words_of_draft(p)
        same = await linli.same_problems.same_problem(user.id, resident.node_id, p["category"],
                                                      words) if words else None
        if same is not None:
            await _save(context, user.id, {**p, "match": same.report.id})
            await query.answer()
            excerpt = words_of(same.report)[:EXCERPT] or VOICE_TEXT
            await edit(update, context, "metoo.ask", number=number(same.report.id),
                       category=t(lang, f"category.{same.report.category}"), excerpt=excerpt,
                       buttons=[[Button(t(lang, "metoo.btn_same"), data=f"ro:me:{token}")],
                                [Button(t(lang, "metoo.btn_different"),
                                        data=f"ro:new:{token}")]])
            return
    await linli.pending.clear(user.id, OFFER)
    await query.answer()
    await edit(update, context, "report.submitted")
    draft = Draft(p["category"], p["text"], p.get("photo"), voice=voice_of(p.get("voice")))
    await file_report(update, context, resident.node_id, draft, p.get("source"))


def words_of_draft(p: dict[str, Any]) -> str:
    """What the draft says, for comparing: its words and the transcript of its voice."""
    voice = voice_of(p.get("voice"))
    return " ".join(filter(None, [p["text"].replace(VOICE_TEXT, "").strip(),
                                  voice.transcript if voice else None]))


async def category_set(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    match = SET_DATA.match(query.data)
    if match is None or match.group(2) not in context.linli.settings.reports.categories:
        raise BadInput("error.stale_button")
    token, category = match.groups()
    p = {**await _pending_offer(context, user.id, token), "category": category}
    p.pop("match", None)
    await _save(context, user.id, p)
    await query.answer()
    message = update.effective_message
    assert message is not None
    await context.linli.notifier.send(Outgoing(
        message.chat_id, _offer_text(context.lang, p), buttons=_offer_buttons(context.lang, token),
        method="edit_text", message_id=message.message_id))


def register(app: Application) -> None:
    # before /report: a caption-less /report replying to a voice in a group
    app.add_handler(CommandHandler("report", voice_message,
                                   filters=filters.ChatType.GROUPS & _RepliesToVoice()
                                   & filters.Regex(r"^/report(@\w+)?\s*$")))
    app.add_handler(MessageHandler(
        filters.ChatType.PRIVATE & (filters.VOICE | filters.VIDEO_NOTE), voice_message))
    app.add_handler(CallbackQueryHandler(offer_pressed, pattern=r"^ro:(ok|cat|no|me|new):"))
    app.add_handler(CallbackQueryHandler(category_set, pattern=r"^ro:set:"))
    on_answer(OFFER, offer_answered)
    on_unanswered(plain_text)
