"""Privacy: over a whole scenario, nothing personal reaches a group chat.

Residents report in the group and in private, some never opened a private chat with
the bot, a leader is unreachable, reports climb to the community, get rated and
reopened, people type private commands in the group, and the group is upgraded to a
supergroup; a leader keeps a care list (and types care commands in the group) while
the visits fall due for an unreachable grid leader. Every message the bot sent into
any group is then read, as sent and after every edit of its text, caption or buttons, and
every button format the bot uses is forged onto group messages by the reporter, a leader
and a stranger: no reporter's name, unit number, report text or care-list entry may appear
in any of them.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sandbox.fakegram import FakeTelegram
from tests.consent import agree, care_agreed
from tests.harness import ADMIN, BotHarness
from tests.test_reports_e2e import (
    BUILDING,
    COMMUNITY,
    COMPOUND,
    GRID,
    GROUP,
    NEIGHBOUR,
    ORG,
    PROPERTY,
    RESIDENT,
    _button,
    _prompt,
)

QUIET = -100999  # a second bound group of another building, nobody reports there
NEWCOMER, STRANGER = 3003, 3999  # writes a report before /join; lives nowhere
REPORTER_NAMES = ("张阿姨", "钱大爷", "Zhang", "Qian")
UNITS = ("1-502", "2-301")
CARE = ("腿脚不便", "独居老人", "残疾人", "低收入")  # care notes and kinds: leaders only
TEXTS = ("楼道堆满杂物", "电梯按钮失灵", "邻居深夜装修", "楼下积水严重", "独居老人家里漏水",
         "垃圾桶满了", "路灯坏了", "单元门禁坏了好几天")
ORG_WITH_QUIET = ORG.replace("[[residents]]", f"""[[nodes]]
key = "b4"
name = "4号楼"
level = "building"
parent = "sunshine"
chat_id = {QUIET}

