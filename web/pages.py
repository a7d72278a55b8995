"""The dashboard's pages: the overview, reports, leaders, care, follow-ups, events, the org.

Every figure comes from the same StatsService as /stats and the monthly report; every
action goes through the same ReportService, with the same permission checks, as in chat.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from markupsafe import Markup as Safe

from bot.assess.stats import Assessment, Period, month_period, parse_period, period_name
from bot.core.errors import BadInput, NotAllowed, NotFound
from bot.core.i18n import number, t
from bot.core.workcal import calendar_span
from bot.org.org import Node
from bot.reports.reports import Report, StaleAction
from storage.web import ReportFilter
from web.charts import trend_png
from web.exports import Column, Table, to_csv, to_xlsx
from web.server import DASHBOARD, LANG, SESSION

STATIC = Path(__file__).parent / "static"
STATES = ("open", "acknowledged", "resolved", "reopened", "closed")
RATES = ("response_rate", "resolution_rate", "satisfaction_rate", "grid_rate",
         "community_rate", "care_rate")
OVERVIEW = ("received", *RATES[:5], "overdue", "care_rate")


def routes(app: web.Application) -> None:
    app.router.add_get("/", overview)
    app.router.add_get("/trend.png", trend)
    app.router.add_get("/reports", reports)
    app.router.add_get("/reports/{id}", report_page)
    app.router.add_get("/reports/{id}/photo", report_photo)
    app.router.add_get("/reports/{id}/voice", report_voice)
    app.router.add_post("/reports/{id}/{action}", report_action)
    app.router.add_get("/leaders", leaders)
    app.router.add_get("/care", care)
    app.router.add_get("/followups", followups)
    app.router.add_get("/events", events)
    app.router.add_get("/org", org_tree)


def _dash(request: web.Request) -> Any:
    return request.app[DASHBOARD]


async def _scope(request: web.Request) -> list[Node]:
    """The nodes this user may see: the same rule as /stats (leaders, admins; not residents)."""
    dash = _dash(request)
    try:
        return await dash.linli.stats.scope_of(request[SESSION].user_id)
    except NotAllowed:
        raise web.HTTPForbidden(text=t(request[LANG], "web.refused.not_leader")) from None


async def _subtree_ids(request: web.Request, scope: list[Node]) -> set[int]:
    org = _dash(request).linli.org_repo
    ids: set[int] = set()
    for top in scope:
        ids |= {n.id for n in await org.subtree(top.id)}
    return ids


# -- periods ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Periods:
    current: Period
    previous: Period
    param: str


def _span(start: datetime, end: datetime) -> Period:
    """A period of whole local days, labelled as its first and last day."""
    last = (end - timedelta(days=1)).date()
    return Period(f"{start.date().isoformat()}~{last.isoformat()}", start, end)


def _periods(request: web.Request) -> Periods:
    linli = _dash(request).linli
    now, tz = linli.clock.now(), linli.settings.tz
    first, last = request.query.get("from"), request.query.get("to")
    if first and last:
        try:
            start = datetime.fromisoformat(first).replace(tzinfo=tz)
            end = datetime.fromisoformat(last).replace(tzinfo=tz) + timedelta(days=1)
        except ValueError:
            raise web.HTTPBadRequest(text=t(request[LANG], "web.bad_period")) from None
        if not end > start or (end - start).days > 3660:
            raise web.HTTPBadRequest(text=t(request[LANG], "web.bad_period"))
        return Periods(_span(start, end), _span(start - (end - start), start),
                       f"from={first}&to={last}")
    text = request.query.get("period", "month")
    try:
        current = parse_period(linli.settings, text, now)
    except BadInput:
        raise web.HTTPBadRequest(text=t(request[LANG], "web.bad_period")) from None
    if "~" in current.label:  # a week: the seven days before
        previous = _span(current.start - (current.end - current.start), current.start)
    else:
        local = current.start.astimezone(tz)
        year, month = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
        previous = month_period(linli.settings, year, month)
    return Periods(current, previous, f"period={text}")


def _rate_change(now: float | None, before: float | None, lang: str) -> str:
    if now is None or before is None:
        return "—"
    return t(lang, "web.overview.points", value=f"{(now - before) * 100:+.1f}")


def _value(a: Assessment, key: str) -> float | int | None:
    return {"received": a.received, "overdue": a.overdue}.get(key, getattr(a, key, None))


async def overview(request: web.Request) -> web.StreamResponse:
    dash, lang = _dash(request), request[LANG]
    scope = await _scope(request)
    periods = _periods(request)
    now = dash.linli.clock.now()
    current, previous = await asyncio.gather(
        dash.linli.stats.compute(scope, periods.current, now, leaders=False),
        dash.linli.stats.compute(scope, periods.previous, now, leaders=False))
    cards = []
    for key in OVERVIEW:
        value, before = _value(current, key), _value(previous, key)
        is_rate = key in RATES
        cards.append({
            "key": key, "label": t(lang, f"stats.label.{key}"),
            "value": _show(value, is_rate), "before": _show(before, is_rate),
            "change": _rate_change(value, before, lang) if is_rate
            else _count_change(value, before),
        })
    if request.query.get("format") in ("xlsx", "csv"):
        table = Table(t(lang, "web.overview.sheet"), [
            Column(t(lang, "web.col.metric")), Column(period_name(periods.current, lang), "figure"),
            Column(period_name(periods.previous, lang), "figure")],
            [[t(lang, f"stats.label.{k}"), _value(current, k), _value(previous, k)]
             for k in OVERVIEW])
        return _export(request, table, "overview")
    return dash.render(
        request, "overview.html", cards=cards, scope=scope,
        period=period_name(periods.current, lang), previous=period_name(periods.previous, lang),
        query=periods.param, month=periods.current.start.astimezone(
            dash.linli.settings.tz).strftime("%Y-%m"))


def _show(value: float | int | None, is_rate: bool) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.1f}%" if is_rate else str(value)


def _count_change(now: Any, before: Any) -> str:
    if now is None or before is None or now == before:
        return "—"
    return f"{now - before:+d}"


async def trend(request: web.Request) -> web.StreamResponse:
    """The 12 months up to the period's month: received and the three rates."""
    dash, lang = _dash(request), request[LANG]
    scope = await _scope(request)
    linli = dash.linli
    try:
        year, month = (int(x) for x in request.query.get("month", "").split("-"))
        month_period(linli.settings, year, month)
    except ValueError:
        local = linli.clock.now().astimezone(linli.settings.tz)
        year, month = local.year, local.month
    months = []
    for back in range(11, -1, -1):
        index = year * 12 + month - 1 - back
        months.append(month_period(linli.settings, index // 12, index % 12 + 1))
    figures = await linli.stats.rates(scope, months)
    png = await asyncio.to_thread(trend_png, figures, lang,
                                  t(lang, "web.overview.trend_title",
                                    scope="、".join(n.name for n in scope)))
    return web.Response(body=png, content_type="image/png")


# -- reports ----------------------------------------------------------------------------

def _report_filter(request: web.Request, scope_ids: set[int],
                   nodes: dict[int, Node]) -> ReportFilter:
    q, linli = request.query, _dash(request).linli
    ids = scope_ids
    if q.get("node"):
        chosen = next((n for n in nodes.values() if n.key == q["node"]), None)
        if chosen is None or chosen.id not in scope_ids:
            raise web.HTTPForbidden(text=t(request[LANG], "web.refused.not_yours"))
        ids = {n.id for n in nodes.values() if _under(nodes, n, chosen.id)}
    older = None
    if q.get("age", "").isdecimal() and len(q["age"]) <= 4:
        older = linli.clock.now() - timedelta(days=int(q["age"]))
    category = q.get("category") if q.get("category") in linli.settings.reports.categories \
        else None
    state = q.get("state") if q.get("state") in STATES else None
    text = (q.get("q") or "").strip()[:100] or None
    return ReportFilter(sorted(ids), category, state, q.get("overdue") == "1", older, text)


def _under(nodes: dict[int, Node], node: Node, top_id: int) -> bool:
    current: Node | None = node
    while current is not None:
        if current.id == top_id:
            return True
        current = nodes.get(current.parent_id) if current.parent_id else None
    return False


async def reports(request: web.Request) -> web.StreamResponse:
    dash, lang = _dash(request), request[LANG]
    linli = dash.linli
    scope = await _scope(request)
    scope_ids = await _subtree_ids(request, scope)
    nodes = {n.id: n for n in await linli.org_repo.all_nodes()}
    found = await dash.repo.reports(_report_filter(request, scope_ids, nodes))
    tz = linli.settings.tz
    rows = [[number(r.id), nodes[r.node_id].name, t(lang, f"category.{r.category}"),
             t(lang, f"state.{r.state}"), r.created_at.astimezone(tz), nodes[r.rung_node_id].name,
             r.text] for r in found]
    if request.query.get("format") in ("xlsx", "csv"):
        table = Table(t(lang, "web.reports.sheet"), [
            Column(t(lang, "web.col.number")), Column(t(lang, "web.col.node")),
            Column(t(lang, "web.col.category")), Column(t(lang, "web.col.state")),
            Column(t(lang, "web.col.filed"), "datetime"), Column(t(lang, "web.col.at_level")),
            Column(t(lang, "web.col.text"))], rows)
        return _export(request, table, "reports")
    in_scope = sorted((n for n in nodes.values() if n.id in scope_ids),
                      key=lambda n: (linli.settings.level_keys.index(n.level), n.key))
    query = "&".join(f"{k}={v}" for k, v in request.query.items() if k != "format")
    return dash.render(request, "reports.html", reports=found, rows=rows, ids=[r.id for r in found],
                       nodes=in_scope, categories=linli.settings.reports.categories,
                       states=STATES, q=request.query, query=query)


async def _visible_report(request: web.Request) -> Report:
    dash = _dash(request)
    scope = await _scope(request)
    raw = request.match_info["id"]
    if not raw.isdecimal() or len(raw) > 9:
        raise web.HTTPNotFound(text=t(request[LANG], "web.refused.not_found"))
    try:
        report = await dash.linli.reports.get(int(raw))
    except NotFound:
        raise web.HTTPNotFound(text=t(request[LANG], "web.refused.not_found")) from None
    if report.node_id not in await _subtree_ids(request, scope):
        raise web.HTTPForbidden(text=t(request[LANG], "web.refused.not_yours"))
    return report


async def report_page(request: web.Request) -> web.StreamResponse:
    dash, lang = _dash(request), request[LANG]
    linli = dash.linli
    report = await _visible_report(request)
    user_id = request[SESSION].user_id
    card = await linli.report_notices.describe(report, lang)
    history = []
    for event in await linli.report_repo.events(report.id):
        who = await linli.report_notices.person(event.actor_id) if event.actor_id else \
            t(lang, "web.report.system")
        node = await linli.org_repo.node(event.node_id) if event.node_id else None
        history.append({"at": event.at.astimezone(linli.settings.tz).strftime("%Y-%m-%d %H:%M"),
                        "who": who, "action": t(lang, f"action.{event.action}")
                        if _has(f"action.{event.action}") else event.action,
                        "node": node.name if node else "",
                        # the catalog escaped what the note holds: safe HTML already
                        "note": Safe(linli.report_notices.event_note(lang, event.note))})
    may_act = await linli.reports.may_handle(user_id, report) and report.active
    map_link = None
    if report.latitude is not None and report.longitude is not None:
        map_link = (f"https://www.openstreetmap.org/?mlat={report.latitude}"
                    f"&mlon={report.longitude}#map=18/{report.latitude}/{report.longitude}")
    return dash.render(request, "report.html", report=report, number=number(report.id),
                       card=card.replace("\n", "<br>"), history=history, may_act=may_act,
                       can_escalate=may_act and await linli.reports.can_escalate(report),
                       targets=await linli.reports.reassign_targets(user_id, report)
                       if may_act else [], map_link=map_link, done=request.query.get("done"))


def _has(key: str) -> bool:
    from bot.core.i18n import CATALOG

    return CATALOG.has(key)


async def report_photo(request: web.Request) -> web.StreamResponse:
    report = await _visible_report(request)
    if not report.photo_file_id:
        raise web.HTTPNotFound()
    file = await _dash(request).bot.get_file(report.photo_file_id)
    data = await file.download_as_bytearray()
    return web.Response(body=bytes(data), content_type="image/jpeg")


async def report_voice(request: web.Request) -> web.StreamResponse:
    """The resident's voice message (OGG/Opus) or video note (MP4), for the page's player."""
    report = await _visible_report(request)
    if not report.voice_file_id:
        raise web.HTTPNotFound()
    file = await _dash(request).bot.get_file(report.voice_file_id)
    data = await file.download_as_bytearray()
    kind = "video/mp4" if report.voice_kind == "video_note" else "audio/ogg"
    return web.Response(body=bytes(data), content_type=kind)


async def report_action(request: web.Request) -> web.StreamResponse:
    dash, lang = _dash(request), request[LANG]
    linli = dash.linli
    report = await _visible_report(request)
    form = await request.post()
    user_id, action = request[SESSION].user_id, request.match_info["action"]
    note = str(form.get("note", "")).strip()
    version = int(str(form.get("version", "0"))) if str(form.get("version", "")).isdecimal() \
        else None
    try:
        if action == "acknowledge":
            await linli.reports.acknowledge(user_id, report.id, version)
        elif action == "resolve":
            await linli.reports.resolve(user_id, report.id, version, _note(note, lang))
        elif action == "escalate":
            await linli.reports.escalate(user_id, report.id, version, _note(note, lang))
        elif action == "reassign" and str(form.get("target", "")).isdecimal():
            await linli.reports.reassign(user_id, report.id, version, int(str(form["target"])))
        else:
            raise web.HTTPNotFound()
    except StaleAction:
        raise web.HTTPSeeOther(f"/reports/{report.id}?done=stale") from None
    except (BadInput, NotAllowed) as refused:
        return dash.render(request, "refused.html", status=403, reason="action",
                           message=t(lang, refused.key, **refused.params))
    linli.notifier.kick()
    raise web.HTTPSeeOther(f"/reports/{report.id}?done={action}")


def _note(note: str, lang: str) -> str:
    if not note:
        raise BadInput("web.report.note_needed")
    return note


# -- leaders and the org ------------------------------------------------------------------

async def leaders(request: web.Request) -> web.StreamResponse:
    dash, lang = _dash(request), request[LANG]
    scope = await _scope(request)
    periods = _periods(request)
    a = await dash.linli.stats.compute(scope, periods.current, dash.linli.clock.now())
    level = request.query.get("level")
    lines = [ln for ln in a.leaders if not level or ln.node.level == level]

    rows = [[ln.name, ln.node.name, level_name(dash.linli.settings, ln.node.level, lang),
             ln.reached, ln.missed, ln.on_time_rate, ln.resolution_rate,
             ln.satisfaction_rate,
             ln.median_response.total_seconds() / 3600 if ln.median_response else None]
            for ln in lines]
    # like a monthly 排名: on time first, then resolved, then satisfied
    rows.sort(key=lambda r: (-(r[5] or 0), -(r[6] or 0), -(r[7] or 0), r[0]))
    table = Table(t(lang, "web.leaders.sheet"), [
        Column(t(lang, "web.col.leader")), Column(t(lang, "web.col.node")),
        Column(t(lang, "web.col.level")), Column(t(lang, "web.col.handled"), "int"),
        Column(t(lang, "stats.label.missed"), "int"),
        Column(t(lang, "stats.label.response_rate"), "percent"),
        Column(t(lang, "stats.label.resolution_rate"), "percent"),
        Column(t(lang, "stats.label.satisfaction_rate"), "percent"),
        Column(t(lang, "web.col.median_response"), "hours")], rows)
    if request.query.get("format") in ("xlsx", "csv"):
        return _export(request, table, "leaders")
    levels = [(lv.key, level_name(dash.linli.settings, lv.key, lang))
              for lv in dash.linli.settings.levels]
    return dash.render(request, "leaders.html", table=table, rows=rows,
                       period=period_name(periods.current, lang), query=periods.param,
                       levels=levels, level=level)


async def care(request: web.Request) -> web.StreamResponse:
    """Visits due and overdue: the scope is the leader's chain, so nobody else sees them."""
    dash, lang = _dash(request), request[LANG]
    linli = dash.linli
    scope_ids = await _subtree_ids(request, await _scope(request))
    nodes = {n.id: n for n in await linli.org_repo.all_nodes()}
    now, grace = linli.clock.now(), calendar_span(linli.settings.services.care_overdue)
    rows = []
    for visit in await dash.repo.due_visits(sorted(scope_ids)):
        resident = await linli.org_repo.resident(visit.user_id)
        user = await linli.users.get(visit.user_id)
        rows.append([user.display_name if user else str(visit.user_id),
                     nodes[visit.node_id].name, resident.unit if resident else None,
                     t(lang, f"care.kind.{visit.kind}"), visit.due_at.astimezone(
                         linli.settings.tz),
                     t(lang, "web.care.overdue" if visit.due_at + grace < now
                       else "web.care.due"), nodes[visit.rung_node_id].name])
    table = Table(t(lang, "web.care.sheet"), [
        Column(t(lang, "web.col.resident")), Column(t(lang, "web.col.node")),
        Column(t(lang, "web.col.unit")), Column(t(lang, "web.col.kind")),
        Column(t(lang, "web.col.due"), "datetime"), Column(t(lang, "web.col.state")),
        Column(t(lang, "web.col.at_level"))], rows)
    if request.query.get("format") in ("xlsx", "csv"):
        return _export(request, table, "care")
    return dash.render(request, "table.html", heading=t(lang, "web.care.title"), table=table,
                       empty=t(lang, "web.care.none"), export="/care")


async def followups(request: web.Request) -> web.StreamResponse:
    dash, lang = _dash(request), request[LANG]
    linli = dash.linli
    scope_ids = await _subtree_ids(request, await _scope(request))
    rows = []
    for d in await dash.repo.decisions(sorted(scope_ids)):
        state = "done" if d.state == "done" else ("overdue" if d.overdue or
                                                  d.due_at < linli.clock.now() else "open")
        rows.append([number(d.decision_id), d.meeting_title, d.text,
                     await linli.report_notices.person(d.owner_id),
                     d.due_at.astimezone(linli.settings.tz), t(lang, f"web.followup.{state}")])
    table = Table(t(lang, "web.followup.sheet"), [
        Column(t(lang, "web.col.number")), Column(t(lang, "web.col.meeting")),
        Column(t(lang, "web.col.decision")), Column(t(lang, "web.col.owner")),
        Column(t(lang, "web.col.due"), "datetime"), Column(t(lang, "web.col.state"))], rows)
    if request.query.get("format") in ("xlsx", "csv"):
        return _export(request, table, "followups")
    return dash.render(request, "table.html", heading=t(lang, "web.followup.title"),
                       table=table, empty=t(lang, "web.followup.none"), export="/followups")


async def events(request: web.Request) -> web.StreamResponse:
    dash, lang = _dash(request), request[LANG]
    linli = dash.linli
    scope_ids = await _subtree_ids(request, await _scope(request))
    nodes = {n.id: n for n in await linli.org_repo.all_nodes()}
    repo = linli.events.repo
    rows = []
    for event in await repo.upcoming(sorted(scope_ids), linli.clock.now(), limit=100):
        counts = await repo.counts(event.id)
        rows.append([number(event.id), event.title, event.starts_at.astimezone(linli.settings.tz),
                     event.place, nodes[event.node_id].name, counts.going, counts.maybe,
                     counts.no, counts.waiting, event.capacity])
    table = Table(t(lang, "web.events.sheet"), [
        Column(t(lang, "web.col.number")), Column(t(lang, "web.col.title")),
        Column(t(lang, "web.col.starts"), "datetime"), Column(t(lang, "web.col.place")),
        Column(t(lang, "web.col.node")), Column(t(lang, "web.col.going"), "int"),
        Column(t(lang, "web.col.maybe"), "int"), Column(t(lang, "web.col.not_going"), "int"),
        Column(t(lang, "web.col.waiting"), "int"), Column(t(lang, "web.col.capacity"), "int")],
        rows)
    if request.query.get("format") in ("xlsx", "csv"):
        return _export(request, table, "events")
    return dash.render(request, "table.html", heading=t(lang, "web.events.title"), table=table,
                       empty=t(lang, "web.events.none"), export="/events")


def level_name(settings: Any, key: str, lang: str) -> str:
    try:
        level = settings.level(key)
    except KeyError:
        return key
    return level.name_zh if lang == "zh" else level.name_en


async def org_tree(request: web.Request) -> web.StreamResponse:
    dash, lang = _dash(request), request[LANG]
    linli = dash.linli
    scope = await _scope(request)
    chats = await linli.org_repo.chats_by_node()
    counts = await linli.org_repo.resident_counts()
    entries = []
    for top in scope:
        for node in await linli.org_repo.subtree(top.id):
            depth = len(await linli.org_repo.ancestors(node.id)) - len(
                await linli.org_repo.ancestors(top.id))
            leaders_here = await linli.org_repo.leaders_of(node.id)
            entries.append({"node": node, "depth": min(depth, 5),
                            "level": level_name(linli.settings, node.level, lang),
                            "leaders": [ld.name or str(ld.user_id) for ld in leaders_here],
                            "chats": [c.title or str(c.chat_id) for c in chats.get(node.id, [])],
                            "residents": counts.get(node.id, 0)})
    return dash.render(request, "org.html", entries=entries)


def _export(request: web.Request, table: Table, name: str) -> web.Response:
    if request.query.get("format") == "xlsx":
        body = to_xlsx(table)
        kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        body, kind = to_csv(table), "text/csv"
    stamp = _dash(request).linli.clock.now().astimezone(
        _dash(request).linli.settings.tz).strftime("%Y%m%d")
    extension = request.query["format"]
    response = web.Response(body=body, content_type=kind)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="linli-{name}-{stamp}.{extension}"')
    return response
