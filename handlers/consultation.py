"""/propose, /topics (merge, decline), +1 support, /topicpoll and the votes of its polls."""

from __future__ import annotations

import re
from datetime import timedelta

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, PollAnswerHandler

from bot.consult.consultation import Proposal
from bot.context import LinliContext
from bot.core.errors import BadInput
from bot.core.i18n import Markup, esc, number, t
from bot.core.inputs import button_number, record_number
from bot.core.notifier import Button, Outgoing
from bot.core.timeparse import describe, parse_moment
from bot.services import PendingInput
from handlers.common import edit, is_private, redraw_pressed, reply, reply_private, thread_of
from handlers.inputs import on_answer

DECLINE = "consult_decline"
ANSWER_LIFETIME = timedelta(minutes=30)
TOPIC_DATA = re.compile(r"^cp:(sup|mg|dc):(\d{1,9})$")
MERGE_DATA = re.compile(r"^cp:mt:(\d{1,9}):(\d{1,9})$")
STOP_DATA = re.compile(r"^cp:stop:(\d{1,9})$")
IDS = re.compile(r"^#?\d{1,9}(?:[,，、]#?\d{1,9})*[,，、]?$")


def command_text(update: Update) -> str:
    """The text after the command, kept whole."""
    message = update.effective_message
    assert message is not None
    parts = (message.text or "").split(maxsplit=1)
    return parts[1] if len(parts) > 1 else ""


def support_button(lang: str, proposal: Proposal) -> list[list[Button]]:
    return [[Button(t(lang, "consult.btn_support", count=proposal.supporters),
                    data=f"cp:sup:{proposal.id}")]]


async def propose(update: Update, context: LinliContext) -> None:
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    linli, lang = context.linli, context.lang
    proposal = await linli.consultation.propose(user.id, command_text(update), chat.id)
    key = "consult.proposed" if is_private(update) else "consult.proposed_group"
    await reply(update, context, key, number=number(proposal.id), text=proposal.text,
                buttons=support_button(lang, proposal))


