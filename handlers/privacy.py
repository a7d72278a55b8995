"""Personal information: the notice and 同意 before /join registers anyone, /mydata,
/forget, and /unit (a leader corrects a resident's unit)."""

from __future__ import annotations

import re

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.context import LinliContext
from bot.core.errors import BadInput, NotAllowed, NotFound
from bot.core.i18n import t
from bot.core.inputs import button_number, person_id
from bot.core.notifier import Button, Outgoing
from bot.org.org import Node
from bot.org.privacy import EXPORT_REF
from handlers.common import args, edit, is_private, reply, tell_user

CONSENT_DATA = re.compile(r"^pv:(ok|no):(\d{1,9}):(\d{1,15})$")
FORGET_DATA = re.compile(r"^pv:fg:(yes|no)$")


# -- consent before registering ---------------------------------------------------------


async def consent_first(update: Update, context: LinliContext, node: Node) -> bool:
    """True when the user already agreed to the notice; else the notice is shown with
    同意 / 不同意 and nothing is stored until 同意 is pressed (which registers at ``node``)."""
    user = update.effective_user
    assert user is not None
    linli = context.linli
    if await linli.privacy.consented(user.id):
        return True
    key = f"{node.id}:{user.id}"
    await linli.notifier.send(Outgoing(
        update.effective_chat.id if update.effective_chat else user.id,
        linli.privacy.notice(context.lang),
        buttons=[[Button(t(context.lang, "privacy.btn_agree"), data=f"pv:ok:{key}"),
                  Button(t(context.lang, "privacy.btn_decline"), data=f"pv:no:{key}")]]))
    return False


async def consent_pressed(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    match = CONSENT_DATA.match(query.data)
    if match is None:
        raise BadInput("error.stale_button")
    answer = match.group(1)
    node_id, asked = button_number(match.group(2)), button_number(match.group(3))
    if asked != user.id:  # in a group, only the resident who asked may answer
        raise NotAllowed("privacy.not_yours")
    linli = context.linli
    node = await linli.org_repo.node(node_id)
    if node is None:
        raise BadInput("error.stale_button")
    await query.answer()
    if answer == "no":
        await edit(update, context, "privacy.declined", public=True)  # nothing personal
        return
    await linli.privacy.agree(user.id)
    await edit(update, context, "privacy.agreed", public=True)
    from handlers.org import register_at  # /join's registration, once agreed

    await register_at(update, context, node)


# -- /mydata and /forget ----------------------------------------------------------------


async def my_data(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    if not is_private(update):
        await reply(update, context, "privacy.mydata_private")
        return
    linli = context.linli
    await linli.notifier.send(Outgoing(
        user.id, t(context.lang, "privacy.mydata_caption"), method="send_document",
        document=await linli.privacy.export(user.id), filename="linli-mydata.json",
        ref=f"{EXPORT_REF}{user.id}"))


async def forget(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    if not is_private(update):
        await reply(update, context, "privacy.forget_private")
        return
    if await context.linli.org_repo.led_nodes(user.id):
        raise NotAllowed("privacy.forget_leader")
    lang = context.lang
    await reply(update, context, "privacy.forget_confirm", buttons=[[
        Button(t(lang, "privacy.btn_forget_yes"), data="pv:fg:yes"),
        Button(t(lang, "privacy.btn_forget_no"), data="pv:fg:no")]])


async def forget_pressed(update: Update, context: LinliContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    match = FORGET_DATA.match(query.data)
    if match is None or not is_private(update):
        raise BadInput("error.stale_button")
    await query.answer()
    if match.group(1) == "no":
        await edit(update, context, "privacy.forget_cancelled")
        return
    linli = context.linli
    reports = await linli.privacy.forget(user.id)
    await linli.reports.refresh(reports)  # the leaders' prompts show the anonymous version
    await edit(update, context, "privacy.forgotten")


# -- /unit: a leader corrects a resident's unit --------------------------------------------


async def _resident(context: LinliContext, by: int, ref: str) -> int:
    """The resident as leaders name them elsewhere: number, @username, or registered name
    within the leader's area (everywhere for an admin)."""
    linli = context.linli
    if (typed := person_id(ref)) is not None:
        return typed
    if ref.startswith("@"):
        found = await linli.care.repo.user_by_username(ref.lstrip("@"))
        if found is None:
            raise NotFound("privacy.unit_no_such_name", who=ref)
        return found
    roles = await linli.org.roles(by)
    if not roles.leader and not roles.admin:
        raise NotAllowed("privacy.unit_not_allowed")
    scope = (await linli.care.scope_ids(by) if roles.leader
             else [n.id for n in await linli.org_repo.all_nodes()])
    named = await linli.org_repo.residents_named(scope, ref)
    if len(named) > 1:
        raise BadInput("privacy.unit_name_ambiguous", who=ref,
                       units="、".join(r.unit or "—" for r in named))
    if not named:
        raise NotFound("privacy.unit_no_such_name", who=ref)
    return named[0].user_id


async def fix_unit(update: Update, context: LinliContext) -> None:
    user = update.effective_user
    assert user is not None
    given = args(context)
    if len(given) < 2:
        raise BadInput("privacy.unit_usage")
    linli = context.linli
    resident_id = await _resident(context, user.id, given[0])
    resident, node = await linli.org.correct_unit(user.id, resident_id, " ".join(given[1:]))
    person = await linli.users.get(resident.user_id)
    name = resident.name or (person.display_name if person else str(resident.user_id))
    await reply(update, context, "privacy.unit_fixed", name=name, unit=resident.unit or "",
                node=node.name)
    if resident.user_id > 0:  # a resident without Telegram is told by the leader
        await tell_user(context, resident.user_id, "privacy.unit_fixed_notice",
                        leader=await linli.report_notices.person(user.id),
                        unit=resident.unit or "")


def register(app: Application) -> None:
    app.add_handler(CommandHandler("mydata", my_data))
    app.add_handler(CommandHandler("forget", forget))
    app.add_handler(CommandHandler("unit", fix_unit))
    app.add_handler(CallbackQueryHandler(consent_pressed, pattern=r"^pv:(ok|no):"))
    app.add_handler(CallbackQueryHandler(forget_pressed, pattern=r"^pv:fg:"))
