"""Privacy: over a whole scenario, nothing personal reaches a group chat.

Residents report in the group and in private, some never opened a private chat with
the bot, a leader is unreachable, reports climb to the community, get rated and
reopened, people type private commands in the group, and the group is upgraded to a
supergroup; a leader keeps a care list (and types care commands in the group) while
the visits fall due for an unreachable grid leader. Every message the bot sent into
any group is then read: no reporter's name, unit number, report text or care-list
entry may appear in any of them.
"""

from __future__ import annotations

from datetime import timedelta

from sandbox.fakegram import FakeTelegram
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
REPORTER_NAMES = ("张阿姨", "钱大爷", "Zhang", "Qian")
UNITS = ("1-502", "2-301")
CARE = ("腿脚不便", "独居老人", "残疾人", "低收入")  # care notes and kinds: leaders only
TEXTS = ("楼道堆满杂物", "电梯按钮失灵", "邻居深夜装修", "楼下积水严重", "独居老人家里漏水",
         "垃圾桶满了", "路灯坏了")
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


def _to_groups(tg: FakeTelegram) -> list[tuple[int, str]]:
    """Everything the bot asked Telegram to show in a group: sends and edits alike."""
    said = []
    for call in tg.calls:
        chat = call.params.get("chat_id")
        if not call.method.startswith(("send", "edit")) or not isinstance(chat, int) or chat >= 0:
            continue
        parts = [call.params.get(k) for k in ("text", "caption", "question", "options")]
        said.append((chat, " ".join(str(p) for p in parts if p)))
    return said


def _leaks(tg: FakeTelegram) -> list[tuple[int, str]]:
    return [(chat, secret) for chat, text in _to_groups(tg)
            for secret in (*REPORTER_NAMES, *UNITS, *TEXTS, *CARE) if secret in text]


async def test_no_reporter_name_unit_or_text_reaches_any_group(
        tg: FakeTelegram, linli: BotHarness) -> None:
    names = {GRID: "王", BUILDING: "李", COMPOUND: "赵", COMMUNITY: "孙", PROPERTY: "物业小刘",
             RESIDENT: "张阿姨", NEIGHBOUR: "钱大爷", ADMIN: "管理员"}
    for uid, name in names.items():
        tg.add_user(uid, name, last_name="Zhang" if uid == RESIDENT else "Qian"
                    if uid == NEIGHBOUR else None)
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
    await _settle(linli)
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
    linli.clock.advance(timedelta(hours=2, seconds=1))
    await linli.linli.scheduler.sweep()
    await _settle(linli)

    # the scenario happened: reports filed, climbed, groups were written to
    reports = [await linli.linli.report_repo.get(n) for n in range(1, 7)]
    assert all(r is not None for r in reports), reports
    # care visits fell due for the unreachable grid leader and climbed
    assert await linli.linli.db.fetchval(
        "SELECT count(*) FROM care_visits WHERE escalations > 0") == 2
    said = _to_groups(tg)
    assert len(said) >= 10, said
    assert {chat for chat, _ in said} >= {GROUP, new_id}
    assert any(f"tg://user?id={GRID}" in text for _, text in said), said
    assert _leaks(tg) == []