async def topics(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    linli, lang = context.linli, context.lang
    found = await linli.consultation.open_topics(user.id)
    if not found:
        await reply(update, context, "consult.no_topics")
        return
    lines, buttons = [], []
    for p in found[:30]:
        names = [await linli.consultation.name_of(uid)
                 for uid in await linli.consultation_repo.supporters(p.id)]
        node = await linli.org_repo.node(p.node_id)
        lines.append(t(lang, "consult.topic_line", number=number(p.id), text=p.text,
                       node=node.name if node else "", count=p.supporters,
                       names="、".join(names[:10])))
        buttons.append([Button(t(lang, "consult.btn_merge", number=number(p.id)),
                               data=f"cp:mg:{p.id}"),
                        Button(t(lang, "consult.btn_decline", number=number(p.id)),
                               data=f"cp:dc:{p.id}")])
    await reply_private(update, context, "consult.topics", count=len(found),
                        lines=Markup("\n".join(lines)), buttons=buttons)


async def topic_pressed(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    match = TOPIC_DATA.match(query.data)
    if match is None:
        raise BadInput("error.stale_button")
    action, proposal_id = match.group(1), button_number(match.group(2))
    linli, lang = context.linli, context.lang
    service = linli.consultation
    if action == "sup":
        proposal, added = await service.support(user.id, proposal_id)
        key = "consult.supported" if added else "consult.already_supported"
        await query.answer(t(lang, key, number=number(proposal.id), count=proposal.supporters))
        if added:  # the count is the same for everyone: redrawn in the group too
            await redraw_pressed(update, context, None, public=True,
                                 buttons=support_button(linli.settings.language, proposal))
        return
    proposal = await service.proposal(proposal_id)
    await service.managed(user.id, proposal.node_id)
    if proposal.state != "open":
        raise BadInput("consult.topic_closed", number=number(proposal.id))
    await query.answer()
    if action == "mg":
        others = [p for p in await service.open_topics(user.id) if p.id != proposal.id]
        if not others:
            raise BadInput("consult.merge_nothing")
        choices = [[Button(esc(f"{number(p.id)} {p.text[:20]}"),
                           data=f"cp:mt:{proposal.id}:{p.id}")] for p in others[:20]]
        await reply(update, context, "consult.pick_merge", number=number(proposal.id),
                    buttons=choices)
        return
    now = linli.clock.now()
    await linli.pending.expect(user.id, user.id, DECLINE, {"topic": proposal.id},
                               now + ANSWER_LIFETIME, now)
    await linli.notifier.send(Outgoing(user.id, t(lang, "consult.ask_decline_reason",
                                                  number=number(proposal.id))))


async def merge_pressed(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    match = MERGE_DATA.match(query.data)
    if match is None:
        raise BadInput("error.stale_button")
    merged = button_number(match.group(1))
    target = await context.linli.consultation.merge(user.id, merged, button_number(match.group(2)))
    await query.answer()
    await edit(update, context, "consult.merged", number=number(merged),
               into=number(target.id), count=target.supporters)


async def decline_answered(update: Update, context: LinliContext, pending: PendingInput) -> None:
    user, message = update.effective_user, update.effective_message
    assert user is not None and message is not None
    linli = context.linli
    proposal = await linli.consultation.decline(user.id, int(pending.payload["topic"]),
                                                message.text or "")
    await linli.pending.clear(user.id, DECLINE)
    await reply(update, context, "consult.declined", number=number(proposal.id))


# -- topic polls ----------------------------------------------------------------------


def parse_poll_args(text: str) -> tuple[list[int], str]:
    """'1,2,3 18:00' or '#1 #2 #3 2h': the proposal numbers, then the closing time."""
    words = text.split()
    ids: list[int] = []
    while words and IDS.match(words[0]):
        for part in filter(None, re.split(r"[,，、]", words.pop(0))):
            wanted = record_number(part)
            if wanted is None:
                raise BadInput("consult.topicpoll_usage")
            ids.append(wanted)
    if not words:
        raise BadInput("consult.topicpoll_usage")
    return ids, " ".join(words)


async def topicpoll(update: Update, context: LinliContext) -> None:
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    linli = context.linli
    await linli.consultation.require_leader(user.id)
    ids, when = parse_poll_args(command_text(update))
    target, thread = chat.id, thread_of(update)
    if is_private(update):  # the group: named by its node's key, or the only one in scope
        words = when.split()
        key = None
        if len(words) > 1 and re.fullmatch(r"[a-z0-9-]{1,32}", words[-1].lower()) and (
                await linli.org_repo.node_by_key(words[-1].lower())):
            key, when = words[-1], " ".join(words[:-1])
        target, thread = await linli.consultation.chat_in_scope(user.id, key), None
    closes_at = parse_moment(when, linli.clock.now(), linli.settings.tz)
    poll = await linli.consultation.open_poll(user.id, target, thread, ids, closes_at)
    await linli.notifier.send(Outgoing(
        user.id, t(context.lang, "consult.poll_opened", poll=number(poll.id),
                   at=describe(poll.closes_at, linli.clock.now(), linli.settings.tz,
                               context.lang)),
        buttons=[[Button(t(context.lang, "consult.btn_stop_poll"), data=f"cp:stop:{poll.id}")]],
        fallback=Outgoing(poll.chat_id, t(context.lang, "consult.poll_opened_group",
                                          poll=number(poll.id)), thread_id=poll.thread_id)))


async def stop_pressed(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    match = STOP_DATA.match(query.data)
    if match is None:
        raise BadInput("error.stale_button")
    poll = await context.linli.consultation.stop_poll(user.id, button_number(match.group(1)))
    await query.answer()
    await edit(update, context, "consult.poll_stopped", poll=number(poll.id))


async def poll_answer(update: Update, context: LinliContext) -> None:
    answer = update.poll_answer
    if answer is None or answer.user is None:
        return  # a vote on behalf of a chat: not a resident
    await context.linli.consultation.vote(answer.user.id, answer.poll_id,
                                          list(answer.option_ids))


def register(app: Application) -> None:
    app.add_handler(CommandHandler("propose", propose))
    app.add_handler(CommandHandler("topics", topics))
    app.add_handler(CommandHandler("topicpoll", topicpoll))
    app.add_handler(CallbackQueryHandler(topic_pressed, pattern=r"^cp:(sup|mg|dc):"))
    app.add_handler(CallbackQueryHandler(merge_pressed, pattern=r"^cp:mt:"))
    app.add_handler(CallbackQueryHandler(stop_pressed, pattern=r"^cp:stop:"))
    app.add_handler(PollAnswerHandler(poll_answer))
    on_answer(DECLINE, decline_answered)