[[residents]]""", 1).replace(f"user_id = {NEIGHBOUR}\nnode = \"b3-u1\"",
                             f"user_id = {NEIGHBOUR}\nnode = \"b3-u1\"\nunit = \"2-301\"")


async def _settle(linli: BotHarness) -> None:
    """Every update handled and every message out."""
    await linli.settle()


def _readable(item: dict[str, Any]) -> str:
    """What a message (or a request for one) shows: text, caption, poll, button labels."""
    parts = [item.get(k) for k in ("text", "caption", "question", "options")]
    poll = item.get("poll") or {}
    parts += [poll.get("question"), poll.get("options")]
    markup = item.get("reply_markup")
    if isinstance(markup, str):
        markup = json.loads(markup)
    for row in (markup or {}).get("inline_keyboard", []):
        parts += [button.get("text") for button in row]
    return " ".join(str(p) for p in parts if p)


def _to_groups(tg: FakeTelegram) -> list[tuple[int, str]]:
    """Everything the bot asked Telegram to show in a group (every send and every edit of
    text, caption or buttons, carried out or refused), and every state each group message
    took: as sent, and after each edit."""
    said = []
    for call in tg.calls:
        chat = call.params.get("chat_id")
        if not call.method.startswith(("send", "edit")) or not isinstance(chat, int) or chat >= 0:
            continue
        said.append((chat, _readable(call.params)))
    said += [(m["chat_id"], _readable(m)) for m in tg.shown() if m["chat_id"] < 0]
    return said


def _forged_data(report_id: int, version: int, node_id: int, user_id: int,
                 elsewhere: int) -> list[str]:
    """Every callback data format the bot's buttons use, filled in with real ids.
    (Picking one's home from a group's join buttons is meant to work, and greets the
    resident by name there; forged, it names a node of another building, ``elsewhere``.)"""
    key = f"{report_id}:{version}"
    return [
        *(f"r:{a}:{key}" for a in ("ack", "res", "esc", "cat", "rea")),
        f"r:to:{key}:{node_id}", f"r:set:{key}:repair", f"r:rate:{report_id}:u",
        "rf:cat:repair", "rf:ok", "rf:draft", "rf:no",
        "cp:sup:1", "cp:mg:1", "cp:dc:1", "cp:mt:1:2", "cp:stop:1",
        "cf:go:1", "cf:may:1", "cf:no:1", "cd:done:1",
        "ev:r:1:g", "ev:s:1", "ev:rc:none", "ev:ok", "ev:no", "ev:ics:1", "ev:c:1", "ev:m:1",
        "ev:e:1:time", "ev:h:spring_festival:2027-02-06",
        "fm:v:1", "fm:r:1", "fm:x:1:1", f"jn:{elsewhere}", "ju:skip", f"rr:{user_id}:{node_id}",
        "lang:en", "hr:sk:repair", "hr:acc:1", "hr:ok:1", "hr:no:1", "hr:done:1",
        "vo:pause", "vo:resume", "vo:leave", "cv:in:1", "bc:x:1", "cc:in:1", "cc:ask:1",
        "cc:ok:1", "cc:no:1", "cc:inall:1:3", "cc:askall:1:3",
        f"rl:p:{node_id}:{user_id}", f"rl:y:{node_id}:{user_id}", "rl:n",
    ]


def _leaks(tg: FakeTelegram) -> list[tuple[int, str]]:
    return [(chat, secret) for chat, text in _to_groups(tg)
            for secret in (*REPORTER_NAMES, *UNITS, *TEXTS, *CARE) if secret in text]


async def test_no_reporter_name_unit_or_text_reaches_any_group(
        tg: FakeTelegram, linli: BotHarness) -> None:
    names = {GRID: "王", BUILDING: "李", COMPOUND: "赵", COMMUNITY: "孙", PROPERTY: "物业小刘",
             RESIDENT: "张阿姨", NEIGHBOUR: "钱大爷", ADMIN: "管理员"}
    # (the newcomer's name is not a secret: they /join in the group themselves, and the
    # group is greeted with it; what they wrote before joining is)
    names.update({NEWCOMER: "新来的孙大妈", STRANGER: "路人"})
    for uid, name in names.items():
        tg.add_user(uid, name, last_name="Zhang" if uid == RESIDENT else "Qian"
                    if uid == NEIGHBOUR else None)
    # more than 20 messages a minute into one group: the limit would only slow this down
    # (flood control has tests of its own)
    tg.group_per_minute = None
    linli.linli.notifier.groups.per_window = None
    tg.add_group(GROUP, "3号楼业主群", members=list(names))
    tg.add_group(QUIET, "4号楼业主群", members=list(names))
    await linli.import_org(ORG_WITH_QUIET)
    # the grid leader and the neighbour never open a private chat with the bot
    for uid in (BUILDING, COMPOUND, COMMUNITY, PROPERTY, RESIDENT, ADMIN):
        tg.user_sends(uid, uid, "/start")
    await _settle(linli)

    # reports in the group (from someone who can and someone who cannot be written to)
    tg.user_sends(RESIDENT, GROUP, "/report " + TEXTS[0])
    tg.user_sends(NEIGHBOUR, GROUP, "/report " + TEXTS[1])
    tg.user_sends(RESIDENT, RESIDENT, "/report " + TEXTS[2])
    tg.user_sends(RESIDENT, GROUP, photo=True, caption="/report " + TEXTS[3])
    # private commands typed in the group
    for command in ("/myreports", "/status 1", "/status 2", "/queue", "/report",
                    "/report " + TEXTS[4], "/help"):
        tg.user_sends(RESIDENT, GROUP, command)
    tg.user_sends(NEIGHBOUR, GROUP, "/status 2")
    tg.user_sends(BUILDING, GROUP, "/queue")
    tg.user_sends(BUILDING, GROUP, "/status 1")
    # the care list: kept in private, typed in the group too; visits fall due below
    tg.user_sends(BUILDING, BUILDING, f"/care_add {NEIGHBOUR} 独居老人 P1D 腿脚不便")
    tg.user_sends(BUILDING, BUILDING, f"/care_add {RESIDENT} 残疾人 P2D")
    tg.user_sends(BUILDING, GROUP, f"/care_add {RESIDENT} 低收入 P1D")
    tg.user_sends(BUILDING, GROUP, "/care")
    await care_agreed(tg, BUILDING, 1)  # the residents agreed in person: visits start
    await care_agreed(tg, BUILDING, 2)
    # a report written before registering, then /join in the group: its text stays private
    tg.user_sends(NEWCOMER, GROUP, "/report " + TEXTS[7])
    await _settle(linli)
    tg.user_sends(NEWCOMER, GROUP, "/join")
    pick = await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and bool(m.get("reply_markup"))
                             and "选择" in m["text"])
    tg.press_button(NEWCOMER, GROUP, pick["message_id"], _button(pick, "3号楼1单元"))
    await agree(tg, NEWCOMER, GROUP)  # the notice first: nothing stored before 同意
    offer = await tg.wait_for(lambda m: m["chat"]["id"] == GROUP and "登记前写的诉求" in m["text"])
    tg.press_button(NEWCOMER, GROUP, offer["message_id"], _button(offer, "提交"))
    await _settle(linli)
    assert await linli.linli.db.fetchval("SELECT count(*) FROM reports WHERE text = ?",
                                         (TEXTS[7],)) == 1
    assert await linli.linli.db.fetchval("SELECT count(*) FROM care_entries") == 2

    # deadlines run out: the unreachable grid leader is mentioned, reports climb
    for hours in (2, 4, 8, 24, 24):
        linli.clock.advance(timedelta(hours=hours, seconds=1))
        await linli.linli.scheduler.sweep()
        await _settle(linli)
    # the morning after (quiet hours over), the community handles the private report
    linli.clock.advance(timedelta(hours=9))
    linli.linli.notifier.kick()
    await _settle(linli)
    number = await linli.linli.db.fetchval("SELECT id FROM reports WHERE text = ?", (TEXTS[2],))
    prompt = _prompt(tg, COMMUNITY, number)
    tg.press_button(COMMUNITY, COMMUNITY, prompt["message_id"], _button(prompt, "受理"))
    await _settle(linli)
    card = tg.message(COMMUNITY, prompt["message_id"])
    tg.press_button(COMMUNITY, COMMUNITY, prompt["message_id"], _button(card, "办结"))
    await tg.wait_for(lambda m: m["chat"]["id"] == COMMUNITY and "办结说明" in m.get("text", ""))
    tg.user_sends(COMMUNITY, COMMUNITY, "已联系施工方，" + TEXTS[2] + "已停止")
    rate = await tg.wait_for(lambda m: m["chat"]["id"] == RESIDENT
                             and "已停止" in m.get("text", ""))
    tg.press_button(RESIDENT, RESIDENT, rate["message_id"], _button(rate, "不满意"))
    await _settle(linli)

    # a new report after the group became a supergroup
    new_id = GROUP - 1_000_000_000_000
    tg.migrate_group(GROUP, new_id, by_user_id=ADMIN)
    tg.user_sends(NEIGHBOUR, new_id, "/report " + TEXTS[5])
    tg.user_sends(NEIGHBOUR, new_id, "/report " + TEXTS[6])
    await _settle(linli)
    # voice reports: one said in the group and filed with /report in reply, one in private
    said = tg.user_sends(RESIDENT, new_id, voice=14)
    tg.user_sends(RESIDENT, new_id, "/report", reply_to_message_id=said["message"]["message_id"])
    for spoken in ({"voice": None}, {"video_note": 6}):
        if spoken.get("video_note"):
            tg.user_sends(RESIDENT, RESIDENT, video_note=6)
        await _settle(linli)
        offer = [m for m in tg.sent(RESIDENT) if "要作为诉求提交吗" in (m.get("text") or "")][-1]
        tg.press_button(RESIDENT, RESIDENT, offer["message_id"], _button(offer, "提交"))
    await _settle(linli)
    linli.clock.advance(timedelta(hours=2, seconds=1))
    await linli.linli.scheduler.sweep()
    await _settle(linli)

    # forged presses of every button format on group messages, by the reporter, a leader
    # and a stranger: nothing personal may be drawn into the group by any of them
    first = await linli.linli.report_repo.get(1)
    grid = await linli.linli.org_repo.node_by_key("b3-u1")
    other = await linli.linli.org_repo.node_by_key("b4")
    targets = [(GROUP, tg.sent(GROUP)[0]["message_id"]), (GROUP, offer["message_id"]),
               (new_id, tg.sent(new_id)[-1]["message_id"])]
    queries = [tg.press_button(who, chat, message_id, data)
               for chat, message_id in targets for who in (RESIDENT, BUILDING, STRANGER)
               for data in _forged_data(first.id, first.version, grid.id, RESIDENT, other.id)]
    await linli.settle(60)
    assert all(tg.answers_to(q) is not None for q in queries)
    assert len(tg.edits()) > 0  # edits were made (in private chats) and are all recorded

    # the scenario happened: reports filed, climbed, groups were written to
    filed = await linli.linli.db.fetchval("SELECT max(id) FROM reports")
    reports = [await linli.linli.report_repo.get(n) for n in range(1, filed + 1)]
    assert filed >= 9
    assert all(r is not None for r in reports), reports
    voices = {r.voice_file_id for r in reports if r.voice_file_id}
    assert len(voices) == 2, [(r.id, r.text, r.voice_kind) for r in reports]
    # the voices went to the handling chain (as voices), never to a group
    to_leaders = [c for c in tg.calls if c.method in ("sendVoice", "sendVideoNote")]
    assert {c.params["voice" if c.method == "sendVoice" else "video_note"]
            for c in to_leaders} == voices
    assert [c for c in tg.calls if c.method in ("sendVoice", "sendVideoNote", "copyMessage",
                                                "forwardMessage", "sendAudio", "sendDocument")
            and int(c.params.get("chat_id", 0)) < 0
            and any(v in str(c.params) for v in voices)] == []
    assert not any("语音" in text or "视频留言" in text for _, text in _to_groups(tg))
    # care visits fell due for the unreachable grid leader and climbed
    assert await linli.linli.db.fetchval(
        "SELECT count(*) FROM care_visits WHERE escalations > 0") == 2
    said = _to_groups(tg)
    assert len(said) >= 10, said
    assert {chat for chat, _ in said} >= {GROUP, new_id}
    assert any(f"tg://user?id={GRID}" in text for _, text in said), said
    assert _leaks(tg) == []
