"""Every refusal in the user's language: one from each feature, to English speakers.

The error handler gets a fresh context from python-telegram-bot; the language settled
for the update must reach it too, whether it came from Telegram (language_code "en")
or from /lang en.
"""

from __future__ import annotations

import re

from sandbox.fakegram import FakeTelegram
from tests.harness import BotHarness
from tests.orgs import harmony, harmony_leaders, resident

ANN, BOB = 3005, 3006  # Ann's Telegram is in English; Bob's in Chinese, he chose /lang en
ORG = (harmony() + harmony_leaders(1001, 1002, 1003, 1004)
       + resident(ANN, "b3-u1", "1-502") + resident(BOB, "b3-u1", "1-503"))
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")

# one refusal from each feature, as a resident would draw it
REFUSALS = {
    "reports": "/status abc",
    "consultation": "/propose",
    "events": "/event",
    "最美家庭": "/nominate",
    "broadcasts": "/broadcast",
    "volunteers": "/volunteer juggling",
    "care": "/care",
    "stats": "/stats",
    "invites": "/invite",
}


async def test_each_feature_refuses_in_english(tg: FakeTelegram, linli: BotHarness) -> None:
    tg.add_user(ANN, "Ann", language_code="en")
    tg.add_user(BOB, "Bob", language_code="zh-hans")
    await linli.import_org(ORG)
    tg.user_sends(BOB, BOB, "/lang en")
    await tg.wait_for(lambda m: m["chat"]["id"] == BOB)
    for user in (ANN, BOB):
        for feature, command in REFUSALS.items():
            before = len(tg.sent(user))
            tg.user_sends(user, user, command)
            answer = await tg.wait_for(
                lambda m, user=user, before=before: m["chat"]["id"] == user
                and len(tg.sent(user)) > before)
            assert answer["text"].strip(), feature
            assert not CJK.search(answer["text"]), (user, feature, answer["text"])
    # a refused button press is answered in English too (a forged rating)
    start = await tg.wait_for(lambda m: m["chat"]["id"] == ANN)
    query = tg.press_button(ANN, ANN, start["message_id"], "r:rate:99:s")
    await linli.settle()
    answer = tg.answers_to(query)
    assert answer is not None and answer.get("text"), answer
    assert not CJK.search(answer["text"]), answer["text"]
