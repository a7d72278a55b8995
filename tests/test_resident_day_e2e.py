"""A whole day as a resident, in Chinese and in English, written out as a transcript.

陈阿姨 (72) and Ann live in 3号楼1单元. They open the bot, use the big buttons, report
a problem, follow it, rate it, ask for help, and mistype. The transcript (what they
send, what the bot answers, with the buttons) is written to DAY_TRANSCRIPT when set,
and checked here for what must hold: Chinese answers for 陈阿姨 carry no English words,
Ann's carry no Chinese, and every action is answered once.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from sandbox.fakegram import FakeTelegram
from tests.harness import BotHarness
from tests.orgs import harmony, harmony_leaders, resident

GRID, BUILDING, COMPOUND, COMMUNITY = 1001, 1002, 1003, 1004
CHEN, ANN = 3001, 3005
ORG = (harmony() + harmony_leaders(GRID, BUILDING, COMPOUND, COMMUNITY)
       + resident(CHEN, "b3-u1", "1-502") + resident(ANN, "b3-u1", "1-503"))
CJK = re.compile(r"[\u4e00-\u9fff]")


class Transcript:
    def __init__(self, tg: FakeTelegram, linli: BotHarness, user: int) -> None:
        self.tg, self.linli, self.user, self.lines = tg, linli, user, []
        self.seen = 0

    def _buttons(self, m: dict) -> str:
        markup = m.get("reply_markup") or {}
        rows = markup.get("inline_keyboard") or []
        shown = [b["text"] for row in rows for b in row]
        return f"   [{' | '.join(shown)}]" if shown else ""

    async def say(self, text: str) -> list[dict]:
        self.lines.append(f"> {text}")
        self.tg.user_sends(self.user, self.user, text)
        return await self._answers()

    async def press(self, message: dict, label: str) -> list[dict]:
        self.lines.append(f"> [按 {label}]")
        data = next(b["callback_data"] for row in message["reply_markup"]["inline_keyboard"]
                    for b in row if b["text"] == label)
        before = {c.params.get("message_id") for c in self.tg.calls
                  if c.method == "editMessageText"}
        self.tg.press_button(self.user, self.user, message["message_id"], data)
        answers = await self._answers()
        for call in self.tg.calls:
            if (call.method == "editMessageText" and call.params.get("chat_id") == self.user
                    and call.params.get("message_id") == message["message_id"]
                    and call.params.get("message_id") not in before):
                self.lines.append("  (改为) " + call.params["text"].replace("\n", "\n          "))
        return answers

    async def _answers(self) -> list[dict]:
        await self.linli.settle()
        new = self.tg.sent(self.user)[self.seen:]
        self.seen += len(new)
        for m in new:
            text = (m.get("text") or m.get("caption") or "").replace("\n", "\n    ")
            self.lines.append(f"< {text}{self._buttons(m)}")
        return new

    async def settle_others(self) -> None:
        await self.linli.settle()
        await self._answers()


def _write_out(chen: Transcript, ann: Transcript) -> None:
    """The transcript, for a person to read, when DAY_TRANSCRIPT names a file."""
    out = os.environ.get("DAY_TRANSCRIPT")
    if out:
        Path(out).write_text("## 陈阿姨\n" + "\n".join(chen.lines) + "\n\n## Ann\n"
                             + "\n".join(ann.lines) + "\n", encoding="utf-8")


def _plain(text: str) -> str:
    return re.sub(r"<[^>]+>|/[a-z_]+|#\d+", "", text)


async def _leader_resolves(tg: FakeTelegram, linli: BotHarness, number: int, note: str) -> None:
    prompt = [m for m in tg.sent(GRID) if f"诉求 #{number}" in (m.get("text") or "")
              and m.get("reply_markup")][-1]
    data = {b["text"]: b["callback_data"] for row in prompt["reply_markup"]["inline_keyboard"]
            for b in row}
    tg.press_button(GRID, GRID, prompt["message_id"], data["受理"])
    await linli.settle()
    card = tg.message(GRID, prompt["message_id"])
    data = {b["text"]: b["callback_data"] for row in card["reply_markup"]["inline_keyboard"]
            for b in row}
    tg.press_button(GRID, GRID, prompt["message_id"], data["办结"])
    await linli.settle()
    tg.user_sends(GRID, GRID, note)
    await linli.settle()


async def test_a_day_as_a_resident(tg: FakeTelegram, linli: BotHarness) -> None:
    tg.add_user(CHEN, "陈阿姨")
    tg.add_user(ANN, "Ann", language_code="en")
    for uid, name in ((GRID, "王"), (BUILDING, "李"), (COMPOUND, "赵"), (COMMUNITY, "孙")):
        tg.add_user(uid, name)
    await linli.import_org(ORG)
    for uid in (GRID, BUILDING, COMPOUND, COMMUNITY):
        tg.user_sends(uid, uid, "/start")
    await linli.settle()

    chen = Transcript(tg, linli, CHEN)
    await chen.say("/start")
    await chen.say("❓ 使用说明")
    ask = (await chen.say("📝 反映问题"))[-1]
    ask = tg.message(CHEN, ask["message_id"])
    await chen.press(ask, "设施维修")
    confirm = (await chen.say("楼道的灯坏了好几天了，晚上看不见路"))[-1]
    await chen.press(confirm, "提交")
    await chen.say("📋 我的诉求")
    await _leader_resolves(tg, linli, 1, "已经换了新灯泡")
    rate = (await chen._answers())[-1]
    await chen.press(rate, "满意")
    await chen.say("🎉 社区活动")
    pick = (await chen.say("🤝 我要求助"))[-1]
    await chen.press(pick, "陪伴")
    await chen.say("想找人陪我去医院复查")
    await chen.say("/status 一")
    await chen.say("/whoami")

    ann = Transcript(tg, linli, ANN)
    await ann.say("/start")
    await ann.say("❓ How to use")
    await ann.say("/report The lift makes a loud noise")
    await ann.say("📋 My reports")
    await ann.say("/stats")
    await ann.say("/status abc")

    _write_out(chen, ann)
    for m in tg.sent(CHEN):
        assert not re.search(r"[A-Za-z]{2,}", _plain(m.get("text") or "")), m["text"]
    for m in tg.sent(ANN):
        text = m.get("text") or ""
        assert not CJK.search(_plain(text).replace("The lift makes a loud noise", "")), text
    report = await linli.linli.report_repo.get(1)
    assert (report.state, report.rating) == ("closed", "satisfied")
